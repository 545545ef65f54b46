from __future__ import annotations

import torch
from monai.networks.nets import VNet

from dca_monai.nets.dca_vnet import DCAVNet
from tests.nets.net_checks import assert_dca_off_equals_parent

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

# VNet's widths are fixed: skips of 16, 32, 64, 128 channels, a bottleneck of 256


def test_dca_sees_the_documented_skips() -> None:
    net = DCAVNet(spatial_dims=3, in_channels=1, out_channels=2)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(2, 1, 16, 32, 16))
    assert seen == [(2, 16, 16, 32, 16), (2, 32, 8, 16, 8), (2, 64, 4, 8, 4), (2, 128, 2, 4, 2)]


def test_dca_off_equals_parent_with_prelu() -> None:
    # train mode: VNet's up_tr64/up_tr32 always drop 0.5; the check draws the same masks for both
    kwargs = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "act": "prelu"}
    assert_dca_off_equals_parent(VNet, DCAVNet, kwargs, (2, 1, 16, 16))


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
