"""The table of DCA networks: each with its MONAI parent and the arguments of typical instances.

One place for what ``scripts/count_parameters.py``, ``scripts/bench_dca.py`` and the tests
(``tests/nets/net_cases.py`` adds the small test instances per row) run over: adding a DCA
network means adding its row here.
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
    """One DCA network, its MONAI parent, and constructor arguments of typical instances.

    Attributes:
        net: the DCA network class.
        parent: its MONAI parent class (same constructor arguments, less ``dca`` and ``dca_args``).
        typical: full-size configurations (with channels), as used for parameter counts and benchmarks.
        size_argument: the constructor argument that fixes the input size (``UNETR``'s
            ``img_size``), or ``None``.
        scriptable: whether ``torch.jit.script`` compiles the network (else it is exported by tracing).
    """

    net: type[nn.Module]
    parent: type[nn.Module]
    typical: tuple[Mapping[str, Any], ...] = field(default=())
    size_argument: str | None = None
    scriptable: bool = True

    @property
    def name(self) -> str:
        """The DCA network's class name, e.g. ``"DCABasicUNet"``."""
        return self.net.__name__


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
        typical=(
            {"spatial_dims": 3, "in_channels": 1, "out_channels": 4},
            # the paper's 2D U-Net widths
            {"spatial_dims": 2, "in_channels": 1, "out_channels": 4, "features": (32, 64, 128, 256, 512, 32)},
        ),
    ),
    DCANetSpec(
        DCADynUNet,
        monai_nets.DynUNet,
        typical=(
            {"spatial_dims": 3, **_DYNUNET_TYPICAL, "filters": (32, 64, 128, 256, 320)},
            {"spatial_dims": 2, **_DYNUNET_TYPICAL, "filters": (32, 64, 128, 256, 512)},
        ),
    ),
    DCANetSpec(
        DCASegResNet,
        monai_nets.SegResNet,
        typical=({"spatial_dims": 3, "in_channels": 1, "out_channels": 4, "init_filters": 16},),
    ),
    DCANetSpec(
        DCAAttentionUnet,
        monai_nets.AttentionUnet,
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
        typical=({"spatial_dims": 3, "in_channels": 1, "out_channels": 4},),
    ),
    DCANetSpec(
        DCASwinUNETR,
        monai_nets.SwinUNETR,
        typical=({"in_channels": 1, "out_channels": 4, "feature_size": 48},),
        scriptable=False,  # torch.jit.script fails inside SwinUNETR's Swin transformer
    ),
    DCANetSpec(
        DCAUNETR,
        monai_nets.UNETR,
        typical=({"in_channels": 1, "out_channels": 4, "img_size": 96, "feature_size": 16},),
        size_argument="img_size",
    ),
    DCANetSpec(
        DCAFlexibleUNet,
        monai_nets.FlexibleUNet,
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
