from __future__ import annotations

import inspect
from collections.abc import Sequence

import pytest
import torch
from monai.networks.nets import SwinUNETR
from torch import nn

from dca_monai.nets.dca_swin_unetr import DCASwinUNETR
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
)

# skips of 12, 12, 24, 48, 96 channels; one Swin block per stage keeps the tests fast; group norm (unlike
# the default instance norm) accepts the 1-voxel stride-32 bottleneck of a 32-voxel input
SMALL = {"feature_size": 12, "depths": (1, 1, 1, 1), "norm_name": ("group", {"num_groups": 4})}


def assert_traced_equals_eager(net: nn.Module, input_shape: Sequence[int], atol: float = 1e-5) -> None:
    """``torch.jit.trace`` of the network gives the eager outputs (eval mode), also on a new input."""
    net = net.eval()
    # no trace check run and no graph optimisation: both only cost time in a test of correctness
    with torch.no_grad(), torch.jit.optimized_execution(False):
        traced = torch.jit.trace(net, torch.rand(*input_shape), check_trace=False)
        x = torch.rand(*input_shape)
        torch.testing.assert_close(traced(x), net(x), rtol=1e-4, atol=atol)


@pytest.mark.parametrize(
    # sizes must be divisible by 32 (no odd sizes)
    "spatial_dims, batch, size",
    [(2, 1, (64, 32)), (2, 2, (32, 96)), (3, 1, (32, 32, 64)), (3, 2, (32, 32, 32))],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 2, "out_channels": 3, **SMALL}
    assert_refined_shape(DCASwinUNETR, kwargs, (batch, 2, *size), out_channels=3)


def test_dca_sees_the_documented_skips() -> None:
    net = DCASwinUNETR(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(1, 1, 64, 96))
    assert seen == [(1, 12, 64, 96), (1, 12, 32, 48), (1, 24, 16, 24), (1, 48, 8, 12), (1, 96, 4, 6)]


def test_input_size_is_still_checked() -> None:
    net = DCASwinUNETR(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    with pytest.raises(ValueError, match="divisible"):
        net(torch.rand(1, 1, 48, 64))


def test_constructor_is_the_parents_plus_dca() -> None:
    ours = list(inspect.signature(DCASwinUNETR).parameters.values())
    theirs = [(p.name, p.default) for p in inspect.signature(SwinUNETR).parameters.values()]
    explicit = [(p.name, p.default) for p in ours[:-3]]
    # the arguments MONAI 1.5 and 1.6 share are explicit, in the parent's order; newer ones go through **swin_kwargs
    assert explicit == theirs[: len(explicit)]
    assert explicit[-1][0] == "use_v2"
    assert [(p.name, p.default) for p in ours[-3:-1]] == [("dca", True), ("dca_args", None)]
    assert ours[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_version_specific_parent_arguments_pass_through() -> None:
    extra = [p.name for p in inspect.signature(SwinUNETR).parameters.values()][len(SWIN_SHARED_ARGS) :]
    if not extra:
        pytest.skip(f"this MONAI's SwinUNETR has no arguments beyond {SWIN_SHARED_ARGS[-1]!r}")
    name = extra[-1]
    default = inspect.signature(SwinUNETR).parameters[name].default
    net = DCASwinUNETR(in_channels=1, out_channels=2, spatial_dims=2, **SMALL, **{name: default})
    assert net.dca is not None
    with pytest.raises(TypeError, match="not_an_argument"):
        DCASwinUNETR(in_channels=1, out_channels=2, spatial_dims=2, **SMALL, not_an_argument=1)


SWIN_SHARED_ARGS = [p.name for p in list(inspect.signature(DCASwinUNETR).parameters.values())[:-3]]


@pytest.mark.parametrize(
    "spatial_dims, extra",
    [
        (2, {}),
        (3, {}),
        # the parent's defaults (two Swin blocks per stage, instance norm) need one axis of 64 in training
        (2, {"depths": (2, 2, 2, 2), "norm_name": "instance"}),
        (2, {"use_v2": True, "normalize": False, "norm_name": "batch"}),
    ],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL, **extra}
    assert_dca_off_equals_parent(SwinUNETR, DCASwinUNETR, kwargs, (2, 1, 64, *([32] * (spatial_dims - 1))))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_parent_checkpoint_loads(SwinUNETR, DCASwinUNETR, kwargs)


def test_gradients_reach_every_dca_parameter() -> None:
    kwargs = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_dca_gradients(DCASwinUNETR, kwargs, (2, 1, 32, 32, 32))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_traced_equals_eager(spatial_dims: int) -> None:
    # SwinUNETR cannot be scripted (torch.jit.script fails inside its Swin transformer), so trace
    torch.manual_seed(0)
    net = DCASwinUNETR(spatial_dims=spatial_dims, in_channels=1, out_channels=2, **SMALL)
    assert_traced_equals_eager(net, (2, 1, *([32] * spatial_dims)))


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCASwinUNETR(
        in_channels=1, out_channels=2, spatial_dims=2, **SMALL, dca_args={"token_pool": 2, "n_blocks": 2}
    )
    assert net.dca is not None
    assert net.dca.skip_channels == [12, 12, 24, 48, 96]
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCASwinUNETR(in_channels=1, out_channels=2, spatial_dims=2, dca_args={"skip_channels": [1, 2, 3, 4, 5]})
