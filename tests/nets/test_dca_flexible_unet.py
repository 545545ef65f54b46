from __future__ import annotations

import inspect

import pytest
import torch
from monai.networks.nets import FlexibleUNet

from dca_monai.nets.dca_flexible_unet import DCAFlexibleUNet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
    assert_scripted_equals_eager,
)

# resnet10: skips of 64, 64, 128, 256 channels, a 512-channel bottleneck; a narrow decoder
SMALL = {"backbone": "resnet10", "decoder_channels": (32, 16, 16, 8, 8)}


@pytest.mark.parametrize(
    # sizes divisible by 32 (the decoder's padding does not reach odd sizes); one axis of 64 gives the
    # batch-normed stride-32 bottleneck more than one value per channel at batch 1
    "spatial_dims, batch, size",
    [(2, 1, (64, 96)), (2, 2, (32, 64)), (3, 1, (32, 64, 32)), (3, 2, (32, 32, 32))],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 2, "out_channels": 3, **SMALL}
    assert_refined_shape(DCAFlexibleUNet, kwargs, (batch, 2, *size), out_channels=3)


def test_dca_sees_the_documented_skips() -> None:
    net = DCAFlexibleUNet(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(2, 1, 64, 96))
    assert seen == [(2, 64, 32, 48), (2, 64, 16, 24), (2, 128, 8, 12), (2, 256, 4, 6)]


def test_constructor_is_the_parents_plus_dca() -> None:
    ours = list(inspect.signature(DCAFlexibleUNet).parameters.values())
    theirs = list(inspect.signature(FlexibleUNet).parameters.values())
    assert [(p.name, p.default) for p in ours[:-2]] == [(p.name, p.default) for p in theirs]
    assert [(p.name, p.default) for p in ours[-2:]] == [("dca", True), ("dca_args", None)]


@pytest.mark.parametrize(
    "spatial_dims, extra",
    [(2, {}), (3, {}), (2, {"upsample": "deconv", "decoder_bias": True, "is_pad": False})],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL, **extra}
    assert_dca_off_equals_parent(FlexibleUNet, DCAFlexibleUNet, kwargs, (2, 1, *([32] * spatial_dims)))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_parent_checkpoint_loads(FlexibleUNet, DCAFlexibleUNet, kwargs)


def test_gradients_reach_every_dca_parameter() -> None:
    kwargs = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_dca_gradients(DCAFlexibleUNet, kwargs, (2, 1, 64, 64))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_scripted_equals_eager(spatial_dims: int) -> None:
    torch.manual_seed(0)
    net = DCAFlexibleUNet(spatial_dims=spatial_dims, in_channels=1, out_channels=2, **SMALL)
    assert_scripted_equals_eager(net, (2, 1, *([32] * spatial_dims)))


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCAFlexibleUNet(1, 2, **SMALL, dca_args={"token_pool": 2, "n_blocks": 2})
    assert net.dca is not None
    assert net.dca.skip_channels == [64, 64, 128, 256]
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCAFlexibleUNet(1, 2, **SMALL, dca_args={"skip_channels": [1, 2, 3, 4]})
