from __future__ import annotations

import torch
from monai.networks.nets import FlexibleUNet

from dca_monai.nets.dca_flexible_unet import DCAFlexibleUNet
from tests.nets.net_checks import assert_dca_off_equals_parent

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

# resnet10: skips of 64, 64, 128, 256 channels, a 512-channel bottleneck; a narrow decoder
SMALL = {"backbone": "resnet10", "decoder_channels": (32, 16, 16, 8, 8)}


def test_dca_sees_the_documented_skips() -> None:
    net = DCAFlexibleUNet(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(2, 1, 64, 96))
    assert seen == [(2, 64, 32, 48), (2, 64, 16, 24), (2, 128, 8, 12), (2, 256, 4, 6)]


def test_dca_off_equals_parent_with_deconv_decoder() -> None:
    kwargs = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, **SMALL}
    kwargs.update(upsample="deconv", decoder_bias=True, is_pad=False)
    assert_dca_off_equals_parent(FlexibleUNet, DCAFlexibleUNet, kwargs, (2, 1, 32, 32))
