"""Warn when a T1 scan given to the brain model is clearly not skull-stripped.

The brain bundle expects a brain-extracted T1 (zero outside the brain). A head with its scalp,
skull and neck holds far more bright tissue than any brain: an adult brain with the CSF around it
is at most about 2 L, a head well over 3 L. The check measures the volume of voxels brighter than
10% of the scan's 99th percentile (noise floor excluded) and logs a warning, naming the file, when
it exceeds ``max_brain_ml``. It warns rather than fails: the model still runs, and the user learns
why its output may be poor.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

__all__ = ["MAX_BRAIN_ML", "SkullStripCheckd", "bright_volume_ml"]

MAX_BRAIN_ML = 2500.0
"""Largest volume (mL) of bright voxels accepted as a brain-extracted scan."""

_BRIGHT_FRACTION = 0.1
_REFERENCE_PERCENTILE = 99.0

logger = logging.getLogger(__name__)


def bright_volume_ml(image: np.ndarray | torch.Tensor, voxel_ml: float) -> float:
    """Volume in mL of the voxels brighter than 10% of the 99th percentile of the positive voxels.

    Args:
        image: intensities, any shape (one channel).
        voxel_ml: volume of one voxel in mL.
    """
    values = torch.as_tensor(image).detach().float().reshape(-1)
    positive = values[values > 0]
    if positive.numel() == 0:
        return 0.0
    # quantile over a strided sample: torch.quantile refuses more than 2**24 values
    sample = positive[:: max(1, positive.numel() // 1_000_000)]
    reference = torch.quantile(sample, _REFERENCE_PERCENTILE / 100.0)
    return float(torch.count_nonzero(values > _BRIGHT_FRACTION * reference)) * voxel_ml


class SkullStripCheckd(MapTransform):
    """Log a warning for a scan that holds more bright tissue than a brain; the data pass unchanged.

    Place it after ``LoadImaged``: it reads the voxel size from the image's affine and the file
    name from its metadata.

    Args:
        keys: keys of the T1 images, ``(C, *S)`` MetaTensors (channel 0 is checked).
        max_brain_ml: warn above this many mL of bright voxels.
        allow_missing_keys: do not fail when a key is missing.
    """

    def __init__(
        self, keys: KeysCollection, max_brain_ml: float = MAX_BRAIN_ML, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.max_brain_ml = float(max_brain_ml)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        output = dict(data)
        for key in self.key_iterator(output):
            image = output[key]
            affine = image.affine if isinstance(image, MetaTensor) else torch.eye(4)
            spatial_dims = image.ndim - 1
            voxel_ml = abs(float(torch.det(torch.as_tensor(affine, dtype=torch.float64)[:spatial_dims, :spatial_dims])))
            volume = bright_volume_ml(image[0], voxel_ml / 1000.0)
            if volume > self.max_brain_ml:
                name = image.meta.get("filename_or_obj", key) if isinstance(image, MetaTensor) else key
                logger.warning(
                    "%s does not look skull-stripped: %.0f mL of it is bright tissue, a brain holds at most %.0f mL. "
                    "The model expects a brain-extracted T1 (zero outside the brain); its labels will spill onto "
                    "the scalp and skull. Run a skull stripper (e.g. HD-BET, SynthStrip, FSL BET) first.",
                    name,
                    volume,
                    self.max_brain_ml,
                )
        return output
