"""DICOM series split as MONAI's ITKReader splits a folder (:mod:`dca_monai.data.dicom_series_itk`).

The folders are copies of the TotalSegmentator example CT series (20 slices, one SeriesInstanceUID)
with a tag changed in 5 files: ITK's GDCM series helper, as ITKReader sets it up, then sees two
series although a count of SeriesInstanceUIDs sees one, and ITKReader reads only the first.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from monai.transforms import LoadImage

from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path
from dca_monai.data.dicom_series_itk import ITK_SERIES_TAGS, itk_dicom_series
from tests.apps.ct_examples import copy_series

# a value unlike the example series' own for each tag that splits a series (SeriesInstanceUID: a new UID)
OTHER_VALUE = {
    "SeriesInstanceUID": pydicom.uid.generate_uid(),
    "SeriesNumber": 7,
    "SequenceName": "scout",
    "SliceThickness": "5.0",
    "Rows": 256,
    "Columns": 256,
    "SeriesDate": "20200101",
}


@pytest.fixture(scope="module")
def series_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example series with its empty (anonymised) UIDs filled, as in the CT dataset."""
    return copy_series_with_uids(example_path("dicom_series"), tmp_path_factory.mktemp("series") / "test_000")


def change_five(folder: Path, tag: str) -> list[Path]:
    """Set ``tag`` to :data:`OTHER_VALUE` in the first 5 files by name; return them."""
    changed = sorted(folder.iterdir())[:5]
    for file in changed:
        dataset = pydicom.dcmread(file)
        setattr(dataset, tag, OTHER_VALUE[tag])
        dataset.save_as(file)
    return changed


def series_uids(folder: Path) -> set[str]:
    return {str(pydicom.dcmread(file, stop_before_pixels=True).SeriesInstanceUID) for file in folder.iterdir()}


def test_one_series_with_its_tags_and_files(series_dir: Path, tmp_path: Path) -> None:
    folder = copy_series(series_dir, tmp_path / "series")
    (folder / "notes.txt").write_text("not DICOM")
    (folder / "sub").mkdir()
    (folder / "sub" / "extra.dcm").write_bytes(next(series_dir.iterdir()).read_bytes())
    series = itk_dicom_series(folder)
    assert len(series) == 1
    assert sorted(series[0].files) == sorted(file for file in folder.iterdir() if file.suffix == ".dcm")
    assert len(series[0].files) == 20
    header = pydicom.dcmread(series[0].files[0], stop_before_pixels=True)
    assert series[0].tags["SeriesInstanceUID"] == series[0].series_uid == str(header.SeriesInstanceUID)
    assert series[0].tags["Rows"] == "512" and series[0].tags["SliceThickness"] == str(header.SliceThickness)
    assert series[0].identifier.startswith(str(header.SeriesInstanceUID))


def test_a_folder_without_dicom_has_no_series(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not DICOM")
    assert itk_dicom_series(tmp_path) == []


@pytest.mark.parametrize("tag", ITK_SERIES_TAGS)
def test_each_series_tag_splits_the_folder_as_the_reader_does(series_dir: Path, tmp_path: Path, tag: str) -> None:
    folder = copy_series(series_dir, tmp_path / "series")
    changed = change_five(folder, tag)
    series = itk_dicom_series(folder)
    assert sorted(len(one.files) for one in series) == [5, 15]
    assert {file for one in series if len(one.files) == 5 for file in one.files} == set(changed)
    assert len(series_uids(folder)) == (2 if tag == "SeriesInstanceUID" else 1)
    if tag in ("SliceThickness", "SeriesDate"):
        # MONAI's ITKReader reads the first series only, with a mere warning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = LoadImage(image_only=True)(str(folder))
        assert image.shape[-1] == len(series[0].files)
        assert any("more than one DICOM series" in str(warning.message) for warning in caught)
