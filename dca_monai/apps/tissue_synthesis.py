"""Per-case label and intensity randomisation of the brain demo dataset, so labels follow anatomy.

A template brain alone teaches a network one scan's intensities and one brain mask: nilearn's
MNI152 mask keeps only a 2-3 mm rim of CSF around the brain, and averaging 152 brains blurs the
sulci into grey matter. Real skull-stripped scans keep more CSF: wider sulci and a brain mask
(BET, SynthStrip) that holds the extra-cerebral CSF. Two steps per case fix the training data:

- :func:`extend_csf`: the CSF class grows into a shell outside the template's mask (a random
  margin in mm, the extra-cerebral CSF) and takes the darker grey-matter voxels (a random
  threshold between the CSF and grey-matter intensities, the sulcal CSF);
- :func:`synthetic_tissue_image`: an image drawn from the labels alone, in the manner of SynthSeg
  (Billot et al., Medical Image Analysis 2023): a random mean and spread per class (T1 order kept,
  CSF < grey < white matter, with random gaps), then a random blur for partial volumes and
  resolution; or, for the template's own intensities, :func:`fill_csf_shell` paints the new shell
  with CSF-like intensities.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["extend_csf", "fill_csf_shell", "synthetic_tissue_image"]

_CSF, _GREY, _WHITE = 1, 2, 3


def extend_csf(
    labels: np.ndarray, t1: np.ndarray, outside_mm: np.ndarray, margin_mm: float, sulcal_weight: float
) -> np.ndarray:
    """Labels with CSF grown into a shell outside the brain and into the darker grey matter.

    Args:
        labels: tissue labels ``(X, Y, Z)``: 0 background, 1 CSF, 2 grey, 3 white matter.
        t1: the template intensities on the same grid ``(X, Y, Z)``.
        outside_mm: distance in mm of each voxel to the nearest labelled voxel (0 inside), ``(X, Y, Z)``.
        margin_mm: background voxels up to this distance become CSF (extra-cerebral CSF), ``>= 0``.
        sulcal_weight: grey-matter voxels darker than ``csf + sulcal_weight * (grey - csf)`` (medians
            of ``t1`` per class) become CSF; ``0`` moves none, ``0.5`` the midpoint, at most ``1``.

    Returns:
        New ``uint8`` labels ``(X, Y, Z)``.

    Raises:
        ValueError: when shapes differ, ``margin_mm < 0`` or ``sulcal_weight`` is outside ``[0, 1]``.
    """
    if t1.shape != labels.shape or outside_mm.shape != labels.shape:
        raise ValueError(
            f"labels {labels.shape}, t1 {t1.shape} and outside_mm {outside_mm.shape} but one shape was expected"
        )
    if margin_mm < 0:
        raise ValueError(f"margin_mm={margin_mm!r} but a value >= 0 was expected")
    if not 0.0 <= sulcal_weight <= 1.0:
        raise ValueError(f"sulcal_weight={sulcal_weight!r} but a value in [0, 1] was expected")
    extended = labels.astype(np.uint8, copy=True)
    csf_level, grey_level = np.median(t1[labels == _CSF]), np.median(t1[labels == _GREY])
    extended[(labels == _GREY) & (t1 < csf_level + sulcal_weight * (grey_level - csf_level))] = _CSF
    extended[(labels == 0) & (outside_mm <= margin_mm)] = _CSF
    return extended


def fill_csf_shell(t1: np.ndarray, labels: np.ndarray, extended: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The template image with the voxels that :func:`extend_csf` added outside the brain set to CSF-like values.

    The shell takes the median CSF intensity of ``t1`` times a random factor in ``[0.6, 1.1]``,
    with a smooth random texture of 10%.

    Args:
        t1: template intensities, zero outside ``labels > 0``, ``(X, Y, Z)``.
        labels: the template's labels ``(X, Y, Z)``.
        extended: the labels after :func:`extend_csf`, ``(X, Y, Z)``.
        rng: random generator of the case.

    Returns:
        ``float32`` image ``(X, Y, Z)``.
    """
    image = t1.astype(np.float32, copy=True)
    shell = (labels == 0) & (extended == _CSF)
    level = float(np.median(t1[labels == _CSF])) * rng.uniform(0.6, 1.1)
    texture = ndimage.gaussian_filter(rng.standard_normal(t1.shape).astype(np.float32), 1.0)
    texture /= max(float(texture.std()), 1e-6)
    image[shell] = level * (1.0 + 0.1 * texture[shell])
    return image


def synthetic_tissue_image(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A T1-like image drawn from ``labels`` alone: random intensities and contrasts per class.

    White matter's mean is drawn in ``[0.7, 1.0]``, grey matter's as 55-85% of it and CSF's as
    5-45%; each class has a spread of 2-12% of its mean. The image is then blurred with a Gaussian
    of 0.3-1.2 voxels (partial volumes, acquisition resolution); background stays 0 before the blur.

    Args:
        labels: tissue labels ``(X, Y, Z)``: 0 background, 1 CSF, 2 grey, 3 white matter.
        rng: random generator of the case.

    Returns:
        ``float32`` image ``(X, Y, Z)``, non-negative.
    """
    white = rng.uniform(0.7, 1.0)
    means = np.array([0.0, white * rng.uniform(0.05, 0.45), white * rng.uniform(0.55, 0.85), white])
    spreads = means * rng.uniform(0.02, 0.12, size=4)
    noise = rng.standard_normal(labels.shape).astype(np.float32)
    image = (means[labels] + spreads[labels] * noise).astype(np.float32)
    image = ndimage.gaussian_filter(image, rng.uniform(0.3, 1.2))
    return np.maximum(image, 0.0)
