from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom.data
import pytest

from dca_monai import check_datalist as check_datalist_module
from dca_monai.check_datalist import DatalistError, check_datalist, main

REPO_ROOT = Path(__file__).resolve().parents[1]
SHAPE = (8, 9, 10)
AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])
DICOM_SERIES = (
    Path(pydicom.data.get_testdata_file("CT_small.dcm", download=False)).parent / "dicomdirtests" / "98892001" / "CT5N"
)


def write_nifti(path: Path, array: np.ndarray, affine: np.ndarray = AFFINE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), path)


def labels(values: tuple[float, ...] = (0, 1, 2), shape: tuple[int, ...] = SHAPE, dtype: Any = np.uint8) -> np.ndarray:
    """A label map of zeros whose first voxels hold ``values``."""
    array = np.zeros(shape, dtype=dtype)
    array.flat[: len(values)] = values
    return array


@pytest.fixture
def clean(tmp_path: Path) -> dict[str, Any]:
    """A datalist with 2 training, 1 validation and 1 unlabelled test case, all valid for 3 classes."""
    rng = np.random.default_rng(0)
    content: dict[str, Any] = {"training": [], "validation": [], "test": []}
    for section, count in (("training", 2), ("validation", 1)):
        for index in range(count):
            write_nifti(tmp_path / "images" / f"{section}_{index}.nii.gz", rng.random(SHAPE, dtype=np.float32))
            write_nifti(tmp_path / "labels" / f"{section}_{index}.nii.gz", labels())
            content[section].append(
                {"image": f"images/{section}_{index}.nii.gz", "label": f"labels/{section}_{index}.nii.gz"}
            )
    write_nifti(tmp_path / "images" / "test_0.nii.gz", rng.random(SHAPE, dtype=np.float32))
    content["test"].append({"image": "images/test_0.nii.gz"})
    return content


def save(folder: Path, content: dict[str, Any], name: str = "datalist.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(content))
    return path


def problems_of(datalist: Path | dict[str, Any], **kwargs: Any) -> list[str]:
    kwargs.setdefault("num_classes", 3)
    with pytest.raises(DatalistError) as error:
        check_datalist(datalist, **kwargs)
    return [str(problem) for problem in error.value.problems]


def test_clean_datalist_passes_with_a_summary_per_section(tmp_path: Path, clean: dict[str, Any]) -> None:
    summaries = check_datalist(save(tmp_path, clean), num_classes=3, sections=("training", "validation", "test"))
    assert [(summary.section, summary.num_entries) for summary in summaries] == [
        ("training", 2),
        ("validation", 1),
        ("test", 1),
    ]
    assert summaries[0].spatial_shapes == (SHAPE,) and summaries[0].channels == (1,)
    assert summaries[0].label_values == (0, 1, 2) and summaries[2].label_values == ()
    assert str(summaries[0]) == "training: 2 entries, spatial shapes 8x9x10, image channels 1, label values 0, 1, 2"


def test_missing_and_unreadable_files_name_entry_key_and_file(tmp_path: Path, clean: dict[str, Any]) -> None:
    clean["training"][1]["label"] = "labels/absent.nii.gz"
    (tmp_path / "images" / "broken.nii.gz").write_bytes(b"this is not a NIfTI file")
    clean["validation"][0]["image"] = "images/broken.nii.gz"
    problems = problems_of(save(tmp_path, clean))
    assert problems == [
        f"training[1].label ({tmp_path / 'labels' / 'absent.nii.gz'}): file not found",
        problems[1],
    ]
    assert problems[1].startswith(f"validation[0].image ({tmp_path / 'images' / 'broken.nii.gz'}): cannot be read (")


def test_every_problem_is_listed_in_one_error(tmp_path: Path, clean: dict[str, Any]) -> None:
    clean["training"][0]["image"] = "images/absent.nii.gz"
    clean["training"][1]["label"] = "labels/absent.nii.gz"
    del clean["validation"][0]["label"]
    with pytest.raises(DatalistError) as error:
        check_datalist(save(tmp_path, clean), num_classes=3)
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
    tmp_path: Path, clean: dict[str, Any], label_shape: tuple[int, ...], label_affine: np.ndarray, expected: str | None
) -> None:
    write_nifti(tmp_path / "labels" / "training_1.nii.gz", labels(shape=label_shape), label_affine)
    datalist = save(tmp_path, clean)
    if expected is None:
        check_datalist(datalist, num_classes=3)
        return
    problems = problems_of(datalist)
    assert len(problems) == 1
    assert problems[0].startswith(f"training[1].label ({tmp_path / 'labels' / 'training_1.nii.gz'}): ")
    assert re.search(expected, problems[0])


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
    tmp_path: Path, clean: dict[str, Any], array: np.ndarray, expected: str | None
) -> None:
    write_nifti(tmp_path / "labels" / "validation_0.nii.gz", array)
    datalist = save(tmp_path, clean)
    if expected is None:
        check_datalist(datalist, num_classes=3)
        return
    problems = problems_of(datalist)
    assert len(problems) == 1
    assert problems[0].startswith(f"validation[0].label ({tmp_path / 'labels' / 'validation_0.nii.gz'}): {expected}")


