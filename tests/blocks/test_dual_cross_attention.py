from __future__ import annotations

import math

import pytest
import torch
from monai.networks.utils import convert_to_torchscript
from torch.profiler import ProfilerActivity, profile

from dca_monai import DCA, DualCrossAttention
from dca_monai.blocks import SpatialCrossAttention
from dca_monai.blocks.dual_cross_attention import TOKEN_BUDGET, max_grid_cells
from dca_monai.compat import convert_official_dca
from tests.blocks.dca_oracle import oracle_dca, random_official_state

CHANNELS = [8, 16, 24, 32]


def make_skips(batch: int, size: tuple[int, ...], channels: list[int], dtype=torch.float32) -> list[torch.Tensor]:
    """Skips fine to coarse: each stage halves the previous size (ceil), like a strided encoder."""
    skips, current = [], list(size)
    for c in channels:
        skips.append(torch.randn(batch, c, *current, dtype=dtype))
        current = [(s + 1) // 2 for s in current]
    return skips


def test_dca_alias_is_the_block() -> None:
    assert DCA is DualCrossAttention


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("token_pool", [1, 2])
@pytest.mark.parametrize(
    "size",
    [(32, 32), (48, 20), (37, 29), (16, 24, 40), (17, 9, 33), (20, 20, 12), (40,), (17,)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_output_shapes_equal_input_shapes(size: tuple[int, ...], token_pool: int, batch: int) -> None:
    block = DualCrossAttention(len(size), CHANNELS, token_pool=token_pool)
    skips = make_skips(batch, size, CHANNELS)
    for mode in (True, False):
        block.train(mode)
        outputs = block(skips)
        assert [o.shape for o in outputs] == [s.shape for s in skips]
        assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize(
    "size, token_pool, expected",
    [((32, 32), 1, [4, 4]), ((32, 48), 2, [2, 3]), ((37, 29), 1, [5, 4]), ((16, 24, 8), (1, 2, 4), [2, 1, 1])],
)
def test_token_grid_is_the_coarsest_skip_divided_by_token_pool(size, token_pool, expected) -> None:
    block = DualCrossAttention(len(size), CHANNELS, token_pool=token_pool)
    assert block.token_grid(make_skips(1, size, CHANNELS)) == expected


def _set_materialised_limit(block: DualCrossAttention, limit: int) -> None:
    for module in block.modules():
        if isinstance(module, SpatialCrossAttention):
            module.max_materialised_scores = limit


ORACLE_CASES = [
    # spatial_dims size, n_blocks, channel_heads, spatial_heads, channel_att, spatial_att, token_pool
    ((32, 32), 1, [1, 1, 1, 1], [4, 4, 4, 4], True, True, 1),
    ((40, 24), 2, [2, 2, 2, 2], [8, 8, 8, 8], True, True, 1),
    ((37, 29), 1, [1, 2, 4, 8], [2, 4, 8, 8], True, True, 2),
    ((32, 32), 1, [1, 1, 1, 1], [4, 4, 4, 4], True, False, 1),
    ((32, 32), 1, [1, 1, 1, 1], [4, 4, 4, 4], False, True, 1),
    ((16, 24, 32), 1, [1, 1, 1, 1], [4, 4, 4, 4], True, True, 1),
    ((17, 9, 33), 2, [2, 1, 2, 1], [4, 2, 4, 8], True, True, 1),
    ((32, 32, 16), 1, [1, 1, 1, 1], [4, 4, 4, 4], True, True, 2),
    ((37,), 1, [1, 1, 1, 1], [4, 4, 4, 4], True, True, 1),
    ((64,), 2, [2, 1, 2, 1], [2, 4, 8, 8], True, True, 3),
]


@pytest.mark.parametrize("fused", [False, True], ids=["materialised", "fused-sdpa"])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("case", ORACLE_CASES, ids=[str(i) for i in range(len(ORACLE_CASES))])
def test_block_equals_einsum_oracle(case, training: bool, fused: bool) -> None:
    size, n_blocks, channel_heads, spatial_heads, channel_att, spatial_att, token_pool = case
    torch.manual_seed(0)
    state = random_official_state(CHANNELS, n_blocks, len(size), channel_att, spatial_att)
    block = DualCrossAttention(
        len(size),
        CHANNELS,
        n_blocks=n_blocks,
        channel_heads=channel_heads,
        spatial_heads=spatial_heads,
        channel_attention=channel_att,
        spatial_attention=spatial_att,
        token_pool=token_pool,
    )
    block.load_state_dict(convert_official_dca(state), strict=True)
    block = block.double().train(training)
    if fused:
        _set_materialised_limit(block, 0)
    state64 = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}
    skips = make_skips(2, size, CHANNELS, dtype=torch.float64)
    expected = oracle_dca(
        skips,
        state64,
        block.token_grid(skips),
        n_blocks,
        channel_heads,
        spatial_heads,
        channel_att,
        spatial_att,
        training=training,
    )
    with torch.no_grad():
        actual = block(skips)
    for stage, (a, e) in enumerate(zip(actual, expected)):
        torch.testing.assert_close(a, e, rtol=1e-9, atol=1e-9, msg=f"stage {stage}")


def test_float32_matches_oracle_to_1e5() -> None:
    torch.manual_seed(1)
    state = random_official_state(CHANNELS, 1, 2)
    block = DualCrossAttention(2, CHANNELS).eval()
    block.load_state_dict(convert_official_dca(state), strict=True)
    skips = make_skips(2, (64, 64), CHANNELS)
    with torch.no_grad():
        actual = block(skips)
    expected = oracle_dca(skips, state, [8, 8])
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_gradients_reach_every_parameter(spatial_dims: int) -> None:
    torch.manual_seed(0)
    block = DualCrossAttention(spatial_dims, CHANNELS, n_blocks=2).train()
    skips = make_skips(2, (16,) * spatial_dims, CHANNELS)
    for s in skips:
        s.requires_grad_(True)
    sum(o.pow(2).mean() for o in block(skips)).backward()
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in skips)


def _attention_kernels(block: DualCrossAttention, skips: list[torch.Tensor]) -> set[str]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        sum(o.sum() for o in block(skips)).backward()
    return {event.key for event in prof.key_averages() if "attention" in event.key or "softmax" in event.key}


def test_large_token_grids_run_the_fused_sdpa_kernel_forward_and_backward() -> None:
    block = DualCrossAttention(2, CHANNELS, channel_attention=False).train()
    _set_materialised_limit(block, 0)
    kernels = _attention_kernels(block, make_skips(1, (64, 64), CHANNELS))
    assert any("flash_attention" in k and "backward" not in k for k in kernels), kernels
    assert any("flash_attention" in k and "backward" in k for k in kernels), kernels
    assert not any("softmax" in k or "_math" in k for k in kernels), kernels


def test_small_token_grids_materialise_the_scores_with_the_same_result() -> None:
    block = DualCrossAttention(2, CHANNELS).eval()
    skips = make_skips(2, (64, 64), CHANNELS)
    kernels = _attention_kernels(block, skips)
    assert any("softmax" in k for k in kernels) and not any("flash" in k for k in kernels), kernels
    with torch.no_grad():
        materialised = block(skips)
        _set_materialised_limit(block, 0)
        fused = block(skips)
    for a, b in zip(materialised, fused):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "norm, act", [(("instance", {"affine": True}), ("leakyrelu", {"negative_slope": 0.1})), (None, None)]
)
def test_norm_and_act_come_from_monai_factories(norm, act) -> None:
    block = DualCrossAttention(3, CHANNELS, norm=norm, act=act).train()
    adn = block.output_adn[0]
    if norm is None:
        assert not hasattr(adn, "N") and not hasattr(adn, "A")
    else:
        assert isinstance(adn.N, torch.nn.InstanceNorm3d)
        assert isinstance(adn.A, torch.nn.LeakyReLU)
    skips = make_skips(1, (16, 16, 16), CHANNELS)
    assert [o.shape for o in block(skips)] == [s.shape for s in skips]


