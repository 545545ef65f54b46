from __future__ import annotations

import pytest
import torch

from dca_monai import DualCrossAttention
from dca_monai.compat import convert_official_dca, token_pool_for_patch
from tests.blocks.dca_oracle import oracle_dca, random_official_state

CHANNELS = [8, 16, 24, 32]


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("n_blocks", [1, 2])
def test_converted_weights_load_strictly_and_reproduce_the_oracle(n_blocks: int, training: bool) -> None:
    torch.manual_seed(0)
    state = random_official_state(CHANNELS, n_blocks, 2)
    block = DualCrossAttention(2, CHANNELS, n_blocks=n_blocks).train(training)
    block.load_state_dict(convert_official_dca(state), strict=True)
    skips = [torch.randn(2, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate(CHANNELS)]
    with torch.no_grad():
        actual = block(skips)
    for a, e in zip(actual, oracle_dca(skips, state, [4, 4], n_blocks=n_blocks, training=training)):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


def test_prefix_selects_the_dca_module_of_a_whole_model() -> None:
    state = {f"DCA.{k}": v for k, v in random_official_state(CHANNELS, 1, 2).items()}
    state["conv1.conv1.conv.weight"] = torch.zeros(3)
    converted = convert_official_dca(state, prefix="DCA.")
    DualCrossAttention(2, CHANNELS).load_state_dict(converted, strict=True)


def test_input_is_not_modified() -> None:
    state = random_official_state(CHANNELS, 1, 2)
    before = {k: v.clone() for k, v in state.items()}
    convert_official_dca(state)
    assert state.keys() == before.keys()
    assert all(torch.equal(state[k], before[k]) for k in state)


def test_ablation_without_spatial_attention_converts() -> None:
    state = random_official_state(CHANNELS, 1, 2, spatial_att=False)
    block = DualCrossAttention(2, CHANNELS, spatial_attention=False)
    block.load_state_dict(convert_official_dca(state), strict=True)


def test_error_when_no_dca_keys() -> None:
    with pytest.raises(ValueError, match=r"no key 'avg_map.0.proj.depthwise.weight'.*prefix='DCA.'"):
        convert_official_dca({"conv1.weight": torch.zeros(1)})


def test_error_names_a_missing_key() -> None:
    state = random_official_state(CHANNELS, 1, 2)
    del state["attention.0.s_attention.2.k_map.proj.depthwise.bias"]
    with pytest.raises(ValueError, match=r"no key 'attention.0.s_attention.2.k_map.proj.depthwise.bias'"):
        convert_official_dca(state)


def test_error_lists_leftover_keys() -> None:
    state = random_official_state(CHANNELS, 1, 2)
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"1 keys under prefix '' that are not DCA weights: 'extra.weight'"):
        convert_official_dca(state)


@pytest.mark.parametrize("coarsest, patch, expected", [(28, 28, 1), (28, 14, 2), (28, 7, 4)])
def test_token_pool_for_patch(coarsest: int, patch: int, expected: int) -> None:
    assert token_pool_for_patch(coarsest, patch) == expected


def test_token_pool_for_patch_rejects_finer_grids() -> None:
    with pytest.raises(ValueError, match=r"patch=56 does not divide the coarsest skip size 28"):
        token_pool_for_patch(28, 56)
