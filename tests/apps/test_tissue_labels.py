from __future__ import annotations

import numpy as np
import pytest

from dca_monai.apps.mni152 import load_mni152_templates
from dca_monai.apps.tissue_labels import TISSUE_CLASSES, derive_tissue_labels


@pytest.fixture(scope="module")
def templates_and_labels():
    templates = load_mni152_templates()
    return templates, derive_tissue_labels(templates.t1, templates.gm, templates.wm)


def test_labels_cover_exactly_the_brain_with_plausible_fractions(templates_and_labels) -> None:
    templates, labels = templates_and_labels
    assert labels.dtype == np.uint8 and labels.shape == templates.t1.shape
    assert TISSUE_CLASSES == ("background", "CSF", "grey matter", "white matter")
    np.testing.assert_array_equal(labels > 0, templates.t1 > 0)
    fractions = np.bincount(labels.ravel(), minlength=4)[1:] / np.count_nonzero(labels)
    # measured on the 1 mm template: CSF 0.125, GM 0.538, WM 0.337
    np.testing.assert_allclose(fractions, [0.125, 0.538, 0.337], atol=0.01)


def test_labels_follow_the_probability_maps_and_t1_contrast(templates_and_labels) -> None:
    templates, labels = templates_and_labels
    assert np.all(labels[templates.wm > 0.9] == 3)
    assert np.mean(labels[templates.gm > 0.9] == 2) > 0.95
    means = [templates.t1[labels == value].mean() for value in (1, 2, 3)]
    assert means[0] < means[1] < means[2]


def test_t1_with_skull_is_refused() -> None:
    t1 = np.zeros((20, 20, 20), np.float32)
    gm = np.zeros_like(t1)
    wm = np.zeros_like(t1)
    t1[2:18, 2:18, 2:18] = 0.8  # head with scalp
    wm[8:12, 8:12, 8:12] = 1.0  # small brain inside
    with pytest.raises(ValueError, match=r"gm \+ wm < 0.05; expected at most 10% for a brain-extracted T1"):
        derive_tissue_labels(t1, gm, wm)


def test_mismatched_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"t1 \(4, 4, 4\), gm \(4, 4, 3\)"):
        derive_tissue_labels(np.ones((4, 4, 4)), np.ones((4, 4, 3)), np.ones((4, 4, 4)))
