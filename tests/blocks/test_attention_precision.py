from __future__ import annotations

import pytest
import torch

from dca_monai.blocks.attention_precision import LOGIT_RANGE, softmax_without_subnormals
from dca_monai.blocks.channel_cross_attention import ChannelCrossAttention
from dca_monai.blocks.dca_attention_stage import StageLayerNorm
from dca_monai.blocks.stage_layout import StageLayout

TINY = torch.finfo(torch.float32).tiny


def _subnormal(x: torch.Tensor) -> int:
    return int(((x.abs() < TINY) & (x != 0)).sum())


def _wide_logits() -> torch.Tensor:
    # the channel attention's logits spread over +-200 at 2D 224^2 (a sum over 784 tokens)
    return (torch.rand(2, 1, 64, 480, generator=torch.Generator().manual_seed(0)) * 400 - 200).requires_grad_()


def test_torch_softmax_gives_subnormals_on_such_logits() -> None:
    logits = _wide_logits()
    probabilities = torch.softmax(logits, dim=-1)
    probabilities.backward(torch.rand_like(probabilities))
    assert _subnormal(probabilities) > 0 and _subnormal(logits.grad) > 0


def test_no_subnormals_forward_or_backward_and_equal_to_softmax() -> None:
    logits = _wide_logits()
    ours = softmax_without_subnormals(logits)
    upstream = torch.rand_like(ours)
    ours.backward(upstream)
    assert _subnormal(ours) == 0 and _subnormal(logits.grad) == 0
    ours_grad = logits.grad.clone()
    logits.grad = None
    reference = torch.softmax(logits, dim=-1)
    reference.backward(upstream)
    # entries more than LOGIT_RANGE below the row maximum weigh below 480 * exp(-30) in total
    assert (ours - reference).abs().max() <= 480 * torch.exp(torch.tensor(-LOGIT_RANGE))
    # float32 rounding of the larger gradients (the reduction order follows threads and load); the entries
    # whose subnormals were flushed agree to 1e-11
    torch.testing.assert_close(ours_grad, logits.grad, rtol=1e-5, atol=1e-11)


def test_keeps_float64_and_computes_half_in_float32() -> None:
    assert softmax_without_subnormals(torch.rand(3, 5, dtype=torch.float64)).dtype == torch.float64
    half = torch.rand(3, 5).bfloat16()
    out = softmax_without_subnormals(half)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.softmax(half.float(), -1))


def test_channel_attention_runs_in_float32_under_autocast() -> None:
    torch.manual_seed(0)
    attention = ChannelCrossAttention(StageLayout.build([8, 16], 1, 4))
    normed = torch.randn(2, 30, 24)
    expected = attention(normed)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = attention(normed)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_stage_layer_norm_statistics_in_float32_under_autocast(dtype: torch.dtype) -> None:
    norm = StageLayerNorm(StageLayout.build([8, 16], 1, 4))
    tokens = (torch.randn(2, 30, 24) * 50 + 1000).to(dtype)  # a large mean: bf16 statistics would lose it
    with torch.autocast("cpu", dtype=dtype):
        got = norm(tokens)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, norm(tokens.float()), rtol=0, atol=0)
