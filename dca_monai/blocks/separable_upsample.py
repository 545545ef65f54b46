"""Linear interpolation with ``align_corners=True`` as one small matrix product per spatial axis."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["interpolation_matrix", "separable_upsample"]


def interpolation_matrix(size_in: int, size_out: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The ``(size_out, size_in)`` matrix of 1D linear interpolation with ``align_corners=True``.

    Output sample ``i`` sits at input coordinate ``i * (size_in - 1) / (size_out - 1)`` and mixes its
    two neighbours with weights summing to one, exactly as ``torch.nn.functional.interpolate``
    computes them (``linear``/``bilinear``/``trilinear`` modes).
    """
    if size_in == 1 or size_out == 1:
        weights = torch.zeros(size_out, size_in, dtype=dtype, device=device)
        weights[:, 0] = 1.0
        return weights
    # positions in float32 as PyTorch's kernel computes them for float inputs, float64 for double
    position_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    source = torch.arange(size_out, dtype=position_dtype, device=device) * ((size_in - 1) / (size_out - 1))
    low = source.floor().long().clamp(max=size_in - 1)
    high = (low + 1).clamp(max=size_in - 1)
    fraction = (source - low.to(position_dtype)).unsqueeze(1)
    low_weights = F.one_hot(low, size_in).to(position_dtype) * (1.0 - fraction)
    return (low_weights + F.one_hot(high, size_in).to(position_dtype) * fraction).to(dtype)


def separable_upsample(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Resize ``x`` to ``size`` by (bi/tri)linear interpolation with ``align_corners=True``.

    The same result as ``F.interpolate(x, size, mode="bilinear"/"trilinear", align_corners=True)``
    (to float rounding), computed axis by axis as matrix products with
    :func:`interpolation_matrix`, the largest output last so it is written once, contiguously. On
    CPU this is about 3x faster than PyTorch's trilinear kernel forward and backward (measured for
    a 12^3 -> 96^3 upsampling of 32 channels), and it is pure matmul for export.

    Args:
        x: ``(B, C, *S_in)``.
        size: the output spatial size ``S_out``, one value per spatial axis.

    Returns:
        ``(B, C, *S_out)``, contiguous.
    """
    last = len(size) - 1
    for axis, size_out in enumerate(size):
        size_in = x.shape[2 + axis]
        if size_in == size_out:
            continue
        weights = interpolation_matrix(size_in, size_out, x.dtype, x.device).t()
        if axis == last:  # a plain product, not a view: callers may update the result in place
            x = torch.matmul(x, weights)
        else:
            x = torch.matmul(x.movedim(2 + axis, -1), weights).movedim(-1, 2 + axis)
    return x.contiguous()