@pytest.mark.parametrize(
    "training, expected",
    [
        (None, "training: section is missing; expected a non-empty list of entries"),
        ([], "training: section is empty; expected at least one entry"),
        ({"image": "x"}, "training: section is a JSON dict; expected a list of entries"),
    ],
)
def test_training_section_must_hold_entries(
    tmp_path: Path, clean: dict[str, Any], training: Any, expected: str
) -> None:
    if training is None:
        del clean["training"]
    else:
        clean["training"] = training
    assert problems_of(save(tmp_path, clean)) == [expected]


def test_requested_section_must_exist_but_test_labels_are_optional(tmp_path: Path, clean: dict[str, Any]) -> None:
    del clean["validation"]
    assert problems_of(save(tmp_path, clean)) == ["validation: section is missing; expected a list of entries"]
    check_datalist(save(tmp_path, clean), num_classes=3, sections=["training", "test"])


def test_image_channels_must_match_in_channels(tmp_path: Path, clean: dict[str, Any]) -> None:
    write_nifti(tmp_path / "images" / "training_0.nii.gz", np.zeros((*SHAPE, 2), np.float32))
    datalist = save(tmp_path, clean)
    problems = problems_of(datalist)
    assert problems == [
        f"training[0].image ({tmp_path / 'images' / 'training_0.nii.gz'}): image has 2 channel(s) but in_channels=1 "
        "(a 3D volume has 1, a 4D NIfTI the size of its last axis, a list of files the sum)"
    ]
    # with two channels every other (3D) image is now the wrong one
    problems = problems_of(datalist, in_channels=2)
    assert [problem.split(" ")[0] for problem in problems] == ["training[1].image", "validation[0].image"]


def test_list_of_files_is_stacked_as_channels(tmp_path: Path, clean: dict[str, Any]) -> None:
    for entry in clean["training"]:
        entry["image"] = ["images/training_0.nii.gz", "images/training_1.nii.gz"]
    summaries = check_datalist(save(tmp_path, clean), num_classes=3, in_channels=2, sections=["training"])
    assert summaries[0].channels == (2,)
    write_nifti(tmp_path / "images" / "training_1.nii.gz", np.zeros((8, 9, 12), np.float32))
    problems = problems_of(save(tmp_path, clean), in_channels=2, sections=["training"])
    assert problems[0].startswith(f"training[0].image[1] ({tmp_path / 'images' / 'training_1.nii.gz'}): spatial shape")


