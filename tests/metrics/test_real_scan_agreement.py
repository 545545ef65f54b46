from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dca_monai.metrics import intensity_tissue_classes, real_scan_agreement
from dca_monai.metrics.real_scan_agreement import load_real_scan_agreement, main
from tests.metrics.test_intensity_tissue_classes import three_tissues


def test_a_segmentation_equal_to_the_references_scores_one() -> None:
    image, mask, _ = three_tissues()
    reference = intensity_tissue_classes(image, mask)
    scores = real_scan_agreement(reference, image)
    assert scores.brain_dice == 1.0 and scores.outside_fraction == 0.0
    assert scores.tissue_dice == (1.0, 1.0, 1.0)
    assert "brain Dice 1.000" in str(scores) and "white matter 1.000" in str(scores)


def test_labels_outside_the_mask_and_swapped_tissues_are_counted() -> None:
    image, mask, _ = three_tissues()
    reference = intensity_tissue_classes(image, mask)
    prediction = reference.copy()
    outside = ~mask
    outside[:, :, 10:] = False  # part of the background labelled as grey matter
    prediction[outside] = 2
    prediction[reference == 3] = 2  # white matter called grey matter
    scores = real_scan_agreement(prediction, image)
    labelled = np.count_nonzero(mask) + np.count_nonzero(outside)
    assert scores.outside_fraction == pytest.approx(np.count_nonzero(outside) / labelled)
    assert scores.brain_dice == pytest.approx(2 * np.count_nonzero(mask) / (labelled + np.count_nonzero(mask)))
    assert scores.tissue_dice[0] == 1.0 and scores.tissue_dice[2] == 0.0
    assert 0.0 < scores.tissue_dice[1] < 1.0


def test_bad_inputs_name_shapes_and_values() -> None:
    image, _, _ = three_tissues((10, 10, 10))
    with pytest.raises(ValueError, match=r"prediction has shape \(10, 10\) but the image's \(10, 10, 10\)"):
        real_scan_agreement(np.zeros((10, 10), np.uint8), image)
    with pytest.raises(ValueError, match=r"expected labels in \[0, 3\]"):
        real_scan_agreement(np.full(image.shape, 4, np.uint8), image)
    with pytest.raises(ValueError, match="the brain mask is empty"):
        real_scan_agreement(np.zeros(image.shape, np.uint8), np.zeros_like(image))


def test_files_on_one_grid_and_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, mask, _ = three_tissues()
    nib.save(nib.Nifti1Image(image, np.eye(4)), tmp_path / "t1.nii.gz")
    nib.save(nib.Nifti1Image(intensity_tissue_classes(image, mask), np.eye(4)), tmp_path / "seg.nii.gz")
    assert load_real_scan_agreement(tmp_path / "seg.nii.gz", tmp_path / "t1.nii.gz").brain_dice == 1.0
    assert main(["--prediction", str(tmp_path / "seg.nii.gz"), "--image", str(tmp_path / "t1.nii.gz")]) == 0
    assert capsys.readouterr().out.startswith("brain Dice 1.000, labelled outside the mask 0.00%")

    nib.save(nib.Nifti1Image(image, np.diag([2.0, 2.0, 2.0, 1.0])), tmp_path / "other.nii.gz")
    assert main(["--prediction", str(tmp_path / "seg.nii.gz"), "--image", str(tmp_path / "other.nii.gz")]) == 2
    assert f"{tmp_path / 'seg.nii.gz'} has shape" in capsys.readouterr().err
