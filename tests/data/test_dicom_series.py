from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from monai.transforms import LoadImage
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML, generate_uid

from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path
from dca_monai.data.datalist_checks import DatalistError, check_datalist
from dca_monai.data.dicom_series import DicomSeriesError, read_dicom_series, seg_reference_problem
from tests.apps.ct_examples import copy_series


@pytest.fixture(scope="module")
def series_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example series with its empty (anonymised) Study, Series and SOP Instance UIDs filled, as in the dataset."""
    return copy_series_with_uids(example_path("dicom_series"), tmp_path_factory.mktemp("series") / "test_000")


def by_height(folder: Path) -> list[Path]:
    """The files of ``folder`` from the lowest slice to the highest (this series' normal is +z)."""
    return sorted(
        folder.iterdir(), key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
    )


def edit(file: Path, change: Callable[[pydicom.Dataset], None], target: Path | None = None) -> None:
    dataset = pydicom.dcmread(file)
    change(dataset)
    dataset.save_as(target or file)


def test_grid_is_the_one_monai_reads(series_dir: Path) -> None:
    series = read_dicom_series(series_dir)
    image = LoadImage(image_only=True)(str(series_dir))
    assert series.shape == tuple(image.shape) == (512, 512, 20)
    np.testing.assert_allclose(series.affine, image.affine.numpy(), atol=1e-6)
    heights = [float(header.ImagePositionPatient[2]) for header in series.headers]
    assert heights == sorted(heights) and heights[1] - heights[0] == pytest.approx(2.0)
    # slice k of MONAI's volume is the k-th instance in the series' order
    last = pydicom.dcmread(series.files[-1])
    hounsfield = last.pixel_array * float(last.RescaleSlope) + float(last.RescaleIntercept)
    np.testing.assert_array_equal(np.asarray(image[:, :, -1]).T, hounsfield)


def two_series(folder: Path) -> str:
    uid = generate_uid()
    first = pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True).SeriesInstanceUID
    for file in sorted(folder.iterdir())[:5]:
        edit(file, lambda d: setattr(d, "SeriesInstanceUID", uid))
    listed = sorted([f"{uid} (5 files)", f"{first} (15 files)"])
    return f"holds 2 DICOM series: {', '.join(listed)}; expected exactly one series per folder"


def missing_slice(folder: Path) -> str:
    files = by_height(folder)
    files[8].unlink()
    return f"missing slice(s): 1 missing between {files[7].name} and {files[9].name}: they are 4.000 mm apart"


def duplicated_slice(folder: Path) -> str:
    files = by_height(folder)
    edit(files[3], lambda d: setattr(d, "SOPInstanceUID", generate_uid()), folder / "copy.dcm")
    return f"duplicated slice: {files[3].name} and copy.dcm are both at"


def uneven_spacing(folder: Path) -> str:
    files = by_height(folder)
    edit(files[0], lambda d: setattr(d, "ImagePositionPatient", [*d.ImagePositionPatient[:2], -805.2]))
    return f"uneven slice spacing between {files[0].name} and {files[1].name}: they are 2.700 mm apart"


def undecodable_syntax(folder: Path) -> str:
    for file in folder.iterdir():
        edit(file, lambda d: setattr(d.file_meta, "TransferSyntaxUID", MPEG2MPML))
    return f"20 file(s), e.g. {by_height(folder)[0].name}, have pixel data in transfer syntax"


def corrupt_pixels(folder: Path) -> str:
    for file in folder.iterdir():
        edit(file, lambda d: setattr(d, "PixelData", encapsulate([bytes(64)])))
    return f"the pixel data of {by_height(folder)[0].name} cannot be decoded"


def no_dicom(folder: Path) -> str:
    for file in folder.iterdir():
        file.unlink()
    (folder / "notes.txt").write_text("not DICOM")
    return "holds no DICOM files"


PROBLEMS = {
    "two series": two_series,
    "missing slice": missing_slice,
    "duplicated slice": duplicated_slice,
    "uneven spacing": uneven_spacing,
    "undecodable transfer syntax": undecodable_syntax,
    "corrupt pixel data": corrupt_pixels,
    "no DICOM": no_dicom,
}


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_bad_series_fails_with_the_folder_and_the_expectation(series_dir: Path, tmp_path: Path, problem: str) -> None:
    folder = copy_series(series_dir, tmp_path / "series")
    expected = PROBLEMS[problem](folder)
    with pytest.raises(DicomSeriesError) as error:
        read_dicom_series(folder)
    message = str(error.value)
    assert message.startswith(f"{folder}: ")
    assert expected in message
    assert "; expected " in message


def test_undecodable_message_names_the_syntax(series_dir: Path, tmp_path: Path) -> None:
    folder = copy_series(series_dir, tmp_path / "series")
    undecodable_syntax(folder)
    with pytest.raises(DicomSeriesError, match=r"MPEG2 Main Profile / Main Level\).*pydicom has no decoder for it"):
        read_dicom_series(folder)


def test_datalist_check_reports_a_bad_series_under_its_entry(series_dir: Path, tmp_path: Path) -> None:
    folder = copy_series(series_dir, tmp_path / "series")
    expected = missing_slice(folder)
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": [{"image": "series", "label": "series"}]}))
    with pytest.raises(DatalistError) as error:
        check_datalist(datalist, num_classes=2, sections=["training"])
    assert f"training[0].image ({folder}): {expected}" in str(error.value)


def test_seg_cannot_reference_the_series_as_it_ships() -> None:
    """TotalSegmentator's example series ships anonymised: its identifying UIDs are empty in every file."""
    shipped = read_dicom_series(example_path("dicom_series"), decode=False)
    assert seg_reference_problem(shipped) == (
        "StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID empty or absent in all 20 files; "
        "a DICOM SEG cannot reference a series without them (anonymisers may empty them); expected "
        "StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID, FrameOfReferenceUID in every instance"
    )


def one_empty_sop_instance(folder: Path) -> str:
    file = by_height(folder)[5]
    edit(file, lambda d: setattr(d, "SOPInstanceUID", ""))
    return f"SOPInstanceUID empty or absent in 1 of 20 files (e.g. {file.name}); a DICOM SEG cannot reference"


def no_frame_of_reference(folder: Path) -> str:
    for file in folder.iterdir():
        edit(file, lambda d: delattr(d, "FrameOfReferenceUID"))
    return "FrameOfReferenceUID empty or absent in all 20 files; a DICOM SEG cannot reference"


def shared_sop_instance(folder: Path) -> str:
    first, second = by_height(folder)[2:4]
    uid = pydicom.dcmread(first, stop_before_pixels=True).SOPInstanceUID
    edit(second, lambda d: setattr(d, "SOPInstanceUID", uid))
    return f"{first.name} and {second.name} share SOPInstanceUID {uid}; a DICOM SEG cannot tell their slices apart"


@pytest.mark.parametrize("damage", [one_empty_sop_instance, no_frame_of_reference, shared_sop_instance])
def test_seg_reference_problems_name_the_attribute_and_the_files(
    series_dir: Path, tmp_path: Path, damage: Callable[[Path], str]
) -> None:
    assert seg_reference_problem(read_dicom_series(series_dir, decode=False)) is None
    folder = copy_series(series_dir, tmp_path / "series")
    expected = damage(folder)
    problem = seg_reference_problem(read_dicom_series(folder, decode=False))
    assert problem is not None and problem.startswith(expected)
    assert "; expected " in problem
