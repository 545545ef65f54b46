from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dca_monai.blocks.separable_upsample import interpolation_matrix, separable_upsample


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize(
    "shape, size",
    [
        ((2, 3, 4, 4), [32, 32]),
        ((1, 5, 7, 3), [50, 29]),
        ((1, 2, 1, 6), [9, 6]),
        ((1, 4, 3, 5, 2), [24, 17, 9]),
        ((2, 2, 12, 12, 12), [96, 96, 96]),
        ((1, 3, 5, 5, 5), [5, 20, 5]),
    ],
)
def test_equals_pytorch_interpolate_align_corners(shape, size, dtype, tol) -> None:
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    mode = "bilinear" if len(size) == 2 else "trilinear"
    expected = F.interpolate(x, size=size, mode=mode, align_corners=True)
    actual = separable_upsample(x, size)
    assert actual.shape == expected.shape and actual.is_contiguous()
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)
    weight = torch.randn_like(expected)
    (grad_actual,) = torch.autograd.grad((actual * weight).sum(), x)
    (grad_expected,) = torch.autograd.grad((expected * weight).sum(), x)
    # gradients sum hundreds of products per input voxel, in another order than PyTorch's kernel
    grad_tol = tol * 100 * grad_expected.abs().max().item()
    torch.testing.assert_close(grad_actual, grad_expected, rtol=0, atol=grad_tol)


@pytest.mark.parametrize("size_in, size_out", [(2, 5), (12, 96), (7, 50), (1, 4), (5, 1)])
def test_rows_are_convex_weights(size_in: int, size_out: int) -> None:
    weights = interpolation_matrix(size_in, size_out, torch.float64, torch.device("cpu"))
    assert weights.shape == (size_out, size_in)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(size_out, dtype=torch.float64))
    assert ((weights > 0).sum(1) <= 2).all()


def test_compiled_once_for_equal_and_unequal_sizes() -> None:
    # an axis whose size does not change was skipped by comparing sizes; under torch.compile that comparison
    # is a guard, and a later call where the sizes part (a skip past the token grid's cap) compiled again.
    # Duck sizing off: it would tie the equal input and output sizes of the first call by itself.
    import torch._dynamo
    import torch.fx.experimental._config
    from torch._dynamo.testing import CompileCounter

    with torch.fx.experimental._config.patch(use_duck_shape=False):  # restored after, unlike setattr

        def upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
            return separable_upsample(x, list(like.shape[2:]))

        torch._dynamo.reset()
        counter = CompileCounter()
        compiled = torch.compile(upsample_to, dynamic=True, backend=counter)
        for size_in, size_out in [(6, 6), (6, 12), (10, 10), (7, 21)]:
            x = torch.randn(1, 2, size_in, size_in + 1)
            like = torch.empty(1, 2, size_out, size_out + 1)
            expected = F.interpolate(x, size=[size_out, size_out + 1], mode="bilinear", align_corners=True)
            torch.testing.assert_close(compiled(x, like), expected, rtol=1e-5, atol=1e-6)
        assert counter.frame_count == 1