def test_torchscript_via_monai_export_matches_eager(tmp_path) -> None:
    block = DualCrossAttention(3, CHANNELS, token_pool=(1, 2, 1)).eval()
    path = tmp_path / "dca.ts"
    convert_to_torchscript(block, filename_or_obj=str(path))
    loaded = torch.jit.load(str(path))
    skips = make_skips(2, (18, 12, 20), CHANNELS)
    with torch.no_grad():
        for a, e in zip(loaded(skips), block(skips)):
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6)


# ---- errors ----


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spatial_dims": 4}, r"spatial_dims=4 but 1, 2 or 3"),
        ({"skip_channels": []}, r"skip_channels is empty"),
        ({"skip_channels": [8, 0]}, r"skip_channels\[1\]=0 but a positive int"),
        ({"spatial_heads": 3}, r"spatial_heads\[0\]=3 does not divide skip_channels\[0\]=8"),
        ({"skip_channels": [8, 16, 24, 36], "spatial_heads": 8}, r"spatial_heads\[0\]=8 does not divide the total"),
        ({"channel_heads": [1, 1]}, r"channel_heads has 2 values but there are 4 skip stages"),
        ({"channel_heads": 16}, r"channel_heads\[0\]=16 does not divide skip_channels\[0\]=8"),
        ({"token_pool": 0}, r"token_pool=0 but a positive int"),
        ({"token_pool": (1, 2, 3)}, r"token_pool=\(1, 2, 3\) but a positive int or 2 positive ints"),
        ({"n_blocks": -1}, r"n_blocks=-1"),
    ],
)
def test_constructor_errors_name_the_argument(kwargs, message) -> None:
    args = {"spatial_dims": 2, "skip_channels": CHANNELS, **kwargs}
    with pytest.raises(ValueError, match=message):
        DualCrossAttention(**args)


