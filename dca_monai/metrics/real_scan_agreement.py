"""How a brain tissue segmentation of a real, unlabelled, skull-stripped T1 scan agrees with the scan itself.

A real scan has no manual labels, but it has two references a segmentation must agree with:

- its brain mask (``image > 0`` for a skull-stripped scan): the labelled voxels (any class but
  background) should fill the mask and stay inside it: Dice of the two, and the share of labelled
  voxels outside the mask;
- its intensities: a classical 3-class Gaussian mixture inside the mask
  (:func:`~dca_monai.metrics.intensity_tissue_classes`) gives CSF, grey and white matter as FSL
  FAST's first step would; Dice per class against it.

Command line (prints one line of figures; exit status 2 on bad input)::

    python -m dca_monai.metrics.real_scan_agreement --prediction seg.nii.gz --image t1_brain.nii.gz
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from dca_monai.metrics.intensity_tissue_classes import intensity_tissue_classes

__all__ = ["RealScanAgreement", "load_real_scan_agreement", "main", "real_scan_agreement"]

_TISSUES = ("CSF", "grey matter", "white matter")


@dataclass(frozen=True)
class RealScanAgreement:
    """Agreement of a segmentation with its scan's brain mask and intensity classes.

    Attributes:
        brain_dice: Dice of the labelled voxels (label > 0) and the brain mask.
        outside_fraction: share of the labelled voxels that lie outside the mask, in ``[0, 1]``.
        tissue_dice: Dice of each class ``1..K`` with the intensity reference's class of the same rank.
        tissue_names: names of the classes ``1..K``.
    """

    brain_dice: float
    outside_fraction: float
    tissue_dice: tuple[float, ...]
    tissue_names: tuple[str, ...] = _TISSUES

    def __str__(self) -> str:
        tissues = ", ".join(f"{name} {dice:.3f}" for name, dice in zip(self.tissue_names, self.tissue_dice))
        return (
            f"brain Dice {self.brain_dice:.3f}, labelled outside the mask {self.outside_fraction:.2%}, "
            f"Dice with the intensity classes: {tissues}"
        )


def real_scan_agreement(
    prediction: np.ndarray, image: np.ndarray, mask: np.ndarray | None = None, num_tissues: int = 3
) -> RealScanAgreement:
    """Score ``prediction`` against the brain mask and the intensity classes of ``image``.

    Args:
        prediction: label map of shape ``S``: 0 background, ``1..num_tissues`` the tissues from
            darkest to brightest in T1 (CSF, grey matter, white matter).
        image: the skull-stripped T1 intensities, shape ``S``.
        mask: brain mask of shape ``S``; ``image > 0`` when ``None``.
        num_tissues: number of tissue classes.

    Returns:
        The figures as a :class:`RealScanAgreement`.

    Raises:
        ValueError: when shapes differ, the mask is empty or a prediction value is outside
            ``[0, num_tissues]``.
    """
    prediction, image = np.asarray(prediction), np.asarray(image)
    mask = image > 0 if mask is None else np.asarray(mask, dtype=bool)
    for name, array in (("prediction", prediction), ("mask", mask)):
        if array.shape != image.shape:
            raise ValueError(f"{name} has shape {array.shape} but the image's {image.shape} was expected")
    if not mask.any():
        raise ValueError("the brain mask is empty; expected a skull-stripped scan with the brain above 0")
    if prediction.size and (prediction.min() < 0 or prediction.max() > num_tissues):
        raise ValueError(
            f"prediction holds values in [{prediction.min()}, {prediction.max()}]; "
            f"expected labels in [0, {num_tissues}]"
        )
    labelled = prediction > 0
    brain_dice = _dice(labelled, mask)
    outside = float(np.count_nonzero(labelled & ~mask) / max(np.count_nonzero(labelled), 1))
    reference = intensity_tissue_classes(image, mask, num_classes=num_tissues)
    tissue_dice = tuple(_dice(prediction == k, reference == k) for k in range(1, num_tissues + 1))
    names = _TISSUES if num_tissues == len(_TISSUES) else tuple(f"class {k}" for k in range(1, num_tissues + 1))
    return RealScanAgreement(brain_dice, outside, tissue_dice, names)


def load_real_scan_agreement(
    prediction_path: str | os.PathLike, image_path: str | os.PathLike, num_tissues: int = 3
) -> RealScanAgreement:
    """:func:`real_scan_agreement` of two NIfTI files on one grid (a label map and its skull-stripped scan).

    Raises:
        ValueError: naming both files when their shapes or affines differ, else as :func:`real_scan_agreement`.
    """
    predicted, scanned = nib.load(prediction_path), nib.load(image_path)
    if predicted.shape != scanned.shape or not np.allclose(predicted.affine, scanned.affine, atol=1e-3):
        raise ValueError(
            f"{prediction_path} has shape {predicted.shape} and affine {np.round(predicted.affine, 3).tolist()} but "
            f"the grid of {image_path}, {scanned.shape} and {np.round(scanned.affine, 3).tolist()}, was expected"
        )
    return real_scan_agreement(
        np.asanyarray(predicted.dataobj), np.asanyarray(scanned.dataobj, dtype=np.float32), num_tissues=num_tissues
    )


def _dice(first: np.ndarray, second: np.ndarray) -> float:
    total = np.count_nonzero(first) + np.count_nonzero(second)
    return 1.0 if total == 0 else float(2.0 * np.count_nonzero(first & second) / total)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the agreement of a label NIfTI with its skull-stripped scan."""
    parser = argparse.ArgumentParser(
        prog="python -m dca_monai.metrics.real_scan_agreement",
        description="Agreement of a brain tissue segmentation with its scan's mask and intensity classes.",
    )
    parser.add_argument("--prediction", required=True, help="label NIfTI: 0 background, 1 CSF, 2 GM, 3 WM")
    parser.add_argument("--image", required=True, help="the skull-stripped T1 NIfTI it segments (same grid)")
    args = parser.parse_args(argv)
    try:
        print(load_real_scan_agreement(args.prediction, args.image))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
