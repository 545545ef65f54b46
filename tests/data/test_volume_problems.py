"""Sentences for a volume's shape and values (:mod:`dca_monai.data.volume_problems`)."""

from __future__ import annotations

import numpy as np
import pytest

from dca_monai.data.volume_problems import (
    format_shape,
    image_value_problem,
    label_value_problem,
    present_label_values,
    rank_problem,
)


@pytest.mark.parametrize(
    ("shape", "problem"),
    [
        ((8, 9, 10), None),
        ((8, 9), "label has 2 spatial dimension(s) (shape 8x9); expected a 3-D volume"),
        ((8, 1, 10), "label is a single slice (spatial shape 8x1x10); expected a 3-D volume"),
    ],
)
def test_rank_problem(shape: tuple[int, ...], problem: str | None) -> None:
    found = rank_problem(shape, "label")
    assert found == problem if problem is None else found.startswith(problem)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (np.arange(12, dtype=np.int16), "label holds values 3, 4, 5, 6, 7, 8, 9, 10, ... (9 distinct); expected"),
        (np.array([True, False]), None),
        (np.array(["a", "b"]), "label has dtype <U1; expected integers in [0, 3) (num_classes=3)"),
        (np.zeros(0, np.uint8), "label is empty; expected integers in [0, 3)"),
    ],
)
def test_label_value_problem(values: np.ndarray, problem: str | None) -> None:
    found = label_value_problem(values, num_classes=3)
    assert found == problem if problem is None else found.startswith(problem)


def test_present_label_values_and_image_values() -> None:
    assert present_label_values(np.array([[0, 2], [2, 0]], np.uint8), num_classes=4) == (0, 2)
    assert image_value_problem(np.array([1 + 1j, 2j])) == "image has dtype complex128; expected real-valued intensities"
    assert image_value_problem(np.array([0.0, 1.5], np.float32)) is None
    assert format_shape((16, 16, 5)) == "16x16x5"
