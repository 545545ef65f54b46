"""The table of DCA networks: each with its MONAI parent and the arguments to build small and typical ones.

One place for what the tests (``tests/nets/test_net_contract.py``), ``scripts/count_parameters.py``
and ``scripts/bench_dca.py`` run over: adding a DCA network means adding its row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monai.networks import nets as monai_nets
from torch import nn

from dca_monai.nets.dca_attentionunet import DCAAttentionUnet
from dca_monai.nets.dca_basic_unet import DCABasicUNet
from dca_monai.nets.dca_dynunet import DCADynUNet
from dca_monai.nets.dca_flexible_unet import DCAFlexibleUNet
from dca_monai.nets.dca_segresnet import DCASegResNet
from dca_monai.nets.dca_swin_unetr import DCASwinUNETR
from dca_monai.nets.dca_unetr import DCAUNETR
from dca_monai.nets.dca_vnet import DCAVNet

__all__ = ["DCA_NETS", "DCANetSpec", "dca_net_spec"]


@dataclass(frozen=True)
class DCANetSpec:
    """One DCA network, its MONAI parent, and constructor arguments for a small and a typical instance.

    Attributes:
        net: the DCA network class.
        parent: its MONAI parent class (same constructor arguments, less ``dca`` and ``dca_args``).
        small: per ``spatial_dims``, arguments besides ``spatial_dims``, ``in_channels`` and
            ``out_channels`` for a network small enough for a unit test.
        input_sizes: per ``spatial_dims``, spatial input sizes the small network accepts, the
            first one small; odd sizes where the parent allows them.
        typical: full-size configurations (with channels), as used for parameter counts and benchmarks.
        size_argument: the constructor argument that fixes the input size (``UNETR``'s
            ``img_size``), or ``None``.
        scriptable: whether ``torch.jit.script`` compiles the network (else it is exported by tracing).
    """

    net: type[nn.Module]
    parent: type[nn.Module]
    small: Mapping[int, Mapping[str, Any]]
    input_sizes: Mapping[int, tuple[tuple[int, ...], ...]]
    typical: tuple[Mapping[str, Any], ...] = field(default=())
    size_argument: str | None = None
    scriptable: bool = True

    @property
    def name(self) -> str:
        """The DCA network's class name, e.g. ``"DCABasicUNet"``."""
        return self.net.__name__

    def small_kwargs(
        self, spatial_dims: int, size: tuple[int, ...] | None = None, in_channels: int = 1, out_channels: int = 2
    ) -> dict[str, Any]:
        """Constructor arguments of the small network for ``spatial_dims`` (and input ``size``, where it is fixed).

        Raises:
            ValueError: when the table has no small network for ``spatial_dims``.
        """
        if spatial_dims not in self.small:
            raise ValueError(f"{self.name}: spatial_dims={spatial_dims} but the table has {sorted(self.small)}")
        kwargs = {"spatial_dims": spatial_dims, "in_channels": in_channels, "out_channels": out_channels}
        kwargs.update(self.small[spatial_dims])
        if self.size_argument is not None:
            kwargs[self.size_argument] = size if size is not None else self.input_sizes[spatial_dims][0]
        return kwargs


def _same_in_2d_and_3d(**kwargs: Any) -> dict[int, dict[str, Any]]:
    return {2: dict(kwargs), 3: dict(kwargs)}


_DYNUNET_SMALL = {
    "filters": [8, 16, 16, 32],
    "kernel_size": [3, 3, 3, 3],
    "strides": [1, 2, 2, 2],
    "upsample_kernel_size": [2, 2, 2],
}
_DYNUNET_TYPICAL = {
    "in_channels": 1,
    "out_channels": 4,
    "kernel_size": [3] * 5,
    "strides": [1, 2, 2, 2, 2],
    "upsample_kernel_size": [2] * 4,
}

