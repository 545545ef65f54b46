"""The datalist check (:mod:`dca_monai.data.datalist_checks`): every problem of every entry, in one error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dca_monai.apps.totalsegmentator_examples import example_path
from dca_monai.data import datalist_volumes
from dca_monai.data.datalist_checks import DatalistError, check_datalist
from tests.data.datalist_files import AFFINE, SHAPE, labels, only_problem, problems_of, save, write_nifti

EXPECTED_3D = "expected a 3-D volume (X, Y, Z), or a 4-D one whose last axis holds the channels"


def test_clean_datalist_passes_with_a_summary_per_section(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    summaries = check_datalist(
        save(tmp_path, clean_datalist), num_classes=3, sections=("training", "validation", "test")
    )
    assert [(summary.section, summary.num_entries) for summary in summaries] == [
        ("training", 2),
        ("validation", 1),
        ("test", 1),
    ]
    assert summaries[0].spatial_shapes == (SHAPE,) and summaries[0].channels == (1,)
    assert summaries[0].label_values == (0, 1, 2) and summaries[2].label_values == ()
    assert str(summaries[0]) == "training: 2 entries, spatial shapes 8x9x10, image channels 1, label values 0, 1, 2"


def test_missing_and_unreadable_files_name_entry_key_and_file(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    clean_datalist["training"][1]["label"] = "labels/absent.nii.gz"
    (tmp_path / "images" / "broken.nii.gz").write_bytes(b"this is not a NIfTI file")
    clean_datalist["validation"][0]["image"] = "images/broken.nii.gz"
    problems = problems_of(save(tmp_path, clean_datalist))
    assert problems == [
        f"training[1].label ({tmp_path / 'labels' / 'absent.nii.gz'}): file not found",
        problems[1],
    ]
    assert problems[1].startswith(f"validation[0].image ({tmp_path / 'images' / 'broken.nii.gz'}): cannot be read (")


def test_every_problem_is_listed_in_one_error(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    clean_datalist["training"][0]["image"] = "images/absent.nii.gz"
    clean_datalist["training"][1]["label"] = "labels/absent.nii.gz"
    del clean_datalist["validation"][0]["label"]
    with pytest.raises(DatalistError) as error:
        check_datalist(save(tmp_path, clean_datalist), num_classes=3)
    assert isinstance(error.value, ValueError)
    assert [problem.where for problem in error.value.problems] == [
        "training[0].image",
        "training[1].label",
        "validation[0].label",
    ]
    assert "has 3 problem(s)" in str(error.value)
    assert "validation[0].label: key missing; expected the label path under 'label'" in str(error.value)


@pytest.mark.parametrize(
    "label_shape, label_affine, expected",
    [
        ((8, 9, 11), AFFINE, r"label spatial shape 8x9x11 but the image's 8x9x10 was expected"),
        (
            SHAPE,
            np.diag([2.0, 2.0, 3.002, 1.0]),
            r"differs from the image affine .* by up to 0.002; expected at most 0.001",
        ),
        (SHAPE, np.diag([2.0, 2.0, 3.0005, 1.0]), None),
    ],
)
def test_image_and_label_geometry_must_match(
    tmp_path: Path,
    clean_datalist: dict[str, Any],
    label_shape: tuple[int, ...],
    label_affine: np.ndarray,
    expected: str | None,
) -> None:
    write_nifti(tmp_path / "labels" / "training_1.nii.gz", labels(shape=label_shape), label_affine)
    problem = only_problem(save(tmp_path, clean_datalist), expected is not None)
    if expected is not None:
        assert problem.startswith(f"training[1].label ({tmp_path / 'labels' / 'training_1.nii.gz'}): ")
        assert re.search(expected, problem)


@pytest.mark.parametrize(
    "array, expected",
    [
        (labels((0, 1, 3)), "label holds values 3; expected integers in [0, 3) (num_classes=3)"),
        (labels((0, -1, 7, 9), dtype=np.int16), "label holds values -1, 7, 9; expected integers in [0, 3)"),
        (labels((0.5, 1.0, 2.25), dtype=np.float32), "label holds non-integer values 0.5, 2.25;"),
        (np.full(SHAPE, np.nan, np.float32), "label holds NaN or infinite values"),
        (labels((0, 1, 2), dtype=np.float32), None),
    ],
)
def test_label_values_must_be_integers_below_num_classes(
    tmp_path: Path, clean_datalist: dict[str, Any], array: np.ndarray, expected: str | None
) -> None:
    write_nifti(tmp_path / "labels" / "validation_0.nii.gz", array)
    problem = only_problem(save(tmp_path, clean_datalist), expected is not None)
    if expected is not None:
        assert problem.startswith(f"validation[0].label ({tmp_path / 'labels' / 'validation_0.nii.gz'}): {expected}")


def test_image_channels_must_match_in_channels(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    write_nifti(tmp_path / "images" / "training_0.nii.gz", np.zeros((*SHAPE, 2), np.float32))
    datalist = save(tmp_path, clean_datalist)
    problems = problems_of(datalist)
    assert problems == [
        f"training[0].image ({tmp_path / 'images' / 'training_0.nii.gz'}): image has 2 channel(s) but in_channels=1 "
        "(a 3D volume has 1, a 4D NIfTI the size of its last axis, a list of files the sum)"
    ]
    # with two channels every other (3D) image is now the wrong one
    problems = problems_of(datalist, in_channels=2)
    assert [problem.split(" ")[0] for problem in problems] == ["training[1].image", "validation[0].image"]


def test_list_of_files_is_stacked_as_channels(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    for entry in clean_datalist["training"]:
        entry["image"] = ["images/training_0.nii.gz", "images/training_1.nii.gz"]
    summaries = check_datalist(save(tmp_path, clean_datalist), num_classes=3, in_channels=2, sections=["training"])
    assert summaries[0].channels == (2,)
    write_nifti(tmp_path / "images" / "training_1.nii.gz", np.zeros((8, 9, 12), np.float32))
    problems = problems_of(save(tmp_path, clean_datalist), in_channels=2, sections=["training"])
    assert problems[0].startswith(f"training[0].image[1] ({tmp_path / 'images' / 'training_1.nii.gz'}): spatial shape")


def test_data_dir_overrides_the_datalist_folder_and_each_file_is_read_once(
    tmp_path: Path, clean_datalist: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_datalist["validation"] = [clean_datalist["training"][0]]
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    read = []
    original = datalist_volumes.read_volume

    def counting(path: Path, num_classes: int | None, **kwargs: Any) -> Any:
        read.append(path.name)
        return original(path, num_classes, **kwargs)

    monkeypatch.setattr(datalist_volumes, "read_volume", counting)
    check_datalist(save(elsewhere, clean_datalist), tmp_path, num_classes=3)
    assert sorted(read) == ["training_0.nii.gz", "training_0.nii.gz", "training_1.nii.gz", "training_1.nii.gz"]
    assert problems_of(save(elsewhere, clean_datalist))[0].startswith("training[0].image (")


@pytest.mark.parametrize(
    ("key", "shape", "problem"),
    [
        ("image", (8, 9), f"image has 2 spatial dimension(s) (shape 8x9); {EXPECTED_3D}"),
        ("image", (8, 9, 1), f"image is a single slice (spatial shape 8x9x1); {EXPECTED_3D} with at least 2 voxels"),
        ("label", (8, 9), f"label has 2 spatial dimension(s) (shape 8x9); {EXPECTED_3D}"),
    ],
)
def test_images_and_labels_must_be_3d_volumes(
    tmp_path: Path, clean_datalist: dict[str, Any], key: str, shape: tuple[int, ...], problem: str
) -> None:
    path = tmp_path / f"{key}s" / "training_0.nii.gz"
    write_nifti(path, np.ones(shape, np.uint8) if key == "label" else np.random.default_rng(0).random(shape))
    problems = problems_of(save(tmp_path, clean_datalist))
    assert len(problems) == 1
    assert problems[0].startswith(f"training[0].{key} ({path}): {problem}")


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (np.full(SHAPE, np.nan, np.float32), "image holds 720 NaN and 0 infinite value(s) among 720 voxels"),
        (labels((np.inf, -np.inf), dtype=np.float32), "image holds 0 NaN and 2 infinite value(s) among 720 voxels"),
        (np.zeros(SHAPE, np.int16), "image is constant (every voxel 0); expected a scan with varying intensities"),
        (np.full(SHAPE, 7.5, np.float32), "image is constant (every voxel 7.5)"),
    ],
)
def test_check_values_refuses_nan_infinite_and_constant_images(
    tmp_path: Path, clean_datalist: dict[str, Any], values: np.ndarray, problem: str
) -> None:
    path = tmp_path / "images" / "test_0.nii.gz"
    write_nifti(path, values)
    datalist = save(tmp_path, clean_datalist)
    check_datalist(datalist, num_classes=3, sections=["training", "test"])  # voxels are only read on request
    problems = problems_of(datalist, sections=["training", "test"], check_values=True)
    assert len(problems) == 1
    assert problems[0].startswith(f"test[0].image ({path}): {problem}")


def test_check_values_passes_real_scans(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    check_datalist(save(tmp_path, clean_datalist), num_classes=3, sections=["training", "test"], check_values=True)


def test_dicom_seg_refuses_the_example_series_as_it_ships_with_the_way_out() -> None:
    """The anonymised series reads as a volume, but a DICOM SEG cannot reference it: say so, and how to skip it."""
    series = example_path("dicom_series")
    datalist = {"test": [{"image": str(series)}]}
    sections = ["test"]
    check_datalist(datalist, series.parent, num_classes=2, sections=sections)  # fine without a SEG

    with pytest.raises(DatalistError) as error:
        check_datalist(
            datalist, series.parent, num_classes=2, sections=sections, dicom_seg=True, dicom_seg_off="--seg False"
        )
    assert [str(problem) for problem in error.value.problems] == [
        f"test[0].image ({series}): StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID empty or "
        "absent in all 20 files; a DICOM SEG cannot reference a series without them (anonymisers may empty them); "
        "expected StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID, FrameOfReferenceUID in every "
        "instance; to write the label map without a DICOM SEG: --seg False"
    ]
    with pytest.raises(TypeError, match="dicom_seg='false' but True or False was expected"):
        check_datalist(datalist, series.parent, num_classes=2, sections=sections, dicom_seg="false")
