"""Adaptive average pooling as one small averaging matrix per spatial axis (export-friendly)."""

from __future__ import annotations

import torch

__all__ = ["averaging_matrix", "separable_average_pool"]


def averaging_matrix(size_in: int, size_out: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The ``(size_out, size_in)`` matrix of 1D adaptive average pooling.

    Row ``i`` averages the input bin ``[floor(i * size_in / size_out), ceil((i + 1) * size_in / size_out))``,
    the bins of ``torch.nn.functional.adaptive_avg_pool1d/2d/3d``. The matrix is built from the sizes
    with ``arange`` and comparisons only, so traced and exported graphs keep the sizes symbolic.
    """
    rows = torch.arange(size_out, device=device).unsqueeze(1)
    cols = torch.arange(size_in, device=device).unsqueeze(0)
    start = torch.div(rows * size_in, size_out, rounding_mode="floor")
    end = torch.div((rows + 1) * size_in + size_out - 1, size_out, rounding_mode="floor")
    inside = (cols >= start) & (cols < end)
    return inside.to(dtype) / (end - start).to(dtype)


def separable_average_pool(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Adaptive average pooling of ``x`` to ``size``, axis by axis, as matrix products.

    The same bins as ``F.adaptive_avg_pool2d/3d(x, size)`` (equal to float rounding: a bin's mean is
    a sum of ``x / count`` instead of ``sum(x) / count``). The last axis is pooled first, as a plain
    product that shrinks the tensor most; each earlier axis is pooled by multiplying from the left
    on the tensor with its trailing axes flattened, so no axis is moved and no negative axis index
    appears in an exported graph.

    Args:
        x: ``(B, C, *S_in)``.
        size: the output spatial size ``S_out``, one value per spatial axis, each at most ``S_in``.

    Returns:
        ``(B, C, *S_out)``, contiguous.
    """
    spatial_dims = len(size)
    first_axis = x.dim() - spatial_dims
    last = spatial_dims - 1
    x = torch.matmul(x, averaging_matrix(x.shape[first_axis + last], size[last], x.dtype, x.device).t())
    for axis in range(last - 1, -1, -1):
        trailing = x.shape[first_axis + axis + 1 :]
        pooled = torch.matmul(
            averaging_matrix(x.shape[first_axis + axis], size[axis], x.dtype, x.device),
            x.flatten(first_axis + axis + 1),
        )
        x = pooled.reshape(list(pooled.shape[: first_axis + axis + 1]) + list(trailing))
    return x
