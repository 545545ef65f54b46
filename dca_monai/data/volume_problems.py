"""What is wrong with a volume's shape or voxel values, as one sentence naming what was expected.

Each function returns ``None`` for a volume without that problem. The datalist check
(:mod:`dca_monai.data.datalist_checks`) reports these sentences under the entry and file concerned.
"""

from __future__ import annotations

import numpy as np

__all__ = ["format_shape", "image_value_problem", "label_value_problem", "present_label_values", "rank_problem"]

_SPATIAL_DIMS = 3
_MAX_LISTED_VALUES = 8


def format_shape(shape: tuple[int, ...]) -> str:
    """``(8, 9, 10)`` as ``"8x9x10"``."""
    return "x".join(map(str, shape))


def rank_problem(spatial_shape: tuple[int, ...], role: str) -> str | None:
    """Why a volume of ``spatial_shape`` is not a 3-D volume (a 2-D image, a single slice).

    Args:
        spatial_shape: the spatial shape, without channels.
        role: ``"image"`` or ``"label"``, to start the sentence with.
    """
    expected = "expected a 3-D volume (X, Y, Z), or a 4-D one whose last axis holds the channels"
    if len(spatial_shape) != _SPATIAL_DIMS:
        return f"{role} has {len(spatial_shape)} spatial dimension(s) (shape {format_shape(spatial_shape)}); {expected}"
    if min(spatial_shape) < 2:
        return (
            f"{role} is a single slice (spatial shape {format_shape(spatial_shape)}); {expected} "
            "with at least 2 voxels per axis"
        )
    return None


def image_value_problem(values: np.ndarray) -> str | None:
    """Why image ``values`` (any shape) cannot be segmented: no voxel, not real numbers, NaN or infinite, constant."""
    if values.size == 0:
        return "image holds no voxel; expected a scan"
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        return f"image has dtype {values.dtype}; expected real-valued intensities"
    if np.issubdtype(values.dtype, np.floating):
        nan, inf = int(np.count_nonzero(np.isnan(values))), int(np.count_nonzero(np.isinf(values)))
        if nan or inf:
            return (
                f"image holds {nan} NaN and {inf} infinite value(s) among {values.size} voxels; "
                "expected finite intensities"
            )
    low, high = values.min(), values.max()
    if low == high:
        return f"image is constant (every voxel {float(low):g}); expected a scan with varying intensities"
    return None


def label_value_problem(values: np.ndarray, num_classes: int) -> str | None:
    """Why label ``values`` (any shape) are not integers in ``[0, num_classes)``."""
    expected = f"expected integers in [0, {num_classes}) (num_classes={num_classes})"
    if values.size == 0:
        return f"label is empty; {expected}"
    if np.issubdtype(values.dtype, np.floating):
        if not np.all(np.isfinite(values)):
            return f"label holds NaN or infinite values; {expected}"
        fractional = values != np.round(values)
        if fractional.any():
            return f"label holds non-integer values {_list_values(values[fractional])}; {expected}"
    elif not np.issubdtype(values.dtype, np.integer) and values.dtype != np.bool_:
        return f"label has dtype {values.dtype}; {expected}"
    outside = (values < 0) | (values >= num_classes)
    if outside.any():
        return f"label holds values {_list_values(values[outside])}; {expected}"
    return None


def present_label_values(values: np.ndarray, num_classes: int) -> tuple[int, ...]:
    """The label values present, for ``values`` already checked to be integers in ``[0, num_classes)``."""
    counts = np.bincount(values.astype(np.int64, copy=False).ravel(), minlength=num_classes)
    return tuple(np.flatnonzero(counts).tolist())


def _list_values(values: np.ndarray) -> str:
    unique = np.unique(values)
    listed = ", ".join(f"{value:g}" for value in unique[:_MAX_LISTED_VALUES].tolist())
    return listed + (f", ... ({unique.size} distinct)" if unique.size > _MAX_LISTED_VALUES else "")
