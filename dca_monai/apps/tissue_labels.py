"""Hard CSF / grey matter / white matter labels from a brain-extracted T1 and tissue probability maps."""

from __future__ import annotations

import numpy as np

__all__ = ["TISSUE_CLASSES", "derive_tissue_labels"]

TISSUE_CLASSES = ("background", "CSF", "grey matter", "white matter")
"""Class names, indexed by label value."""

# a brain-extracted T1 has almost no non-zero voxel outside GM and WM; skull and scalp would be many
_MAX_NON_TISSUE_FRACTION = 0.1
_NON_TISSUE_PROBABILITY = 0.05


def derive_tissue_labels(t1: np.ndarray, gm: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """Label every voxel 0 background, 1 CSF, 2 grey matter or 3 white matter.

    1. Intracranial mask: ``t1 > 0``. nilearn's MNI152 T1 is already brain-extracted: it is zero
       outside a mask that holds the brain and the CSF around it (ventricles, cisterns and a
       2-3 mm rim of sulcal and subarachnoid CSF), and no skull or scalp. That is checked, not
       assumed: when more than 10% of the non-zero T1 voxels have ``gm + wm < 0.05`` the T1 still
       has skull or scalp and a ``ValueError`` is raised.
    2. Inside the mask the CSF probability is what GM and WM leave, ``clip(1 - gm - wm, 0, 1)``,
       and each voxel takes the most probable of CSF, GM and WM.
    3. Averaging 152 brains blurs thin sulcal CSF into the GM map, while the T1 keeps it dark:
       GM voxels darker than the midpoint between the median T1 of CSF voxels and of GM voxels
       become CSF. On the 1 mm template this moves about 4% of the mask from GM to CSF.

    On the 1 mm template this gives, as fractions of the mask, about 12% CSF, 54% GM and 34% WM.

    Args:
        t1: brain-extracted T1 intensities, ``(X, Y, Z)``, zero outside the brain.
        gm: grey-matter probability in ``[0, 1]``, ``(X, Y, Z)``.
        wm: white-matter probability in ``[0, 1]``, ``(X, Y, Z)``.

    Returns:
        ``uint8`` label map, ``(X, Y, Z)``, values in ``{0, 1, 2, 3}``.

    Raises:
        ValueError: when the shapes differ, the mask is empty, or the T1 is not brain-extracted.
    """
    if gm.shape != t1.shape or wm.shape != t1.shape:
        raise ValueError(f"t1 {t1.shape}, gm {gm.shape} and wm {wm.shape} but one common shape was expected")
    mask = t1 > 0
    if not mask.any():
        raise ValueError("t1 has no positive voxel; expected a brain-extracted T1 with the brain above 0")
    non_tissue = np.count_nonzero(mask & (gm + wm < _NON_TISSUE_PROBABILITY)) / np.count_nonzero(mask)
    if non_tissue > _MAX_NON_TISSUE_FRACTION:
        raise ValueError(
            f"{non_tissue:.0%} of the non-zero t1 voxels have gm + wm < {_NON_TISSUE_PROBABILITY}; expected at most "
            f"{_MAX_NON_TISSUE_FRACTION:.0%} for a brain-extracted T1 (skull or scalp left in?)"
        )
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0)
    labels = (np.argmax(np.stack([csf, gm, wm]), axis=0) + 1).astype(np.uint8)
    labels[~mask] = 0
    threshold = 0.5 * (np.median(t1[labels == 1]) + np.median(t1[labels == 2]))
    labels[(labels == 2) & (t1 < threshold)] = 1
    return labels
