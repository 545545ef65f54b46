from __future__ import annotations

import torch
from monai.networks.nets import AttentionUnet
from monai.networks.nets.attentionunet import AttentionLayer

from dca_monai.nets.dca_attentionunet import DCAAttentionUnet
from tests.nets.net_checks import assert_dca_off_equals_parent, assert_refined_shape

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

CHANNELS = (8, 8, 16, 16)
STRIDES = (2, 2, 2)


def small(spatial_dims: int, **kwargs) -> dict:
    return {
        "spatial_dims": spatial_dims,
        "in_channels": 1,
        "out_channels": 2,
        "channels": CHANNELS,
        "strides": STRIDES,
        **kwargs,
    }


def attention_layers(net: torch.nn.Module) -> list[AttentionLayer]:
    """The nested attention layers, outermost first."""
    layers = [net.model[1]]
    while isinstance(layers[-1].submodule, torch.nn.Sequential):
        layers.append(layers[-1].submodule[1])
    return layers


def test_output_shape_with_anisotropic_strides() -> None:
    kwargs = small(2, in_channels=2, out_channels=3, strides=((2, 1), (2, 2), (2, 2)))
    assert_refined_shape(DCAAttentionUnet, kwargs, (2, 2, 32, 12), out_channels=3)


def test_dca_off_equals_parent_with_one_skip() -> None:
    kwargs = small(2, channels=(8, 16), strides=STRIDES[:1])
    assert_dca_off_equals_parent(AttentionUnet, DCAAttentionUnet, kwargs, (2, 1, 16, 16))


def test_split_layers_keep_the_parent_layers() -> None:
    net = DCAAttentionUnet(**small(2), dca=False).eval()
    parent = AttentionUnet(**small(2)).eval()
    net.load_state_dict(parent.state_dict())
    layers = attention_layers(net)
    assert len(layers) == len(CHANNELS) - 1
    assert all(isinstance(layer, AttentionLayer) for layer in layers)
    # the taken-over layer still runs AttentionLayer.forward, recursively as the parent does
    x = torch.rand(1, 8, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(layers[0](x), parent.model[1](x), rtol=0, atol=0)


def test_taps_every_attention_layer_input() -> None:
    net = DCAAttentionUnet(**small(2)).eval()
    encoder = [net.model[0]] + [layer.submodule[0] for layer in attention_layers(net)[:-1]]
    seen: dict[str, list[torch.Tensor]] = {"encoder": [], "dca_in": [], "dca_out": [], "gated": []}
    for block in encoder:
        block.register_forward_hook(lambda module, args, output: seen["encoder"].append(output))
    net.dca.register_forward_hook(lambda module, args, output: seen["dca_in"].extend(args[0]))
    net.dca.register_forward_hook(lambda module, args, output: seen["dca_out"].extend(output))
    for layer in attention_layers(net):
        layer.attention.register_forward_hook(
            lambda module, args, kwargs, output: seen["gated"].append(kwargs["x"]), with_kwargs=True
        )
    with torch.no_grad():
        net(torch.rand(1, 1, 32, 24))
    assert net.dca.skip_channels == list(CHANNELS[:-1])
    assert [tuple(t.shape[1:]) for t in seen["dca_in"]] == [(8, 32, 24), (8, 16, 12), (16, 8, 6)]
    for tapped, encoded in zip(seen["dca_in"], seen["encoder"], strict=True):
        assert tapped is encoded
    # the attention gates run deepest first and gate the refined skips
    for gated, refined in zip(seen["gated"], reversed(seen["dca_out"]), strict=True):
        assert gated is refined
