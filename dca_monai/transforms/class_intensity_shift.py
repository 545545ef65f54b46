"""Random intensity offsets per label class: a contrast phase simulated on a CT whose label map is known.

Contrast agent raises the attenuation of blood and of perfused organs by amounts that depend on the
phase (the aorta by a few hundred HU in the arterial phase, the liver by tens of HU in the portal
venous phase) while fat, air and bone stay put. A network trained on one phase (the embedded CT
dataset's patient is scanned without contrast) learns the organs' absolute HU and fails on another;
shifting each labelled structure by its own random offset teaches it shape and context instead.
MONAI's ``RandShiftIntensityd`` shifts the whole image by one offset, which cannot do this.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform

__all__ = ["RandClassIntensityShiftd"]


class RandClassIntensityShiftd(RandomizableTransform, MapTransform):
    """With probability ``prob``, add to every voxel of class ``c`` one offset drawn from ``offsets[c]``.

    The image and the label are on the same grid (apply it after cropping patches, the label map
    unchanged). Offsets are given in the units of ``offsets`` and multiplied by ``scale``, so a
    config can state them in HU and convert to an intensity window's units: with a window
    ``[a_min, a_max]`` mapped linearly to ``[0, 1]``, ``scale = 1 / (a_max - a_min)``. Apply it
    before the window's clipping, so that a bright structure shifted down is not already clipped.

    Args:
        keys: image keys, each ``(C, *S)``.
        label_key: the label map, ``(1, *S)`` of integer classes.
        offsets: per class ``0 .. len(offsets) - 1``, a ``(low, high)`` range drawn uniformly; classes
            beyond it (and a ``(0, 0)`` entry, e.g. for background) are left unchanged.
        scale: factor applied to every drawn offset.
        prob: probability of shifting a sample at all.
        allow_missing_keys: do not raise when a key is missing.

    Raises:
        ValueError: when an offset range is not two numbers with ``low <= high``.
    """

    backend = [torch.Tensor.__name__]

    def __init__(
        self,
        keys: KeysCollection,
        label_key: str,
        offsets: Sequence[Sequence[float]],
        scale: float = 1.0,
        prob: float = 0.5,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        ranges = []
        for index, pair in enumerate(offsets):
            values = tuple(float(value) for value in pair)
            if len(values) != 2 or values[0] > values[1]:
                raise ValueError(f"offsets[{index}]={pair!r} but a (low, high) pair with low <= high was expected")
            ranges.append(values)
        self.label_key = label_key
        self.offsets = ranges
        self.scale = float(scale)
        self._drawn = torch.zeros(len(ranges))

    def randomize(self, data: object = None) -> None:
        super().randomize(None)
        if self._do_transform:
            drawn = [self.R.uniform(low, high) for low, high in self.offsets]
            self._drawn = torch.tensor(drawn, dtype=torch.float32) * self.scale

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Shift the images of ``data``; returns a new dict, the label untouched.

        Raises:
            ValueError: when the label's spatial shape differs from an image's.
        """
        output = dict(data)
        self.randomize()
        if not self._do_transform:
            return output
        label = torch.as_tensor(output[self.label_key])[0].long()
        lookup = torch.cat([self._drawn, torch.zeros(1)])  # classes beyond the table: no shift
        classes = label.clamp(0, len(self.offsets)).to(torch.long)
        classes[(label < 0) | (label >= len(self.offsets))] = len(self.offsets)
        shift = lookup[classes]
        for key in self.key_iterator(output):
            image = output[key]
            if tuple(image.shape[1:]) != tuple(label.shape):
                raise ValueError(
                    f"{key!r} has spatial shape {tuple(image.shape[1:])} but label {self.label_key!r} has "
                    f"{tuple(label.shape)}; expected the same grid"
                )
            output[key] = image + shift.to(device=image.device, dtype=image.dtype)
        return output
