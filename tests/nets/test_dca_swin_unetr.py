from __future__ import annotations

import inspect

import pytest
import torch
from monai.networks.nets import SwinUNETR

from dca_monai.nets.dca_swin_unetr import DCASwinUNETR
from tests.nets.net_checks import assert_dca_off_equals_parent

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

# skips of 12, 12, 24, 48, 96 channels; one Swin block per stage keeps the tests fast; group norm (unlike
# the default instance norm) accepts the 1-voxel stride-32 bottleneck of a 32-voxel input
SMALL = {"feature_size": 12, "depths": (1, 1, 1, 1), "norm_name": ("group", {"num_groups": 4})}


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
    # the arguments MONAI 1.5 and 1.6 share are explicit, in the parent's order (checked for every net in
    # test_net_contract.py); newer ones go through **swin_kwargs
    ours = list(inspect.signature(DCASwinUNETR).parameters.values())
    assert [p.name for p in ours[-4:-1]] == ["use_v2", "dca", "dca_args"]
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
        # the parent's defaults (two Swin blocks per stage, instance norm) need one axis of 64 in training
        (2, {"depths": (2, 2, 2, 2), "norm_name": "instance"}),
        (2, {"use_v2": True, "normalize": False, "norm_name": "batch"}),
    ],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL, **extra}
    assert_dca_off_equals_parent(SwinUNETR, DCASwinUNETR, kwargs, (2, 1, 64, *([32] * (spatial_dims - 1))))
