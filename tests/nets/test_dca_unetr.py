from __future__ import annotations

import inspect

import pytest
import torch
from monai.networks.nets import UNETR

from dca_monai.nets.dca_unetr import DCAUNETR
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
    assert_scripted_equals_eager,
)

# skips of 4, 8, 16, 32 channels (spatial_heads=4 divides each and their sum 60); a narrow ViT
SMALL = {"feature_size": 4, "hidden_size": 48, "mlp_dim": 96, "num_heads": 4}


@pytest.mark.parametrize(
    # UNETR's input size is fixed at construction and divisible by 16 (no odd sizes)
    "spatial_dims, batch, size",
    [(2, 1, (32, 48)), (2, 2, (64, 16)), (3, 1, (16, 32, 16)), (3, 2, (32, 16, 16))],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 2, "out_channels": 3, "img_size": size, **SMALL}
    assert_refined_shape(DCAUNETR, kwargs, (batch, 2, *size), out_channels=3)


def test_dca_sees_the_documented_skips() -> None:
    net = DCAUNETR(spatial_dims=2, in_channels=1, out_channels=2, img_size=(32, 64), **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(1, 1, 32, 64))
    assert seen == [(1, 4, 32, 64), (1, 8, 16, 32), (1, 16, 8, 16), (1, 32, 4, 8)]


def test_constructor_is_the_parents_plus_dca() -> None:
    ours = list(inspect.signature(DCAUNETR).parameters.values())
    theirs = list(inspect.signature(UNETR).parameters.values())
    assert [(p.name, p.default) for p in ours[:-2]] == [(p.name, p.default) for p in theirs]
    assert [(p.name, p.default) for p in ours[-2:]] == [("dca", True), ("dca_args", None)]


@pytest.mark.parametrize(
    "spatial_dims, extra",
    [(2, {}), (3, {}), (2, {"conv_block": False, "proj_type": "perceptron", "norm_name": "batch"})],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    size = (32, *([16] * (spatial_dims - 1)))
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, "img_size": size, **SMALL, **extra}
    assert_dca_off_equals_parent(UNETR, DCAUNETR, kwargs, (2, 1, *size))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, "img_size": 16, **SMALL}
    assert_parent_checkpoint_loads(UNETR, DCAUNETR, kwargs)


def test_gradients_reach_every_dca_parameter() -> None:
    kwargs = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, "img_size": (16, 16, 32), **SMALL}
    assert_dca_gradients(DCAUNETR, kwargs, (2, 1, 16, 16, 32))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_scripted_equals_eager(spatial_dims: int) -> None:
    torch.manual_seed(0)
    net = DCAUNETR(spatial_dims=spatial_dims, in_channels=1, out_channels=2, img_size=32, **SMALL)
    assert_scripted_equals_eager(net, (2, 1, *([32] * spatial_dims)))


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCAUNETR(1, 2, img_size=32, spatial_dims=2, **SMALL, dca_args={"token_pool": 2, "n_blocks": 2})
    assert net.dca is not None
    assert net.dca.skip_channels == [4, 8, 16, 32]
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCAUNETR(1, 2, img_size=32, spatial_dims=2, **SMALL, dca_args={"skip_channels": [1, 2, 3, 4]})
