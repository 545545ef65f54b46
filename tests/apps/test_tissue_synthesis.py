from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from dca_monai.apps.tissue_synthesis import extend_csf, fill_csf_shell, synthetic_tissue_image


def _phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ball of white matter in a grey-matter shell with a CSF core, and T1 values and outside distances (1 mm)."""
    grid = np.indices((32, 32, 32)).astype(np.float64) - 15.5
    radius = np.sqrt((grid**2).sum(axis=0))
    labels = np.select([radius < 3, radius < 8, radius < 11], [1, 3, 2], 0).astype(np.uint8)
    t1 = np.select([labels == 1, labels == 2, labels == 3], [0.2, 0.6, 0.9], 0.0)
    t1[(labels == 2) & (radius > 10)] = 0.3  # dark outer grey matter, as blurred sulci
    return labels, t1, ndimage.distance_transform_edt(labels == 0)


def test_extend_csf_grows_a_shell_of_the_margin_and_takes_the_dark_grey_matter() -> None:
    labels, t1, outside = _phantom()
    extended = extend_csf(labels, t1, outside, margin_mm=2.0, sulcal_weight=0.5)
    assert np.array_equal(
        extended[(outside > 0) & (outside <= 2)], np.ones(np.count_nonzero((outside > 0) & (outside <= 2)))
    )
    assert not extended[outside > 2].any()
    # 0.3 lies below the midpoint 0.4 of CSF 0.2 and grey matter 0.6: those voxels become CSF, the rest stays
    assert (extended[(labels == 2) & (t1 == 0.3)] == 1).all()
    assert (extended[(labels == 2) & (t1 == 0.6)] == 2).all()
    assert np.array_equal(extended[labels == 3], labels[labels == 3])
    unchanged = extend_csf(labels, t1, outside, margin_mm=0.0, sulcal_weight=0.0)
    assert np.array_equal(unchanged, labels)


@pytest.mark.parametrize(
    "keyword, value, expected",
    [
        ("margin_mm", -1.0, "margin_mm=-1.0 but a value >= 0"),
        ("sulcal_weight", 1.5, r"sulcal_weight=1.5 but a value in \[0, 1\]"),
    ],
)
def test_extend_csf_names_bad_arguments(keyword: str, value: float, expected: str) -> None:
    labels, t1, outside = _phantom()
    arguments = {"margin_mm": 1.0, "sulcal_weight": 0.5, keyword: value}
    with pytest.raises(ValueError, match=expected):
        extend_csf(labels, t1, outside, **arguments)
    with pytest.raises(ValueError, match=r"t1 \(2, 2\)"):
        extend_csf(labels, t1[:2, :2, 0], outside, 1.0, 0.5)


def test_fill_csf_shell_paints_only_the_new_shell_with_csf_like_values() -> None:
    labels, t1, outside = _phantom()
    extended = extend_csf(labels, t1, outside, margin_mm=3.0, sulcal_weight=0.0)
    filled = fill_csf_shell(t1, labels, extended, np.random.default_rng(0))
    shell = (labels == 0) & (extended == 1)
    assert np.array_equal(filled[~shell], t1[~shell].astype(np.float32))
    assert 0.2 * 0.5 < np.median(filled[shell]) < 0.2 * 1.2
    assert filled[shell].std() > 0


def test_synthetic_image_keeps_the_t1_order_and_depends_on_the_seed_only() -> None:
    labels = _phantom()[0]
    for seed in range(20):
        image = synthetic_tissue_image(labels, np.random.default_rng(seed))
        means = [np.median(image[ndimage.binary_erosion(labels == value)]) for value in (1, 2, 3)]
        assert means[0] < means[1] < means[2], (seed, means)
        assert image.min() >= 0 and image.dtype == np.float32
    first, again = (synthetic_tissue_image(labels, np.random.default_rng(3)) for _ in range(2))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, synthetic_tissue_image(labels, np.random.default_rng(4)))
