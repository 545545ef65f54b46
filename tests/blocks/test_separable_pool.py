from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dca_monai.blocks.separable_pool import averaging_matrix, separable_average_pool


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize(
    "shape, size",
    [
        ((2, 3, 32, 32), [4, 4]),
        ((1, 5, 7, 5), [3, 2]),
        ((1, 2, 9, 6), [9, 6]),
        ((1, 4, 13, 9, 6), [4, 4, 3]),
        ((2, 2, 24, 24, 24), [3, 3, 3]),
        ((1, 3, 10, 11, 12), [1, 1, 1]),
    ],
)
def test_equals_adaptive_average_pooling(shape, size, dtype, tol) -> None:
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    pool = F.adaptive_avg_pool2d if len(size) == 2 else F.adaptive_avg_pool3d
    expected = pool(x, size)
    actual = separable_average_pool(x, size)
    assert actual.shape == expected.shape and actual.is_contiguous()
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)
    weight = torch.randn_like(expected)
    (grad_actual,) = torch.autograd.grad((actual * weight).sum(), x)
    (grad_expected,) = torch.autograd.grad((expected * weight).sum(), x)
    torch.testing.assert_close(grad_actual, grad_expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("size_in, size_out", [(8, 2), (7, 3), (5, 5), (11, 1), (10, 4)])
def test_rows_average_the_adaptive_pooling_bins(size_in: int, size_out: int) -> None:
    weights = averaging_matrix(size_in, size_out, torch.float64, torch.device("cpu"))
    assert weights.shape == (size_out, size_in)
    torch.testing.assert_close(weights.sum(1), torch.ones(size_out, dtype=torch.float64))
    for i in range(size_out):
        start, end = (i * size_in) // size_out, -((-(i + 1) * size_in) // size_out)
        expected = torch.zeros(size_in, dtype=torch.float64)
        expected[start:end] = 1.0 / (end - start)
        torch.testing.assert_close(weights[i], expected)


def test_scripted_pooling_equals_eager() -> None:
    x = torch.randn(1, 2, 9, 8, 7)
    scripted = torch.jit.script(separable_average_pool)
    torch.testing.assert_close(scripted(x, [3, 3, 2]), separable_average_pool(x, [3, 3, 2]))
