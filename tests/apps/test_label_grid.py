from __future__ import annotations

import numpy as np
import pytest

from dca_monai.apps.label_grid import label_on_grid


def test_flipped_and_permuted_grid_gives_the_same_world_labels() -> None:
    rng = np.random.default_rng(0)
    label = rng.integers(0, 4, size=(5, 6, 7)).astype(np.uint8)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = (10.0, -5.0, 1.0)
    # target grid: axes (z, x, y), x flipped; voxel t maps to source voxel (4 - t1, t2, t0)
    to_source = np.array([[0, -1, 0, 4], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
    target_affine = affine @ to_source
    moved = label_on_grid(label, affine, (7, 5, 6), target_affine)
    assert moved.shape == (7, 5, 6)
    for t in [(0, 0, 0), (6, 4, 5), (3, 1, 2)]:
        assert moved[t] == label[4 - t[1], t[2], t[0]]


def test_grid_with_other_voxel_centres_is_refused() -> None:
    affine = np.eye(4)
    shifted = affine.copy()
    shifted[0, 3] = 0.5
    with pytest.raises(ValueError, match="does not share voxel centres"):
        label_on_grid(np.zeros((3, 3, 3)), affine, (3, 3, 3), shifted)
    with pytest.raises(ValueError, match="falls outside"):
        label_on_grid(np.zeros((3, 3, 3)), affine, (4, 3, 3), affine)
