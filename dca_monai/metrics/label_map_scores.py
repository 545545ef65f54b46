"""Dice and 95th percentile Hausdorff distance (mm) per class of a label-map file against a reference file."""

from __future__ import annotations

import os
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance

__all__ = ["LabelMapScores", "score_label_maps"]


@dataclass(frozen=True)
class LabelMapScores:
    """Scores per foreground class ``1 .. num_classes - 1`` (index 0 is class 1).

    Attributes:
        dice: Dice per class (``nan`` when the class is in neither map).
        hd95: 95th percentile symmetric Hausdorff distance in mm per class (``nan`` or ``inf`` when
            a map lacks the class, as MONAI returns it).
    """

    dice: tuple[float, ...]
    hd95: tuple[float, ...]


def score_label_maps(prediction: str | os.PathLike, reference: str | os.PathLike, num_classes: int) -> LabelMapScores:
    """Score a predicted label NIfTI against a reference on the same grid, distances in the grid's mm.

    Args:
        prediction: label map of integer classes ``0 .. num_classes - 1``.
        reference: label map on the same grid (shape and affine).
        num_classes: classes including background.

    Raises:
        ValueError: when the grids differ or a map holds a class outside ``0 .. num_classes - 1``.
    """
    predicted, expected = nib.load(prediction), nib.load(reference)
    if predicted.shape != expected.shape or not np.allclose(predicted.affine, expected.affine, atol=1e-3):
        raise ValueError(
            f"{prediction} has shape {predicted.shape} and affine {predicted.affine.tolist()} but the grid of "
            f"{reference} ({expected.shape}, {expected.affine.tolist()}) was expected"
        )

    def one_hot(image: nib.Nifti1Image, path: str | os.PathLike) -> torch.Tensor:
        labels = torch.as_tensor(np.asanyarray(image.dataobj).astype(np.int64))
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(
                f"{path} holds classes {int(labels.min())}..{int(labels.max())} but 0..{num_classes - 1} were expected"
            )
        return torch.nn.functional.one_hot(labels, num_classes).movedim(-1, 0)[None].float()

    y_pred, y = one_hot(predicted, prediction), one_hot(expected, reference)
    spacing = [float(s) for s in expected.header.get_zooms()[:3]]
    dice = compute_dice(y_pred, y, include_background=False)[0]
    hd95 = compute_hausdorff_distance(y_pred, y, include_background=False, percentile=95, spacing=spacing)[0]
    return LabelMapScores(tuple(dice.tolist()), tuple(hd95.tolist()))
