from __future__ import annotations

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.data import MetaTensor

from dca_monai.apps.ct_organs import CT_ORGANS
from dca_monai.apps.totalsegmentator_examples import example_path
from dca_monai.data.dicom_series import DicomSeriesError, read_dicom_series
from dca_monai.transforms import DicomSegWriteError, SaveDicomSegd, segment_code, write_dicom_seg
from tests.apps.ct_examples import copy_series, ct_organ_dataset, labels_at_instance_pixels

ORGANS = [organ.name for organ in CT_ORGANS]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ct_organ_dataset(tmp_path_factory)


def assert_seg_equals_label(seg_path: Path, series_dir: Path, label_path: Path) -> None:
    """Read the SEG back, put each frame on its source instance and compare with the label NIfTI there."""
    seg = hd.seg.segread(seg_path)
    series = read_dicom_series(series_dir)
    label = nib.load(label_path)
    classes = np.asanyarray(label.dataobj)
    uids = [header.SOPInstanceUID for header in series.headers]
    frames = seg.get_pixels_by_source_instance(uids, combine_segments=True)
    assert frames.shape == (20, 512, 512)
    for header, frame in zip(series.headers, frames):
        np.testing.assert_array_equal(frame, labels_at_instance_pixels(classes, label.affine, header))


def test_round_trip_of_the_test_label(dataset: Path, tmp_path: Path) -> None:
    series_dir, label_path = dataset / "dicom" / "test_000", dataset / "labels" / "test_000.nii.gz"
    label = nib.load(label_path)
    path = write_dicom_seg(np.asanyarray(label.dataobj), label.affine, series_dir, tmp_path / "seg.dcm", ORGANS)
    assert [p.name for p in tmp_path.iterdir()] == ["seg.dcm"]  # no temporary file left
    assert_seg_equals_label(path, series_dir, label_path)

    seg, source = pydicom.dcmread(path), read_dicom_series(series_dir).headers
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == source[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == source[0].FrameOfReferenceUID
    assert seg.SeriesInstanceUID != source[0].SeriesInstanceUID
    (referenced,) = seg.ReferencedSeriesSequence
    assert referenced.SeriesInstanceUID == source[0].SeriesInstanceUID
    assert {item.ReferencedSOPInstanceUID for item in referenced.ReferencedInstanceSequence} == {
        header.SOPInstanceUID for header in source
    }
    segments = [
        (s.SegmentNumber, s.SegmentLabel, s.SegmentedPropertyTypeCodeSequence[0].CodeValue) for s in seg.SegmentSequence
    ]
    assert segments == [
        (1, "Liver", "10200004"),
        (2, "Spleen", "78961009"),
        (3, "Stomach", "69695003"),
        (4, "Aorta", "15825003"),
        (5, "Inferior vena cava", "64131007"),
    ]
    assert {s.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning for s in seg.SegmentSequence} == {
        "Anatomical Structure"
    }


def test_label_in_another_orientation_lands_on_the_same_pixels(dataset: Path, tmp_path: Path) -> None:
    """A label stored RAS-flipped and axis-permuted (as after a resampled pipeline) still maps to the right pixels."""
    series_dir, label_path = dataset / "dicom" / "test_000", dataset / "labels" / "test_000.nii.gz"
    label = nib.load(label_path)
    array = np.asanyarray(label.dataobj)[::-1].transpose(2, 0, 1)  # (Z, X flipped, Y)
    flip = np.eye(4)
    flip[0, 0], flip[0, 3] = -1, array.shape[1] - 1
    affine = label.affine @ flip @ np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
    path = write_dicom_seg(array, affine, series_dir, tmp_path / "seg.dcm", ORGANS)
    assert_seg_equals_label(path, series_dir, label_path)


def test_bad_labels_write_nothing(dataset: Path, tmp_path: Path) -> None:
    series_dir = dataset / "dicom" / "test_000"
    label = nib.load(dataset / "labels" / "test_000.nii.gz")
    array = np.asanyarray(label.dataobj)
    with pytest.raises(ValueError, match=r"label holds values in \[0, 5\] but segment_names has 2 names"):
        write_dicom_seg(array, label.affine, series_dir, tmp_path / "seg.dcm", ORGANS[:2])
    shifted = label.affine.copy()
    shifted[2, 3] += 1.0  # half a slice
    with pytest.raises(ValueError, match=f"label does not lie on the grid of the series {series_dir}"):
        write_dicom_seg(array, shifted, series_dir, tmp_path / "seg.dcm", ORGANS)
    broken = copy_series(series_dir, tmp_path / "broken")
    sorted(broken.iterdir())[10].unlink()
    with pytest.raises(DicomSeriesError, match=f"{broken}: missing slice"):
        write_dicom_seg(array, label.affine, broken, tmp_path / "seg.dcm", ORGANS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


def test_transform_writes_for_series_folders_only(dataset: Path, tmp_path: Path) -> None:
    label = nib.load(dataset / "labels" / "test_000.nii.gz")
    affine = torch.as_tensor(label.affine)
    tensor = torch.as_tensor(np.asanyarray(label.dataobj)[None].astype(np.float32))
    series_pred = MetaTensor(tensor, affine=affine, meta={"filename_or_obj": str(dataset / "dicom" / "test_000")})
    nifti_pred = MetaTensor(tensor, affine=affine, meta={"filename_or_obj": str(dataset / "images" / "val_000.nii.gz")})
    save = SaveDicomSegd("pred", tmp_path / "out", segment_names=ORGANS)

    out = save({"pred": nifti_pred})
    assert out["pred"] is nifti_pred and not (tmp_path / "out").exists()
    save({"pred": series_pred})
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["test_000_seg.dcm"]
    assert_seg_equals_label(tmp_path / "out" / "test_000_seg.dcm", dataset / "dicom" / "test_000", label.get_filename())
    assert pydicom.dcmread(tmp_path / "out" / "test_000_seg.dcm").SoftwareVersions == "0.1.0"
    with pytest.raises(ValueError, match="segment_names='liver' but a non-empty list"):
        SaveDicomSegd("pred", tmp_path, segment_names="liver")


def test_series_as_it_ships_is_refused_before_highdicom(tmp_path: Path) -> None:
    """Its empty UIDs made highdicom fail with ``KeyError: ''``; the writer now names them and writes nothing."""
    shipped = example_path("dicom_series")
    series = read_dicom_series(shipped, decode=False)
    label = np.zeros(series.shape, np.int64)
    with pytest.raises(DicomSeriesError, match=f"^{shipped}: StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, "):
        write_dicom_seg(label, series.affine, shipped, tmp_path / "seg.dcm", ["liver"])
    assert list(tmp_path.iterdir()) == []


def series_prediction(folder: Path, label: np.ndarray, affine: np.ndarray, saved_to: Path) -> MetaTensor:
    """A label ``(1, X, Y, Z)`` as after Invertd, AsDiscreted and a NIfTI writer that recorded ``saved_to``."""
    meta = {"filename_or_obj": str(folder), "saved_to": str(saved_to)}
    return MetaTensor(torch.as_tensor(label[None].astype(np.float32)), affine=torch.as_tensor(affine), meta=meta)


def test_transform_failure_names_the_seg_the_cause_and_the_kept_label_map(tmp_path: Path) -> None:
    shipped = example_path("dicom_series")
    series = read_dicom_series(shipped, decode=False)
    pred = series_prediction(shipped, np.zeros(series.shape), series.affine, tmp_path / "out" / "x_seg.nii.gz")
    seg = tmp_path / "out" / f"{shipped.name}_seg.dcm"
    with pytest.raises(DicomSegWriteError) as error:
        SaveDicomSegd("pred", tmp_path / "out", segment_names=["liver"])({"pred": pred})
    assert str(error.value).startswith(
        f"pred: DICOM SEG {seg} of the series {shipped} not written (DicomSeriesError: {shipped}: StudyInstanceUID, "
    )
    assert str(error.value).endswith(f"; the label map {tmp_path / 'out' / 'x_seg.nii.gz'} written before it is kept")
    assert isinstance(error.value.__cause__, DicomSeriesError)
    assert list((tmp_path / "out").iterdir()) == []


def test_transform_failing_to_write_leaves_no_partial_seg(dataset: Path, tmp_path: Path) -> None:
    """The SEG is complete when the rename fails (a folder holds its name): no file, no temporary, a clear error."""
    label = nib.load(dataset / "labels" / "test_000.nii.gz")
    pred = series_prediction(dataset / "dicom" / "test_000", np.asanyarray(label.dataobj), label.affine, tmp_path)
    (tmp_path / "out" / "test_000_seg.dcm").mkdir(parents=True)
    with pytest.raises(DicomSegWriteError, match=r"test_000_seg.dcm of the series .* not written \(IsADirectoryError"):
        SaveDicomSegd("pred", tmp_path / "out", segment_names=ORGANS)({"pred": pred})
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["test_000_seg.dcm"]
    assert list((tmp_path / "out" / "test_000_seg.dcm").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("liver", ("Liver", "10200004", "Liver")),
        ("Inferior vena cava", ("Inferior vena cava", "64131007", "Inferior vena cava")),
        ("class 1", ("class 1", "85756007", "Tissue")),
    ],
)
def test_segment_code(name: str, expected: tuple[str, str, str]) -> None:
    assert segment_code(name) == expected
