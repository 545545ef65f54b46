"""Z-score normalisation over the foreground of a brain-extracted scan, the background set to one fixed value.

MONAI's ``NormalizeIntensity(nonzero=True)`` normalises the non-zero voxels but leaves a zero
background at 0, which after normalisation is the brain's mean intensity: a network then cannot
tell a real scan's exact-zero background from average tissue. Here the background gets a fixed
value far below any tissue, identical for every scan, so training cases and real scans look alike
outside the brain whatever their intensity scale.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

__all__ = ["BACKGROUND_VALUE", "NormalizeForeground", "NormalizeForegroundd"]

BACKGROUND_VALUE = -5.0
"""Default background value: below the darkest CSF (about -3 standard deviations of the brain's intensities)."""


class NormalizeForeground(Transform):
    """Per channel: foreground to zero mean and unit variance, background to ``background``.

    The foreground is ``image > max(min(image), 0)``: the voxels above the background of a
    brain-extracted scan, whether that is exactly zero (usual), a constant, or zero with small
    negative interpolation ringing.

    Args:
        background: value given to every background voxel.
    """

    backend = [torch.Tensor.__name__]

    def __init__(self, background: float = BACKGROUND_VALUE) -> None:
        self.background = float(background)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Normalise ``image`` ``(C, *S)``; returns a float32 tensor (a MetaTensor stays one) of the same shape.

        Raises:
            ValueError: when ``image`` has fewer than 2 dimensions.
        """
        if image.ndim < 2:
            raise ValueError(f"image has shape {tuple(image.shape)}; expected (C, *S) with a channel axis")
        data = torch.as_tensor(image, dtype=torch.float32)
        output = torch.full_like(data, self.background)
        for channel, values in enumerate(data):
            foreground = values > torch.clamp(values.min(), min=0.0)
            if not foreground.any():
                continue  # a constant channel: all background
            selected = values[foreground]
            std = selected.std(unbiased=False) if selected.numel() > 1 else selected.new_tensor(0.0)
            output[channel][foreground] = (selected - selected.mean()) / torch.clamp(std, min=1e-8)
        if isinstance(image, MetaTensor):
            return MetaTensor(output, meta=image.meta, applied_operations=image.applied_operations)
        return output


class NormalizeForegroundd(MapTransform):
    """Dictionary version of :class:`NormalizeForeground`.

    Args:
        keys: keys of the images to normalise.
        background: value given to every background voxel.
        allow_missing_keys: do not fail when a key is missing.
    """

    backend = NormalizeForeground.backend

    def __init__(
        self, keys: KeysCollection, background: float = BACKGROUND_VALUE, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.normalize = NormalizeForeground(background)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        output = dict(data)
        for key in self.key_iterator(output):
            output[key] = self.normalize(output[key])
        return output
