from __future__ import annotations

import torch
from monai.networks.nets import UNETR

from dca_monai.nets.dca_unetr import DCAUNETR
from tests.nets.net_checks import assert_dca_off_equals_parent

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

# skips of 4, 8, 16, 32 channels (spatial_heads=4 divides each and their sum 60); a narrow ViT
SMALL = {"feature_size": 4, "hidden_size": 48, "mlp_dim": 96, "num_heads": 4}


def test_dca_sees_the_documented_skips() -> None:
    net = DCAUNETR(spatial_dims=2, in_channels=1, out_channels=2, img_size=(32, 64), **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(1, 1, 32, 64))
    assert seen == [(1, 4, 32, 64), (1, 8, 16, 32), (1, 16, 8, 16), (1, 32, 4, 8)]


def test_dca_off_equals_parent_without_conv_blocks() -> None:
    kwargs = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "img_size": (32, 16), **SMALL}
    kwargs.update(conv_block=False, proj_type="perceptron", norm_name="batch")
    assert_dca_off_equals_parent(UNETR, DCAUNETR, kwargs, (2, 1, 32, 16))
