from __future__ import annotations

import torch

from dca_monai.nets import DCABasicUNet

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py


def test_dca_sees_the_documented_skips() -> None:
    net = DCABasicUNet(spatial_dims=2, in_channels=1, out_channels=2, features=(8, 8, 16, 16, 32, 8)).eval()
    encoder = [net.conv_0, net.down_1, net.down_2, net.down_3]
    seen: dict[str, list[torch.Tensor]] = {"encoder": [], "dca_in": [], "dca_out": [], "decoded": []}
    for block in encoder:
        block.register_forward_hook(lambda module, args, output: seen["encoder"].append(output))
    net.dca.register_forward_hook(lambda module, args, output: seen["dca_in"].extend(args[0]))
    net.dca.register_forward_hook(lambda module, args, output: seen["dca_out"].extend(output))
    for upcat in (net.upcat_4, net.upcat_3, net.upcat_2, net.upcat_1):
        upcat.register_forward_hook(lambda module, args, output: seen["decoded"].append(args[1]))
    with torch.no_grad():
        net(torch.rand(1, 1, 32, 48))
    assert [tuple(t.shape[1:]) for t in seen["dca_in"]] == [(8, 32, 48), (8, 16, 24), (16, 8, 12), (16, 4, 6)]
    for tapped, encoded in zip(seen["dca_in"], seen["encoder"], strict=True):
        assert tapped is encoded
    # the decoder consumes the refined skips, deepest first
    for consumed, refined in zip(seen["decoded"], reversed(seen["dca_out"]), strict=True):
        assert consumed is refined