def test_forward_error_wrong_number_of_skips() -> None:
    block = DualCrossAttention(2, CHANNELS)
    with pytest.raises(ValueError, match=r"got 3 skips but was built for 4"):
        block(make_skips(1, (32, 32), CHANNELS)[:3])


def test_forward_error_channel_mismatch() -> None:
    block = DualCrossAttention(2, CHANNELS)
    skips = make_skips(1, (32, 32), [8, 16, 20, 32])
    with pytest.raises(ValueError, match=r"skip_channels\[2\]=24 but skip 2 has 20 channels"):
        block(skips)


def test_forward_error_wrong_rank() -> None:
    block = DualCrossAttention(3, CHANNELS)
    with pytest.raises(ValueError, match=r"skip 0 has shape \[1, 8, 32, 32\] \(rank 4\) but rank 5"):
        block(make_skips(1, (32, 32), CHANNELS))


def test_forward_error_stage_smaller_than_the_next() -> None:
    block = DualCrossAttention(2, CHANNELS)
    skips = make_skips(1, (32, 32), CHANNELS)
    skips[2] = torch.randn(1, 24, 4, 8)
    skips[3] = torch.randn(1, 32, 4, 9)
    with pytest.raises(ValueError, match=r"skip 2 has spatial size \[4, 8\], smaller than skip 3 \[4, 9\]"):
        block(skips)


# ---- defaults that work for every configuration: automatic heads and token grid ----


def test_the_papers_configuration_resolves_to_the_papers_heads_and_grid() -> None:
    block = DualCrossAttention(2, [32, 64, 128, 256])
    assert block.spatial_heads == [4, 4, 4, 4] and block.channel_heads == [1, 1, 1, 1]
    assert block.token_pool is None
    assert block.token_grid(make_skips(1, (224, 224), [32, 64, 128, 256])) == [28, 28]


@pytest.mark.parametrize(
    "channels, spatial_heads",
    [
        ((12, 12, 13, 14), [3, 3, 1, 1]),  # total 51: 4 divides neither
        ((3, 4), [1, 1]),
        ((6, 10), [2, 2]),  # total 16
        ((16, 20, 21, 22), [1, 1, 1, 1]),  # total 79, prime
        ((24, 48, 96, 192), [4, 4, 4, 4]),
    ],
)
def test_automatic_heads_are_the_papers_where_they_divide_else_the_largest_that_does(channels, spatial_heads) -> None:
    block = DualCrossAttention(2, channels)
    assert block.spatial_heads == spatial_heads
    assert block.channel_heads == [1] * len(channels)
    total = sum(channels)
    for count, stage_channels in zip(block.spatial_heads, channels):
        assert stage_channels % count == 0 and total % count == 0
    skips = make_skips(1, (20, 20), list(channels))
    assert [o.shape for o in block(skips)] == [s.shape for s in skips]


