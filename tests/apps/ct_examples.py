"""Shared, built-once test inputs from TotalSegmentator's example files (fetched by ``scripts/setup_env.sh``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset

_BUILT: dict[str, Path] = {}


def ct_organ_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a small embedded CT dataset (2 training, 1 validation case), built once per session."""
    if "dataset" not in _BUILT:
        folder = tmp_path_factory.mktemp("ct_organ_dataset")
        build_ct_organ_dataset(folder, num_train=2, num_val=1, seed=0)
        _BUILT["dataset"] = folder
    return _BUILT["dataset"]


def copy_series(source: Path, target: Path) -> Path:
    """A copy of the DICOM series folder ``source`` at ``target``, to modify."""
    shutil.copytree(source, target)
    return target


def labels_at_instance_pixels(label: np.ndarray, affine: np.ndarray, header: pydicom.Dataset) -> np.ndarray:
    """The label map sampled at every pixel centre of one DICOM instance ``(rows, columns)``, from world coordinates.

    Each pixel's LPS position (Image Position, Orientation, Pixel Spacing) is turned into RAS and
    into a voxel index of ``label`` with the inverse ``affine``; every index must be an integer.
    """
    rows, columns = int(header.Rows), int(header.Columns)
    row_dir, column_dir = np.reshape(np.asarray(header.ImageOrientationPatient, dtype=np.float64), (2, 3))
    row_spacing, column_spacing = (float(v) for v in header.PixelSpacing)
    r, c = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    lps = (
        np.asarray(header.ImagePositionPatient, dtype=np.float64)
        + c[..., None] * column_spacing * row_dir
        + r[..., None] * row_spacing * column_dir
    )
    ras = lps * np.array([-1.0, -1.0, 1.0])
    voxel = (np.c_[ras.reshape(-1, 3), np.ones(rows * columns)] @ np.linalg.inv(affine).T)[:, :3]
    index = np.rint(voxel).astype(np.int64)
    assert np.abs(voxel - index).max() < 1e-3, "instance pixels are not on the label's voxel centres"
    return label[index[:, 0], index[:, 1], index[:, 2]].reshape(rows, columns)
