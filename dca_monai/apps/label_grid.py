"""Move a label map between two grids that share voxel centres (axes permuted or flipped), without resampling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["label_on_grid"]


def label_on_grid(label: np.ndarray, label_affine: np.ndarray, shape: Sequence[int], affine: np.ndarray) -> np.ndarray:
    """Re-index ``label`` onto another grid that has the same voxel centres (axes may be permuted or flipped).

    Args:
        label: ``(X, Y, Z)`` label map.
        label_affine: its voxel-to-world matrix.
        shape: the target grid's spatial shape.
        affine: the target grid's voxel-to-world matrix (same world convention).

    Returns:
        The label ``(*shape)`` on the target grid.

    Raises:
        ValueError: when the grids' voxel centres do not coincide.
    """
    to_label = np.linalg.inv(label_affine) @ affine
    rounded = np.rint(to_label)
    linear = rounded[:3, :3]
    is_signed_permutation = np.array_equal(np.abs(linear).sum(axis=0), np.ones(3)) and np.array_equal(
        np.abs(linear).sum(axis=1), np.ones(3)
    )
    if not is_signed_permutation or np.abs(to_label - rounded).max() > 1e-3:
        raise ValueError(
            f"label grid (affine {np.round(label_affine, 4).tolist()}) does not share voxel centres with the target "
            f"grid (affine {np.round(affine, 4).tolist()}); expected the same grid up to axis order and direction"
        )
    source_axes = np.argmax(np.abs(linear), axis=0)  # target axis b reads source axis source_axes[b]
    indices = []
    for target_axis, source_axis in enumerate(source_axes):
        index = rounded[source_axis, target_axis] * np.arange(shape[target_axis]) + rounded[source_axis, 3]
        if index.min() < 0 or index.max() >= label.shape[source_axis]:
            raise ValueError(f"target grid axis {target_axis} falls outside the label's axis {source_axis}")
        indices.append(index.astype(np.int64))
    return np.asarray(label).transpose(*source_axes)[np.ix_(*indices)]
