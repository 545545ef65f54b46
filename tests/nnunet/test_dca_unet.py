"""``DCAUNet`` on small stand-ins with the structure of nnU-Net's networks (no nnunetv2 needed).

The same checks on nnU-Net's real ``PlainConvUNet`` and ``ResidualEncoderUNet`` run in the nnU-Net
environment (``tests/nnunet/test_trainers.py``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dca_monai.nnunet.dca_unet import DCAUNet

CHANNELS = [4, 8, 8]


class StandInEncoder(nn.Module):
    """Stride-2 stages returning every stage's output, fine to coarse (as nnU-Net's encoders)."""

    def __init__(self, conv_op: type[nn.Module] = nn.Conv3d, return_skips: bool = True) -> None:
        super().__init__()
        self.conv_op, self.return_skips, self.output_channels = conv_op, return_skips, list(CHANNELS)
        inputs = [1, *CHANNELS[:-1]]
        self.stages = nn.ModuleList(
            conv_op(i, o, 3, stride=1 if s == 0 else 2, padding=1) for s, (i, o) in enumerate(zip(inputs, CHANNELS))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


class StandInDecoder(nn.Module):
    """Takes the encoder's list, bottleneck last; ``deep_supervision`` adds the coarser output."""

    def __init__(self) -> None:
        super().__init__()
        self.deep_supervision = True
        self.seg_layers = nn.ModuleList([nn.Conv3d(c, 2, 1) for c in CHANNELS[:-1]])

    def forward(self, stages: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        x = stages[-1]
        outputs = []
        for level in range(len(stages) - 2, -1, -1):
            x = F.interpolate(x, size=stages[level].shape[2:])[:, : stages[level].shape[1]] + stages[level]
            outputs.append(self.seg_layers[level](x))
        return outputs[::-1] if self.deep_supervision else outputs[-1]


class StandInUNet(nn.Module):
    def __init__(self, **encoder_args: object) -> None:
        super().__init__()
        self.encoder = StandInEncoder(**encoder_args)  # type: ignore[arg-type]
        self.decoder = StandInDecoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return self.decoder(self.encoder(x))


def test_keys_are_the_plain_networks_plus_dca() -> None:
    plain = StandInUNet()
    plain_keys = set(plain.state_dict())
    network = DCAUNet(plain, {"spatial_heads": 2})
    keys = set(network.state_dict())
    assert plain_keys < keys
    assert keys - plain_keys and all(key.startswith("dca.") for key in keys - plain_keys)
    assert network.dca.skip_channels == CHANNELS[:-1]  # the bottleneck is not refined
    assert network.decoder is plain.decoder and network.encoder is plain.encoder


def test_forward_refines_skips_not_bottleneck_and_keeps_deep_supervision() -> None:
    torch.manual_seed(0)
    plain = StandInUNet()
    network = DCAUNet(plain, {"spatial_heads": 2}).eval()
    x = torch.randn(2, 1, 12, 10, 8)
    seen: list[list[torch.Tensor]] = []
    network.decoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    stages = plain.encoder(x)
    out = network(x)
    assert isinstance(out, list) and [o.shape for o in out] == [(2, 2, 12, 10, 8), (2, 2, 6, 5, 4)]
    assert torch.equal(seen[0][-1], stages[-1])  # bottleneck untouched
    assert not torch.allclose(seen[0][0], stages[0])  # skips refined
    network.decoder.deep_supervision = False
    assert network(x).shape == (2, 2, 12, 10, 8)


def test_2d() -> None:
    class UNet2D(StandInUNet):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self.encoder = StandInEncoder(conv_op=nn.Conv2d)
            self.decoder = nn.Identity()

    network = DCAUNet(UNet2D(), {"spatial_heads": 2})
    assert network.dca.spatial_dims == 2
    stages = network(torch.randn(1, 1, 16, 12))
    assert [s.shape[2:] for s in stages] == [(16, 12), (8, 6), (4, 3)]


@pytest.mark.parametrize(
    ("network", "message"),
    [
        (nn.Sequential(nn.Conv3d(1, 2, 3)), "cannot add DCA to torch.nn.modules.container.Sequential"),
        (StandInUNet(return_skips=False), "return_skips=False"),
        (StandInUNet(conv_op=nn.Conv1d), "conv_op=<class 'torch.nn.modules.conv.Conv1d'>"),
    ],
)
def test_unwrappable_network_names_class_and_expectation(network: nn.Module, message: str) -> None:
    with pytest.raises(TypeError, match="expected a network with exactly the children 'encoder' and 'decoder'") as e:
        DCAUNet(network)
    assert message in str(e.value)


def test_single_stage_encoder_is_rejected() -> None:
    plain = StandInUNet()
    plain.encoder.output_channels = [4]
    with pytest.raises(ValueError, match="1 encoder stage"):
        DCAUNet(plain)


def test_accepts_plain_weights_loads_a_plain_state_dict_and_keeps_dca() -> None:
    torch.manual_seed(0)
    source = StandInUNet()
    network = DCAUNet(StandInUNet(), {"spatial_heads": 2})
    dca_before = {k: v.clone() for k, v in network.dca.state_dict().items()}
    plain_state = source.state_dict()
    with pytest.raises(RuntimeError, match="Missing key"):
        network.load_state_dict(plain_state)  # the whole network is required by default
    network.accepts_plain_weights = True
    assert set(network.state_dict()) == set(plain_state)  # what nnU-Net's pretrained loader compares
    network.load_state_dict(plain_state)
    network.accepts_plain_weights = False
    state = network.state_dict()
    assert all(torch.equal(state[k], v) for k, v in plain_state.items())
    assert all(torch.equal(state["dca." + k], v) for k, v in dca_before.items())
    with pytest.raises(RuntimeError, match="Unexpected key"):  # strict still applies to other keys
        network.accepts_plain_weights = True
        network.load_state_dict({**plain_state, "extra.weight": torch.zeros(1)})
