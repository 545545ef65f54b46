"""Test-time flip averaging around any inferer (mirroring, as nnU-Net predicts by default)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["FlipAveragedInferer"]


def _flip_sets(spatial_axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of ``spatial_axes``, the empty one (no flip) first."""
    return [subset for size in range(len(spatial_axes) + 1) for subset in combinations(spatial_axes, size)]


class FlipAveragedInferer(Inferer):
    """Average ``inferer``'s outputs over the input and its mirror images along ``spatial_axes``.

    For each subset of ``spatial_axes`` (``2 ** len(spatial_axes)`` passes), the input is flipped
    along those axes, ``inferer`` runs on it, and its output is flipped back; the outputs are
    averaged. Like nnU-Net's mirroring, the network's raw outputs (logits) are averaged, and the
    bundle's post-processing applies softmax and argmax afterwards. Flip only along axes the network
    was trained to be indifferent to: the brain bundle flips left-right in training
    (``RandFlipd(spatial_axis=0)`` in RAS), so its inference averages over that axis alone.

    Args:
        inferer: the inferer to wrap (``SlidingWindowInferer``, ``SimpleInferer``, ...); it must
            return one tensor shaped like its input, ``(B, C_out, *spatial)``.
        spatial_axes: spatial axes to mirror, 0 for the first spatial dimension (tensor dim 2).
            An empty sequence runs ``inferer`` once, unchanged.

    Memory: without gradients the outputs are summed in place into a copy of the first, so besides the
    wrapped inferer's own needs at most two outputs of the input's size exist at once (the sum and the
    newest pass).

    Raises:
        TypeError: when ``inferer`` is not callable or ``spatial_axes`` is not a sequence of ints.
        ValueError: when ``spatial_axes`` repeats an axis or names a negative one.
    """

    def __init__(self, inferer: Inferer, spatial_axes: Sequence[int] = (0,)) -> None:
        super().__init__()
        if not callable(inferer):
            raise TypeError(f"inferer={inferer!r} is not callable; a monai.inferers.Inferer was expected")
        if isinstance(spatial_axes, (str, bytes)) or not isinstance(spatial_axes, Sequence):
            raise TypeError(f"spatial_axes={spatial_axes!r} but a list of spatial axis indices was expected, e.g. [0]")
        if any(isinstance(axis, bool) or not isinstance(axis, int) for axis in spatial_axes):
            raise TypeError(f"spatial_axes={list(spatial_axes)!r} but every axis must be an int, e.g. [0]")
        if any(axis < 0 for axis in spatial_axes) or len(set(spatial_axes)) != len(spatial_axes):
            raise ValueError(
                f"spatial_axes={list(spatial_axes)!r} but distinct non-negative spatial axes were expected "
                "(0 is the first spatial dimension)"
            )
        self.inferer = inferer
        self.spatial_axes = tuple(spatial_axes)

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The mean of the un-flipped outputs, ``(B, C_out, *spatial)``, over all mirror images of ``inputs``.

        Raises:
            ValueError: when a spatial axis is not below the input's number of spatial dimensions.
            TypeError: when the wrapped inferer returns something other than one tensor.
        """
        spatial_dims = inputs.ndim - 2
        if any(axis >= spatial_dims for axis in self.spatial_axes):
            raise ValueError(
                f"spatial_axes={list(self.spatial_axes)} but the input {tuple(inputs.shape)} has "
                f"{spatial_dims} spatial dimensions (axes 0 to {spatial_dims - 1})"
            )
        # without gradients the sum is kept in its own buffer and updated in place
        in_place = not torch.is_grad_enabled()
        total: torch.Tensor | None = None
        flip_sets = _flip_sets(self.spatial_axes)
        for axes in flip_sets:
            dims = [2 + axis for axis in axes]
            flipped = torch.flip(inputs, dims) if dims else inputs
            output = self.inferer(flipped, network, *args, **kwargs)
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"the wrapped inferer returned {type(output).__name__}; FlipAveragedInferer averages one tensor"
                )
            output = torch.flip(output, dims) if dims else output
            if len(flip_sets) == 1:
                return output
            if total is None:  # a copy: the first output may be the caller's input (an identity network)
                total = output.clone() if in_place else output
            elif in_place:
                total.add_(output)
            else:
                total = total + output
            del output
        assert total is not None  # flip_sets always holds the empty subset
        return total.div_(len(flip_sets)) if in_place else total / len(flip_sets)
