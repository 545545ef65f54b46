from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.networks.nets import AttentionUnet
from monai.networks.nets.attentionunet import AttentionLayer

from dca_monai.nets.dca_attention_unet import DCAAttentionUnet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
    assert_scripted_equals_eager,
)

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


@pytest.mark.parametrize(
    "spatial_dims, batch, size, strides",
    [
        (2, 1, (40, 24), STRIDES),  # bottleneck 5 x 3: odd sizes below the skips
        (2, 2, (32, 12), ((2, 1), (2, 2), (2, 2))),  # anisotropic strides
        (3, 1, (16, 24, 8), STRIDES),
        (3, 2, (24, 8, 16), STRIDES),
    ],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...], strides: tuple) -> None:
    kwargs = small(spatial_dims, in_channels=2, out_channels=3, strides=strides)
    assert_refined_shape(DCAAttentionUnet, kwargs, (batch, 2, *size), out_channels=3)


@pytest.mark.parametrize("spatial_dims, channels", [(2, CHANNELS), (3, CHANNELS), (2, (8, 16))])
def test_dca_off_equals_parent(spatial_dims: int, channels: tuple[int, ...]) -> None:
    kwargs = small(spatial_dims, channels=channels, strides=STRIDES[: len(channels) - 1])
    assert_dca_off_equals_parent(AttentionUnet, DCAAttentionUnet, kwargs, (2, 1, *([16] * spatial_dims)))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    assert_parent_checkpoint_loads(AttentionUnet, DCAAttentionUnet, small(spatial_dims))


def test_gradients_reach_every_dca_parameter() -> None:
    assert_dca_gradients(DCAAttentionUnet, small(3), (2, 1, 16, 16, 8))


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


@pytest.mark.parametrize("dca", [True, False])
def test_scripted_equals_eager(dca: bool) -> None:
    assert_scripted_equals_eager(DCAAttentionUnet(**small(2), dca=dca), (2, 1, 32, 24))


def test_scripted_file_round_trip(tmp_path: Path) -> None:
    net = DCAAttentionUnet(**small(3)).eval()
    path = tmp_path / "dca_attention_unet.ts"
    torch.jit.save(torch.jit.script(net), path)
    loaded = torch.jit.load(path)
    assert list(loaded.state_dict()) == list(net.state_dict())
    x = torch.rand(1, 1, 16, 16, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), rtol=1e-4, atol=1e-5)


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCAAttentionUnet(**small(2), dca_args={"token_pool": 2, "n_blocks": 2})
    assert net.dca is not None
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCAAttentionUnet(**small(2), dca_args={"skip_channels": [8, 8, 16]})
