from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch
from monai.networks.nets import VNet
from torch import nn

from dca_monai.nets.dca_vnet import DCAVNet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
    assert_scripted_equals_eager,
)

# VNet's widths are fixed: skips of 16, 32, 64, 128 channels, a bottleneck of 256


def _without_dropout(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """``factory`` with every dropout of the built net set to p=0 (VNet's up_tr64/up_tr32 always drop 0.5)."""

    def build(**kwargs: Any) -> nn.Module:
        net = factory(**kwargs)
        for module in net.modules():
            if isinstance(module, nn.modules.dropout._DropoutNd):
                module.p = 0.0
        return net

    return build


@pytest.mark.parametrize(
    # VNet concatenates upsampled features with its skips: sizes divisible by 16 (no odd sizes); batch-1
    # training needs a bottleneck of more than one voxel for its batch norm
    "spatial_dims, batch, size",
    [(2, 1, (32, 48)), (2, 2, (16, 64)), (3, 1, (16, 16, 32)), (3, 2, (16, 32, 16))],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 2, "out_channels": 3}
    assert_refined_shape(DCAVNet, kwargs, (batch, 2, *size), out_channels=3)


def test_dca_sees_the_documented_skips() -> None:
    net = DCAVNet(spatial_dims=3, in_channels=1, out_channels=2)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(2, 1, 16, 32, 16))
    assert seen == [(2, 16, 16, 32, 16), (2, 32, 8, 16, 8), (2, 64, 4, 8, 4), (2, 128, 2, 4, 2)]


def test_constructor_is_the_parents_plus_dca() -> None:
    ours = list(inspect.signature(DCAVNet).parameters.values())
    theirs = list(inspect.signature(VNet).parameters.values())
    assert [(p.name, p.default) for p in ours[:-2]] == [(p.name, p.default) for p in theirs]
    assert [(p.name, p.default) for p in ours[-2:]] == [("dca", True), ("dca_args", None)]


@pytest.mark.parametrize("spatial_dims, act", [(2, "prelu"), (3, ("elu", {"inplace": True}))])
def test_dca_off_equals_parent(spatial_dims: int, act: str | tuple) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, "act": act}
    shape = (2, 1, *([16] * spatial_dims))
    assert_dca_off_equals_parent(_without_dropout(VNet), _without_dropout(DCAVNet), kwargs, shape)


def test_dca_off_equals_parent_with_dropout() -> None:
    torch.manual_seed(0)
    reference = VNet(spatial_dims=2, dropout_prob_down=0.25).train()
    torch.manual_seed(0)
    plain = DCAVNet(spatial_dims=2, dropout_prob_down=0.25, dca=False).train()
    x = torch.rand(2, 1, 32, 16)
    with torch.no_grad():
        torch.manual_seed(1)
        expected = reference(x)
        torch.manual_seed(1)
        torch.testing.assert_close(plain(x), expected, rtol=0, atol=0)


def test_dropout_settings_are_the_parents() -> None:
    kwargs = {"spatial_dims": 2, "dropout_prob_down": 0.25, "dropout_prob_up": (0.125, 0.375), "dropout_dim": 2}
    ours, theirs = DCAVNet(**kwargs), VNet(**kwargs)
    assert str(ours.down_tr256) == str(theirs.down_tr256)
    assert str(ours.up_tr256) == str(theirs.up_tr256)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2}
    assert_parent_checkpoint_loads(VNet, DCAVNet, kwargs)


def test_gradients_reach_every_dca_parameter() -> None:
    kwargs = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2}
    assert_dca_gradients(DCAVNet, kwargs, (2, 1, 16, 16, 16))


@pytest.mark.parametrize("spatial_dims, dca", [(2, True), (3, True), (2, False)])
def test_scripted_equals_eager(spatial_dims: int, dca: bool) -> None:
    torch.manual_seed(0)
    net = DCAVNet(spatial_dims=spatial_dims, in_channels=1, out_channels=2, dca=dca)
    assert_scripted_equals_eager(net, (2, 1, *([16] * spatial_dims)))


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCAVNet(spatial_dims=2, dca_args={"token_pool": 2, "n_blocks": 2, "spatial_heads": 8})
    assert net.dca is not None
    assert net.dca.skip_channels == [16, 32, 64, 128]
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCAVNet(spatial_dims=2, dca_args={"skip_channels": [1, 2, 3, 4]})