def test_data_dir_overrides_the_datalist_folder_and_each_file_is_read_once(
    tmp_path: Path, clean: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean["validation"] = [clean["training"][0]]
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    read = []
    original = check_datalist_module._read_volume

    def counting(path: Path, num_classes: int | None, **kwargs: Any) -> Any:
        read.append(path.name)
        return original(path, num_classes, **kwargs)

    monkeypatch.setattr(check_datalist_module, "_read_volume", counting)
    check_datalist(save(elsewhere, clean), tmp_path, num_classes=3)
    assert sorted(read) == ["training_0.nii.gz", "training_0.nii.gz", "training_1.nii.gz", "training_1.nii.gz"]
    assert problems_of(save(elsewhere, clean))[0].startswith("training[0].image (")


def test_invalid_json_and_arguments(tmp_path: Path) -> None:
    bad = tmp_path / "datalist.json"
    bad.write_text("{not json")
    assert problems_of(bad)[0].startswith(f"datalist ({bad}): cannot be read as JSON")
    assert problems_of(tmp_path / "absent.json") == [
        f"datalist ({tmp_path / 'absent.json'}): file not found; expected a JSON datalist"
    ]
    with pytest.raises(ValueError, match="num_classes=0 but an int >= 1"):
        check_datalist(bad, num_classes=0)
    with pytest.raises(ValueError, match="data_dir=None but a folder is required"):
        check_datalist({"training": []}, num_classes=2)


def copy_files(sources: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for index, source in enumerate(sources):
        shutil.copy(source, folder / f"{index:03d}_{source.name}")
    return folder


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


def run_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dca_monai.check_datalist", *arguments],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )


def test_command_exits_0_with_one_summary_per_section(tmp_path: Path, clean: dict[str, Any]) -> None:
    result = run_command("--datalist", str(save(tmp_path, clean)), "--num-classes", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "training: 2 entries, spatial shapes 8x9x10, image channels 1, label values 0, 1, 2",
        "validation: 1 entries, spatial shapes 8x9x10, image channels 1, label values 0, 1, 2",
    ]


def test_command_exits_2_with_the_problems(tmp_path: Path, clean: dict[str, Any]) -> None:
    result = run_command("--datalist", str(save(tmp_path, clean)), "--num-classes", "2", "--sections", "training")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "has 2 problem(s)" in result.stderr
    assert "training[0].label" in result.stderr and "training[1].label" in result.stderr
    assert "label holds values 2; expected integers in [0, 2) (num_classes=2)" in result.stderr


def test_main_reports_invalid_arguments_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--datalist", str(tmp_path / "d.json"), "--num-classes", "0"])
    assert exit_info.value.code == 2
    assert "num_classes=0 but an int >= 1" in capsys.readouterr().err


EXPECTED_3D = "expected a 3-D volume (X, Y, Z), or a 4-D one whose last axis holds the channels"


@pytest.mark.parametrize(
    ("key", "shape", "problem"),
    [
        ("image", (8, 9), f"image has 2 spatial dimension(s) (shape 8x9); {EXPECTED_3D}"),
        ("image", (8, 9, 1), f"image is a single slice (spatial shape 8x9x1); {EXPECTED_3D} with at least 2 voxels"),
        ("label", (8, 9), f"label has 2 spatial dimension(s) (shape 8x9); {EXPECTED_3D}"),
    ],
)
def test_images_and_labels_must_be_3d_volumes(
    tmp_path: Path, clean: dict[str, Any], key: str, shape: tuple[int, ...], problem: str
) -> None:
    path = tmp_path / f"{key}s" / "training_0.nii.gz"
    write_nifti(path, np.ones(shape, np.uint8) if key == "label" else np.random.default_rng(0).random(shape))
    problems = problems_of(save(tmp_path, clean))
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
    tmp_path: Path, clean: dict[str, Any], values: np.ndarray, problem: str
) -> None:
    path = tmp_path / "images" / "test_0.nii.gz"
    write_nifti(path, values)
    datalist = save(tmp_path, clean)
    check_datalist(datalist, num_classes=3, sections=["training", "test"])  # voxels are only read on request
    problems = problems_of(datalist, sections=["training", "test"], check_values=True)
    assert len(problems) == 1
    assert problems[0].startswith(f"test[0].image ({path}): {problem}")


def test_check_values_passes_real_scans(tmp_path: Path, clean: dict[str, Any]) -> None:
    check_datalist(save(tmp_path, clean), num_classes=3, sections=["training", "test"], check_values=True)


HOOKED_FAILURE = """
import sys
from dca_monai.check_datalist import DatalistError, DatalistProblem, show_datalist_errors_first
show_datalist_errors_first()
show_datalist_errors_first()  # idempotent
try:
    if sys.argv[1] == "datalist":
        raise DatalistError("<mapping>", [DatalistProblem("test", 0, "image", "/data/a.nii.gz", "image is constant")])
    raise KeyError("other")
except Exception as error:
    raise RuntimeError("Failed to evaluate a long config expression") from error
"""


@pytest.mark.parametrize(("failure", "traceback_variable"), [("datalist", ""), ("datalist", "1"), ("other", "")])
def test_show_datalist_errors_first_prints_the_problems_alone(failure: str, traceback_variable: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", HOOKED_FAILURE, failure],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DCA_MONAI_TRACEBACK": traceback_variable},
        cwd=REPO_ROOT,
    )
    assert completed.returncode == 1
    problem = "DatalistError: datalist <mapping> has 1 problem(s):\n  - test[0].image (/data/a.nii.gz): "
    if failure == "datalist" and not traceback_variable:
        assert completed.stderr.startswith(problem + "image is constant\n")
        assert "Traceback" not in completed.stderr
    else:
        assert completed.stderr.startswith("Traceback")
        assert "RuntimeError: Failed to evaluate" in completed.stderr
