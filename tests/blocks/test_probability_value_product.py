from __future__ import annotations

import pytest
import torch

from dca_monai.blocks.probability_value_product import TransposedValueProduct, probability_value_product
from dca_monai.blocks.spatial_cross_attention import explicit_attention
from dca_monai.utils.attention_gemms import record_gemms


def _operands(dtype: torch.dtype = torch.float64, columns: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    probabilities = torch.softmax(torch.randn(2, 4, 10, 10, generator=generator, dtype=dtype), -1)
    values = torch.randn(2, 4, 10, columns, generator=generator, dtype=dtype)
    return probabilities.requires_grad_(), values.requires_grad_()


@pytest.mark.parametrize("columns", [1, 3, 10])
def test_equals_matmul_with_gradients(columns: int) -> None:
    probabilities, values = _operands(columns=columns)
    got = probability_value_product(probabilities, values)
    assert got.grad_fn is not None and "TransposedValueProduct" in type(got.grad_fn).__name__
    grad_output = torch.randn_like(got)
    got_grads = torch.autograd.grad(got, (probabilities, values), grad_output)
    expected = torch.matmul(probabilities, values)
    expected_grads = torch.autograd.grad(expected, (probabilities, values), grad_output)
    torch.testing.assert_close(got, expected)
    for got_grad, expected_grad in zip(got_grads, expected_grads):
        torch.testing.assert_close(got_grad, expected_grad)


def test_gradients_and_second_derivatives_are_exact() -> None:
    assert torch.autograd.gradcheck(TransposedValueProduct.apply, _operands())
    assert torch.autograd.gradgradcheck(TransposedValueProduct.apply, _operands())


def test_only_the_requested_gradient_is_computed() -> None:
    probabilities, values = _operands()
    out = probability_value_product(probabilities.detach(), values)
    assert len(record_gemms(lambda: out.sum())) == 1  # the backward's value GEMM only, no dP
    assert values.grad is not None


def test_blas_gets_the_narrow_values_on_the_left() -> None:
    """Forward and value gradient hand BLAS the ``(D, N)`` matrix first: the orientation that is fast for narrow D."""
    probabilities, values = _operands(torch.float32, columns=2)
    calls = record_gemms(lambda: probability_value_product(probabilities, values).sum())
    left_shapes = [list(call.operands[0].shape[-2:]) for call in calls]
    # forward V^T P^T, backward dO V^T (dP) and dO^T P (dV)
    assert left_shapes == [[2, 10], [10, 2], [2, 10]]


def test_plain_matmul_under_autocast_and_graph_capture() -> None:
    probabilities, values = _operands(torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = probability_value_product(probabilities, values)
    assert out.dtype == torch.bfloat16 and "TransposedValueProduct" not in type(out.grad_fn).__name__
    traced = torch.jit.trace(probability_value_product, (probabilities.detach(), values.detach()))
    assert "PythonOp" not in str(traced.graph)  # plain aten ops: exportable to ONNX
    torch.testing.assert_close(traced(probabilities, values), torch.matmul(probabilities, values))


def test_explicit_attention_scripts_and_matches_eager() -> None:
    generator = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 2, 6, 4, generator=generator), torch.randn(2, 2, 6, 4, generator=generator)
    v = torch.randn(2, 2, 6, 2, generator=generator)
    scripted = torch.jit.script(explicit_attention)
    torch.testing.assert_close(scripted(q, k, v, 0.5), explicit_attention(q, k, v, 0.5))
