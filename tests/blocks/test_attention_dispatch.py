from __future__ import annotations

from unittest import mock

import pytest
import torch

from dca_monai.blocks.attention_dispatch import (
    FLASH_MAX_HEAD_SIZE,
    HEAD_SIZE_ALIGNMENT,
    MIN_VALUE_COLUMNS,
    AttentionPlan,
    attention_memory_bytes,
    plan_spatial_attention,
)
from dca_monai.blocks.spatial_cross_attention import attend, explicit_attention
from dca_monai.utils.attention_gemms import record_gemms

LIMIT = 1 << 23


@pytest.mark.parametrize(
    ("device", "dtype", "tokens", "head", "path", "backends", "padded_head", "padded_value"),
    [
        ("cpu", torch.float32, 784, 120, "explicit", (), 120, 40),  # 2D 224^2: scores fit, values (40) unpadded
        ("cpu", torch.float32, 1728, 120, "fused", ("flash",), 120, 120),  # 3D 96^3: CPU flash wants equal sizes
        ("cpu", torch.bfloat16, 4096, 180, "fused", ("flash",), 180, 180),
        ("cuda", torch.float16, 784, 120, "fused", ("flash", "efficient", "math"), 120, 120),  # CUDA never explicit
        ("cuda", torch.bfloat16, 1728, 180, "fused", ("flash", "efficient", "math"), 184, 184),  # rounded up to 8
        # memory-efficient: values stay narrow, rounded up to a multiple of 8
        ("cuda", torch.float16, 4096, 300, "fused", ("efficient", "math"), 304, 104),  # too wide for flash
        ("cuda", torch.float32, 4096, 64, "fused", ("efficient", "math"), 64, 24),  # flash wants half
        ("cuda", torch.float32, 1728, 120, "fused", ("efficient", "math"), 120, 40),
        ("xpu", torch.float32, 1728, 120, "fused", ("efficient", "math"), 120, 120),  # unknown kernels: equal sizes
    ],
)
def test_plan(device, dtype, tokens, head, path, backends, padded_head, padded_value) -> None:
    plan = plan_spatial_attention(device, dtype, 2, 4, tokens, head, head // 3, LIMIT)
    assert (plan.path, plan.backends, plan.head_size, plan.value_size) == (path, backends, padded_head, padded_value)
    assert plan.value_size >= head // 3
    if "flash" in backends:  # every flash kernel wants equal query, key and value head sizes
        assert plan.value_size == plan.head_size
        if device == "cuda":
            assert plan.head_size <= FLASH_MAX_HEAD_SIZE
    if device == "cuda":
        assert plan.head_size % HEAD_SIZE_ALIGNMENT == 0 and plan.value_size % HEAD_SIZE_ALIGNMENT == 0


def test_plan_while_capturing_is_explicit_everywhere() -> None:
    for device in ("cpu", "cuda"):
        assert (
            plan_spatial_attention(device, torch.float16, 2, 4, 13824, 120, 8, LIMIT, capturing=True).path == "explicit"
        )


@pytest.mark.parametrize("capturing", [False, True])
def test_explicit_plan_pads_narrow_values_to_the_minimum(capturing: bool) -> None:
    plan = plan_spatial_attention("cpu", torch.float32, 2, 4, 784, 120, 8, LIMIT, capturing=capturing)
    assert (plan.path, plan.value_size) == ("explicit", MIN_VALUE_COLUMNS)


def test_plan_rejects_values_wider_than_queries() -> None:
    with pytest.raises(ValueError, match="value_size=130 but at most head_size=120"):
        plan_spatial_attention("cpu", torch.float32, 1, 4, 10, 120, 130, LIMIT)


@pytest.mark.parametrize("head", [20, 13])
@pytest.mark.parametrize("narrow_values", [False, True])
def test_padded_fused_path_equals_explicit(head: int, narrow_values: bool) -> None:
    """CUDA-like plans run on the CPU equal the explicit scores: query/key columns padded to 8, values
    padded to the head size (flash) or only to 8 (memory-efficient; on the CPU SDPA's math backend takes them)."""
    generator = torch.Generator().manual_seed(0)
    q, k = (torch.randn(2, 3, 40, head, generator=generator) for _ in range(2))
    v = torch.randn(2, 3, 40, 5, generator=generator)
    padded = -(-head // 8) * 8
    if narrow_values:  # values padded from 5 to 8 columns only
        plan = AttentionPlan("fused", ("efficient", "math"), padded, 8, "test")
    else:
        plan = AttentionPlan("fused", ("flash", "efficient", "math"), padded, padded, "test")
    with mock.patch("dca_monai.blocks.spatial_cross_attention.plan_spatial_attention", return_value=plan):
        got = attend(q, k, v, head**-0.5)
    torch.testing.assert_close(got, explicit_attention(q, k, v, head**-0.5), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("value_size", [1, 8, 15, 16, 24])
def test_explicit_pads_narrow_values_exactly(value_size: int) -> None:
    """BLAS gets at least MIN_VALUE_COLUMNS value columns, forward and backward; results and gradients are unchanged."""
    generator = torch.Generator().manual_seed(0)
    tokens, head = 12, 6  # neither is a value size above
    q, k = (torch.randn(2, 2, tokens, head, generator=generator, dtype=torch.float64, requires_grad=True) for _ in "qk")
    v = torch.randn(2, 2, tokens, value_size, generator=generator, dtype=torch.float64, requires_grad=True)
    calls = record_gemms(lambda: explicit_attention(q, k, v, 0.4).sum())
    sizes = {size for call in calls for operand in call.operands for size in operand.shape[-2:]}
    assert sizes == {tokens, head, max(value_size, MIN_VALUE_COLUMNS)}  # P v, dO v^T and P^T dO use the padded width
    got = explicit_attention(q, k, v, 0.4)
    expected = explicit_attention(q, k, v, 0.4, min_value_columns=1)  # never pads
    assert got.shape == (2, 2, tokens, value_size)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-14)
    grad = torch.randn_like(got)
    got_grads = torch.autograd.grad(got, (q, k, v), grad)
    for got_grad, expected_grad in zip(got_grads, torch.autograd.grad(expected, (q, k, v), grad)):
        torch.testing.assert_close(got_grad, expected_grad, rtol=0, atol=1e-13)


def test_explicit_softmax_in_float32_for_bfloat16() -> None:
    q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = explicit_attention(q, k, v, 0.3)
    torch.testing.assert_close(got.float(), explicit_attention(q, k, v, 0.3), rtol=3e-2, atol=3e-2)


def test_memory_of_the_paths_at_128_cubed() -> None:
    # 3D 128^3, default grid 16^3 = 4096 tokens, 4 heads, C = 480 (head 120), finest stage 32 channels
    explicit = attention_memory_bytes("explicit", 1, 4, 4096, 120, 8, 4, training=True)
    fused = attention_memory_bytes("fused", 1, 4, 4096, 120, 120, 4, training=True)
    assert explicit == 4 * 4096**2 * (4 + 4 + 8)  # logits + probabilities, and their two gradients
    assert fused < explicit / 20
    with pytest.raises(ValueError, match="path='naive'"):
        attention_memory_bytes("naive", 1, 4, 4096, 120, 8, 4, training=True)
