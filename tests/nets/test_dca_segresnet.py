from __future__ import annotations

import pytest
import torch
from monai.networks.nets import SegResNet

from dca_monai.nets.dca_segresnet import DCASegResNet
from tests.nets.net_checks import assert_dca_off_equals_parent

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

# skips of 8, 16, 32 channels (spatial_heads=4 divides each and their sum 56); the bottleneck has 64
SMALL = {"init_filters": 8, "blocks_down": (1, 1, 1, 1), "blocks_up": (1, 1, 1)}


def test_dca_sees_the_documented_skips() -> None:
    net = DCASegResNet(spatial_dims=3, in_channels=1, out_channels=2, **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(1, 1, 16, 24, 32))
    assert seen == [(1, 8, 16, 24, 32), (1, 16, 8, 12, 16), (1, 32, 4, 6, 8)]


@pytest.mark.parametrize(
    "spatial_dims, extra",
    [
        (2, {"upsample_mode": "deconv", "use_conv_final": False}),
        (3, {"blocks_down": (1, 2, 1), "blocks_up": (1, 1)}),
    ],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL, **extra}
    assert_dca_off_equals_parent(SegResNet, DCASegResNet, kwargs, (2, 1, *([16] * spatial_dims)))