def test_explicit_heads_keep_their_value_and_their_error() -> None:
    assert DualCrossAttention(2, CHANNELS, spatial_heads=2, channel_heads=[1, 2, 4, 8]).channel_heads == [1, 2, 4, 8]
    with pytest.raises(ValueError, match=r"spatial_heads\[0\]=4 does not divide the total skip channels 51"):
        DualCrossAttention(2, [12, 12, 13, 14], spatial_heads=4)


@pytest.mark.parametrize(
    "coarsest, expected",
    [
        ((4096,), [4096]),
        ((5000,), [2500]),
        ((28, 28), [28, 28]),
        ((64, 64), [64, 64]),
        ((65, 20), [32, 20]),
        ((130, 7), [43, 7]),
        ((12, 12, 12), [12, 12, 12]),
        ((16, 16, 16), [16, 16, 16]),
        ((24, 24, 24), [12, 12, 12]),
        ((46, 46, 46), [15, 15, 15]),
        ((46, 17, 3), [15, 8, 3]),
    ],
)
def test_automatic_token_grid_pools_each_axis_by_the_smallest_factor_within_the_budget(coarsest, expected) -> None:
    block = DualCrossAttention(len(coarsest), [4])
    assert block.token_grid([torch.zeros(()).expand(1, 4, *coarsest)]) == expected


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_automatic_token_grid_stays_within_the_budget_and_keeps_small_grids(spatial_dims: int) -> None:
    block = DualCrossAttention(spatial_dims, [4])
    cap = max_grid_cells(spatial_dims)
    assert cap**spatial_dims <= TOKEN_BUDGET < (cap + 1) ** spatial_dims
    for size in [*range(1, 3 * cap + 2), 10 * cap + 3]:
        grid = block.token_grid([torch.zeros(()).expand(1, 4, *[size] * spatial_dims)])  # no memory
        assert math.prod(grid) <= TOKEN_BUDGET
        assert grid == [size] * spatial_dims if size <= cap else grid[0] >= cap // 2


@pytest.mark.parametrize(
    "size, factor", [((16, 24, 8), (1, 1, 1)), ((48, 40, 16), (2, 2, 1)), ((72, 24, 100), (3, 1, 4))]
)
def test_automatic_token_pool_computes_what_the_same_explicit_token_pool_computes(size, factor) -> None:
    channels = [4, 8]  # two stages: the coarsest skip is half the input
    torch.manual_seed(0)
    automatic = DualCrossAttention(3, channels).eval()
    explicit = DualCrossAttention(3, channels, token_pool=factor).eval()
    explicit.load_state_dict(automatic.state_dict())
    skips = make_skips(1, size, channels)
    assert automatic.token_grid(skips) == [s // f for s, f in zip(skips[-1].shape[2:], factor)]
    with torch.no_grad():
        for a, e in zip(automatic(skips), explicit(skips)):
            torch.testing.assert_close(a, e, rtol=0, atol=0)


@pytest.mark.parametrize("capture", ["script", "trace"])
def test_captured_automatic_token_pool_follows_the_input_size(capture: str) -> None:
    channels = [4, 8]
    torch.manual_seed(0)
    block = DualCrossAttention(3, channels).eval()
    small, large = make_skips(1, (16, 16, 16), channels), make_skips(2, (40, 36, 20), channels)
    with torch.no_grad():
        captured = torch.jit.script(block) if capture == "script" else torch.jit.trace(block, (small,))
        assert block.token_grid(large) == [10, 9, 10]  # factors 2, 2, 1: not the small input's 1
        for skips in (small, large):
            for a, e in zip(captured(skips), block(skips)):
                torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)