DCA_NETS: tuple[DCANetSpec, ...] = (
    DCANetSpec(
        DCABasicUNet,
        monai_nets.BasicUNet,
        small=_same_in_2d_and_3d(features=(8, 8, 16, 16, 32, 8)),
        input_sizes={2: ((32, 32), (48, 80), (35, 51)), 3: ((32, 48, 16), (33, 17, 40))},
        typical=(
            {"spatial_dims": 3, "in_channels": 1, "out_channels": 4},
            # the paper's 2D U-Net widths
            {"spatial_dims": 2, "in_channels": 1, "out_channels": 4, "features": (32, 64, 128, 256, 512, 32)},
        ),
    ),
    DCANetSpec(
        DCADynUNet,
        monai_nets.DynUNet,
        small=_same_in_2d_and_3d(**_DYNUNET_SMALL),
        input_sizes={2: ((16, 16), (40, 24), (32, 56)), 3: ((16, 24, 8),)},
        typical=(
            {"spatial_dims": 3, **_DYNUNET_TYPICAL, "filters": (32, 64, 128, 256, 320)},
            {"spatial_dims": 2, **_DYNUNET_TYPICAL, "filters": (32, 64, 128, 256, 512)},
        ),
    ),
    DCANetSpec(
        DCASegResNet,
        monai_nets.SegResNet,
        small=_same_in_2d_and_3d(init_filters=8, blocks_down=(1, 1, 1, 1), blocks_up=(1, 1, 1)),
        input_sizes={2: ((16, 16), (40, 24), (16, 56)), 3: ((16, 24, 32), (8, 16, 24))},
        typical=({"spatial_dims": 3, "in_channels": 1, "out_channels": 4, "init_filters": 16},),
    ),
    DCANetSpec(
        DCAAttentionUnet,
        monai_nets.AttentionUnet,
        small=_same_in_2d_and_3d(channels=(8, 8, 16, 16), strides=(2, 2, 2)),
        input_sizes={2: ((16, 16), (40, 24)), 3: ((16, 24, 8), (24, 8, 16))},
        typical=(
            {
                "spatial_dims": 3,
                "in_channels": 1,
                "out_channels": 4,
                "channels": (16, 32, 64, 128, 256),
                "strides": (2, 2, 2, 2),
            },
        ),
    ),
    DCANetSpec(
        DCAVNet,
        monai_nets.VNet,
        small={2: {}, 3: {}},  # VNet's widths are fixed: skips of 16, 32, 64, 128 channels
        input_sizes={2: ((16, 16), (32, 48), (16, 64)), 3: ((16, 16, 16), (16, 32, 16))},
        typical=({"spatial_dims": 3, "in_channels": 1, "out_channels": 4},),
    ),
    DCANetSpec(
        DCASwinUNETR,
        monai_nets.SwinUNETR,
        # one Swin block per stage; group norm (unlike instance norm) takes the 1-voxel stride-32 bottleneck
        small=_same_in_2d_and_3d(feature_size=12, depths=(1, 1, 1, 1), norm_name=("group", {"num_groups": 4})),
        input_sizes={2: ((64, 32), (32, 96)), 3: ((32, 32, 32), (32, 32, 64))},
        typical=({"in_channels": 1, "out_channels": 4, "feature_size": 48},),
        scriptable=False,  # torch.jit.script fails inside SwinUNETR's Swin transformer
    ),
    DCANetSpec(
        DCAUNETR,
        monai_nets.UNETR,
        small=_same_in_2d_and_3d(feature_size=4, hidden_size=48, mlp_dim=96, num_heads=4),
        input_sizes={2: ((32, 16), (32, 48), (64, 16)), 3: ((16, 32, 16), (32, 16, 16))},
        typical=({"in_channels": 1, "out_channels": 4, "img_size": 96, "feature_size": 16},),
        size_argument="img_size",
    ),
    DCANetSpec(
        DCAFlexibleUNet,
        monai_nets.FlexibleUNet,
        # resnet10: skips of 64, 64, 128, 256 channels and a narrow decoder
        small=_same_in_2d_and_3d(backbone="resnet10", decoder_channels=(32, 16, 16, 8, 8)),
        input_sizes={2: ((32, 32), (64, 96), (32, 64)), 3: ((32, 32, 32), (32, 64, 32))},
        typical=({"in_channels": 1, "out_channels": 4, "backbone": "resnet34", "spatial_dims": 3},),
    ),
)


def dca_net_spec(name: str) -> DCANetSpec:
    """The row of :data:`DCA_NETS` for the DCA network class called ``name``.

    Raises:
        KeyError: when no row has that name.
    """
    for spec in DCA_NETS:
        if spec.name == name:
            return spec
    raise KeyError(f"DCA network {name!r} is not in DCA_NETS; known: {[spec.name for spec in DCA_NETS]}")
