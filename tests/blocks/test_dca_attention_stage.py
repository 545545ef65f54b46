from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import dca_monai.blocks
from dca_monai.blocks import DCAAttentionStage, DualCrossAttention, StageLayerNorm, StageLayout

CHANNELS = (4, 8)


def layout() -> StageLayout:
    return StageLayout.build(CHANNELS, channel_heads=1, spatial_heads=2)


def tokens(batch: int = 2, count: int = 6) -> torch.Tensor:
    return torch.randn(batch, count, sum(CHANNELS))


def test_name_does_not_shadow_monais_cross_attention_block() -> None:
    assert not hasattr(dca_monai.blocks, "CrossAttentionBlock")
    assert DCAAttentionStage.__module__ == "dca_monai.blocks.dca_attention_stage"


def test_state_dict_keys_of_existing_checkpoints() -> None:
    """Keys written before the class was renamed (``blocks.j.*`` of DualCrossAttention) still load."""
    saved_keys = {
        f"blocks.1.{kind}_{part}"
        for kind in ("channel", "spatial")
        for part in (
            "norm.norms.0.weight",
            "norm.norms.0.bias",
            "norm.norms.1.weight",
            "norm.norms.1.bias",
            "attention.query_weight",
            "attention.query_bias",
            "attention.key_weight",
            "attention.key_bias",
            "attention.value_weight",
            "attention.value_bias",
            "attention.out_weight",
            "attention.out_bias",
        )
    }
    state = DualCrossAttention(2, CHANNELS, n_blocks=2, spatial_heads=2).state_dict()
    block_keys = {key for key in state if key.startswith("blocks.1.")}
    assert block_keys == saved_keys, sorted(block_keys ^ saved_keys)


@pytest.mark.parametrize("channel_attention, spatial_attention", [(True, False), (False, True), (True, True)])
def test_each_part_is_a_residual_on_its_own_norm(channel_attention: bool, spatial_attention: bool) -> None:
    stage = DCAAttentionStage(layout(), channel_attention, spatial_attention).eval()
    x = tokens()
    expected = x
    if channel_attention:
        expected = expected + stage.channel_attention(stage.channel_norm(expected))
    if spatial_attention:
        expected = expected + stage.spatial_attention(stage.spatial_norm(expected))
    assert torch.allclose(stage(x), expected, atol=1e-6)
    assert not torch.allclose(stage(x), x, atol=1e-4)


def test_both_parts_off_is_the_identity() -> None:
    stage = DCAAttentionStage(layout(), channel_attention=False, spatial_attention=False)
    x = tokens()
    assert torch.equal(stage(x), x)
    assert list(stage.parameters()) == []


def test_stage_layer_norm_normalises_every_stage_separately() -> None:
    norm = StageLayerNorm(layout())
    with torch.no_grad():
        for stage_norm in norm.norms:
            stage_norm.weight.uniform_(0.5, 1.5)
            stage_norm.bias.uniform_(-0.5, 0.5)
    x = tokens() * 3 + 1
    parts = x.split(list(CHANNELS), dim=-1)
    expected = torch.cat(
        [F.layer_norm(p, (c,), n.weight, n.bias, eps=1e-6) for p, c, n in zip(parts, CHANNELS, norm.norms)], dim=-1
    )
    assert torch.allclose(norm(x), expected, atol=1e-6)
    whole = F.layer_norm(x, (sum(CHANNELS),), eps=1e-6)
    assert not torch.allclose(norm(x), whole, atol=1e-3)
