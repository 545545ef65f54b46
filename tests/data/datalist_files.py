"""Shared inputs of the datalist check tests: NIfTI writers, a clean datalist, the problems of a failed check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom.data
import pytest

from dca_monai.data.datalist_checks import DatalistError, check_datalist

SHAPE = (8, 9, 10)
AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])
# a real 5-slice CT series shipped with pydicom's test files
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


def write_clean_datalist(folder: Path) -> dict[str, Any]:
    """Files of 2 training, 1 validation and 1 unlabelled test case in ``folder``, all valid for 3 classes.

    Returns:
        The datalist content, paths relative to ``folder``.
    """
    rng = np.random.default_rng(0)
    content: dict[str, Any] = {"training": [], "validation": [], "test": []}
    for section, count in (("training", 2), ("validation", 1)):
        for index in range(count):
            write_nifti(folder / "images" / f"{section}_{index}.nii.gz", rng.random(SHAPE, dtype=np.float32))
            write_nifti(folder / "labels" / f"{section}_{index}.nii.gz", labels())
            content[section].append(
                {"image": f"images/{section}_{index}.nii.gz", "label": f"labels/{section}_{index}.nii.gz"}
            )
    write_nifti(folder / "images" / "test_0.nii.gz", rng.random(SHAPE, dtype=np.float32))
    content["test"].append({"image": "images/test_0.nii.gz"})
    return content


def save(folder: Path, content: dict[str, Any], name: str = "datalist.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(content))
    return path


def problems_of(datalist: Path | dict[str, Any], *args: Any, **kwargs: Any) -> list[str]:
    """The problems, as printed, of a check that must fail."""
    kwargs.setdefault("num_classes", 3)
    with pytest.raises(DatalistError) as error:
        check_datalist(datalist, *args, **kwargs)
    return [str(problem) for problem in error.value.problems]


def only_problem(datalist: Path | dict[str, Any], fails: bool) -> str:
    """The single problem of a check that must fail, or ``""`` after a check that must pass (``num_classes=3``)."""
    if not fails:
        check_datalist(datalist, num_classes=3)
        return ""
    problems = problems_of(datalist)
    assert len(problems) == 1, problems
    return problems[0]


def copy_files(sources: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for index, source in enumerate(sources):
        shutil.copy(source, folder / f"{index:03d}_{source.name}")
    return folder
