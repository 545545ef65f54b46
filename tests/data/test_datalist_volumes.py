"""Reading one datalist file (:mod:`dca_monai.data.datalist_volumes`): DICOM folders as MONAI's ITKReader sees them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path
from dca_monai.data.datalist_checks import check_datalist
from dca_monai.data.dicom_series import read_dicom_series
from tests.apps.ct_examples import copy_series
from tests.data.datalist_files import DICOM_SERIES, SHAPE, copy_files, labels, problems_of, save, write_nifti


def test_dicom_folders_need_exactly_one_series(tmp_path: Path) -> None:
    testdata = Path(pydicom.data.get_testdata_file("CT_small.dcm", download=False))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no DICOM here")
    two = copy_files([testdata, Path(pydicom.data.get_testdata_file("MR_small.dcm", download=False))], tmp_path / "two")
    one = copy_files(sorted(DICOM_SERIES.iterdir()), tmp_path / "one")

    # the label takes the series' geometry as MONAI's default reader (ITK) loads it
    from monai.transforms import LoadImage

    series = LoadImage(image_only=True)(str(one))
    assert tuple(series.shape) == (16, 16, 5)
    write_nifti(tmp_path / "label_one.nii.gz", labels(shape=(16, 16, 5)), np.asarray(series.affine))
    write_nifti(tmp_path / "label_flipped.nii.gz", labels(shape=(16, 16, 5)), np.diag([0.49, 0.49, 2.5, 1.0]))
    write_nifti(tmp_path / "label_small.nii.gz", labels(shape=SHAPE))
    content = {
        "training": [
            {"image": "one", "label": "label_one.nii.gz"},
            {"image": "empty", "label": "label_small.nii.gz"},
            {"image": "two", "label": "label_small.nii.gz"},
            {"image": "one", "label": "label_flipped.nii.gz"},
        ]
    }
    problems = problems_of(save(tmp_path, content), sections=["training"])
    assert len(problems) == 3
    assert problems[0] == (
        f"training[1].image ({empty}): folder holds no DICOM series (only files directly in the folder are read); "
        "expected one series"
    )
    assert problems[1].startswith(f"training[2].image ({two}): folder holds 2 DICOM series: ")
    assert problems[1].endswith("(1 file); expected exactly one series per folder")
    assert problems[2].startswith(f"training[3].label ({tmp_path / 'label_flipped.nii.gz'}): label affine ")

    content["training"] = content["training"][:1]
    assert check_datalist(save(tmp_path, content), num_classes=3, sections=["training"])[0].spatial_shapes == (
        (16, 16, 5),
    )


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TotalSegmentator example CT series (20 slices) with its empty (anonymised) UIDs filled."""
    return copy_series_with_uids(example_path("dicom_series"), tmp_path_factory.mktemp("series") / "test_000")


def test_one_series_uid_that_the_reader_splits_is_refused(ct_series: Path, tmp_path: Path) -> None:
    folder = copy_series(ct_series, tmp_path / "series")
    for file in sorted(folder.iterdir())[:5]:  # a thicker reconstruction filed under the same series
        dataset = pydicom.dcmread(file)
        dataset.SliceThickness = "5.0"
        dataset.save_as(file)
    uid = str(pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True).SeriesInstanceUID)
    read_dicom_series(folder)  # one SeriesInstanceUID, evenly spaced: a UID count sees one series
    write_nifti(tmp_path / "label.nii.gz", labels(shape=(512, 512, 20)))
    datalist = save(tmp_path, {"training": [{"image": "series", "label": "label.nii.gz"}]})

    problems = problems_of(datalist, num_classes=3, sections=["training"])

    assert problems == [
        f"training[0].image ({folder}): folder holds 2 DICOM series (series told apart by SeriesInstanceUID, "
        f"SeriesNumber, SequenceName, SliceThickness, Rows, Columns, SeriesDate, as ITK does): "
        f"{uid} with SliceThickness=3 (15 files), {uid} with SliceThickness=5.0 (5 files); "
        f"MONAI's ITKReader would ignore all but {uid} with SliceThickness=3 (15 files); "
        "expected exactly one series per folder"
    ]
