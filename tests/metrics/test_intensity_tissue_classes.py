from __future__ import annotations

import numpy as np
import pytest

from dca_monai.metrics import intensity_tissue_classes


def three_tissues(shape: tuple[int, ...] = (40, 40, 40), noise: float = 6.0, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A T1-like volume: CSF, GM and WM at 40, 90 and 130 plus noise, zero outside a centred ball."""
    rng = np.random.default_rng(seed)
    truth = rng.choice([1, 2, 3], size=shape, p=[0.15, 0.5, 0.35]).astype(np.uint8)
    grid = np.indices(shape) - (np.array(shape)[:, None, None, None] - 1) / 2
    mask = np.sqrt((grid**2).sum(axis=0)) < min(shape) / 2 - 2
    image = np.choose(truth, [0.0, 40.0, 90.0, 130.0]) + rng.normal(0, noise, shape)
    image[~mask] = 0
    truth[~mask] = 0
    return image.astype(np.float32), mask, truth


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_recovers_three_gaussian_tissues_darkest_first(dtype: type) -> None:
    image, mask, truth = three_tissues()
    image = np.clip(np.rint(image), 0, 255).astype(dtype) if dtype == np.uint8 else image
    labels = intensity_tissue_classes(image, mask)
    assert labels.dtype == np.uint8
    assert not labels[~mask].any()
    assert np.mean(labels[mask] == truth[mask]) > 0.99


def test_classes_are_intervals_of_intensity() -> None:
    # a wide middle class: a plain argmax would give it the brightest tail
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(30, 3, 2000), rng.normal(80, 25, 6000), rng.normal(120, 3, 3000)])
    labels = intensity_tissue_classes(values, np.ones(values.shape, bool))
    order = np.argsort(values)
    assert np.all(np.diff(labels[order].astype(int)) >= 0)
    assert labels[np.argmax(values)] == 3 and labels[np.argmin(values)] == 1


def test_many_distinct_values_are_binned_with_the_same_result() -> None:
    image, mask, _ = three_tissues(noise=6.0)
    fine = intensity_tissue_classes(image.astype(np.float64) * 1.000001, mask)  # > 4096 distinct values
    assert np.unique(image[mask]).size > 4096
    assert np.mean(fine[mask] == intensity_tissue_classes(image, mask)[mask]) > 0.999


def test_scale_and_offset_do_not_change_the_classes() -> None:
    image, mask, _ = three_tissues()
    shifted = np.where(mask, image * 7.0 + 300.0, 0)
    np.testing.assert_array_equal(intensity_tissue_classes(image, mask), intensity_tissue_classes(shifted, mask))


def test_bad_arguments_name_what_was_expected() -> None:
    image, mask, _ = three_tissues((8, 8, 8))
    with pytest.raises(ValueError, match=r"image has shape \(8, 8, 8\) but mask \(8, 8\)"):
        intensity_tissue_classes(image, mask[0])
    with pytest.raises(ValueError, match="num_classes=0 but an int in"):
        intensity_tissue_classes(image, mask, num_classes=0)
    with pytest.raises(ValueError, match="holds 2 distinct finite intensities; expected at least num_classes=3"):
        intensity_tissue_classes(np.where(mask, image > 80, 0).astype(np.float32) + mask, mask)
