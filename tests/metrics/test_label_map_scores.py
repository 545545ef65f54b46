from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dca_monai.metrics import score_label_maps


def save(path: Path, labels: np.ndarray, spacing: float = 2.0) -> Path:
    nib.save(nib.Nifti1Image(labels.astype(np.uint8), np.diag([spacing, spacing, spacing, 1.0])), path)
    return path


def test_dice_and_hd95_in_mm_per_class(tmp_path: Path) -> None:
    reference = np.zeros((10, 10, 10), np.uint8)
    reference[2:6, 2:6, 2:6] = 1
    reference[8, 8, 8] = 2
    prediction = reference.copy()
    prediction[2:6, 2:6, 6] = 1  # one extra layer of class 1: 16 voxels, 1 voxel (2 mm) away
    prediction[8, 8, 8] = 0  # class 2 missed
    scores = score_label_maps(save(tmp_path / "p.nii.gz", prediction), save(tmp_path / "r.nii.gz", reference), 3)
    assert scores.dice[0] == pytest.approx(2 * 64 / (80 + 64))
    assert scores.hd95[0] == pytest.approx(2.0)
    assert scores.dice[1] == 0.0
    assert not math.isfinite(scores.hd95[1])  # nan or inf: no predicted voxel to measure from


def test_other_grid_or_class_is_refused(tmp_path: Path) -> None:
    labels = np.zeros((4, 4, 4), np.uint8)
    reference = save(tmp_path / "r.nii.gz", labels)
    with pytest.raises(ValueError, match=r"has shape .* but the grid of"):
        score_label_maps(save(tmp_path / "p.nii.gz", labels, spacing=3.0), reference, 2)
    labels[0, 0, 0] = 5
    with pytest.raises(ValueError, match=r"holds classes 0\.\.5 but 0\.\.1 were expected"):
        score_label_maps(save(tmp_path / "q.nii.gz", labels), reference, 2)
