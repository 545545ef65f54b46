from __future__ import annotations

import inspect

import pytest
import torch
from monai.networks.nets import SegResNet

from dca_monai.nets.dca_seg_res_net import DCASegResNet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
    assert_scripted_equals_eager,
)

# skips of 8, 16, 32 channels (spatial_heads=4 divides each and their sum 56); the bottleneck has 64
SMALL = {"init_filters": 8, "blocks_down": (1, 1, 1, 1), "blocks_up": (1, 1, 1)}


@pytest.mark.parametrize(
    # SegResNet adds upsampled features to its skips, so every size must be divisible by 8 (no odd sizes)
    "spatial_dims, batch, size",
    [(2, 1, (40, 24)), (2, 2, (16, 56)), (3, 1, (16, 24, 32)), (3, 2, (8, 16, 24))],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 2, "out_channels": 3, **SMALL}
    assert_refined_shape(DCASegResNet, kwargs, (batch, 2, *size), out_channels=3)


def test_dca_sees_the_documented_skips() -> None:
    net = DCASegResNet(spatial_dims=3, in_channels=1, out_channels=2, **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(1, 1, 16, 24, 32))
    assert seen == [(1, 8, 16, 24, 32), (1, 16, 8, 12, 16), (1, 32, 4, 6, 8)]


def test_constructor_is_the_parents_plus_dca() -> None:
    ours = list(inspect.signature(DCASegResNet).parameters.values())
    theirs = list(inspect.signature(SegResNet).parameters.values())
    assert [(p.name, p.default) for p in ours[:-2]] == [(p.name, p.default) for p in theirs]
    assert [(p.name, p.default) for p in ours[-2:]] == [("dca", True), ("dca_args", None)]


@pytest.mark.parametrize(
    "spatial_dims, extra",
    [
        (2, {}),
        (3, {}),
        (2, {"upsample_mode": "deconv", "use_conv_final": False}),
        (3, {"blocks_down": (1, 2, 1), "blocks_up": (1, 1)}),
    ],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL, **extra}
    assert_dca_off_equals_parent(SegResNet, DCASegResNet, kwargs, (2, 1, *([16] * spatial_dims)))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_parent_checkpoint_loads(SegResNet, DCASegResNet, kwargs)


def test_gradients_reach_every_dca_parameter() -> None:
    kwargs = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_dca_gradients(DCASegResNet, kwargs, (2, 1, 16, 16, 16))


@pytest.mark.parametrize("spatial_dims, dca", [(2, True), (3, True), (2, False)])
def test_scripted_equals_eager(spatial_dims: int, dca: bool) -> None:
    torch.manual_seed(0)
    net = DCASegResNet(spatial_dims=spatial_dims, in_channels=1, out_channels=2, dca=dca, **SMALL)
    assert_scripted_equals_eager(net, (2, 1, *([16] * spatial_dims)))


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCASegResNet(spatial_dims=2, **SMALL, dca_args={"token_pool": 2, "n_blocks": 2})
    assert net.dca is not None
    assert net.dca.skip_channels == [8, 16, 32]
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCASegResNet(spatial_dims=2, dca_args={"skip_channels": [1, 2, 3]})
