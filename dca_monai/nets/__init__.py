"""DCA variants of MONAI networks: the parent's constructor and weight names plus a ``dca`` block."""

from __future__ import annotations

from dca_monai.compat.inductor_stride_order import apply_inductor_stride_order_fix
from dca_monai.nets.dca_attentionunet import DCAAttentionUnet
from dca_monai.nets.dca_basic_unet import DCABasicUNet
from dca_monai.nets.dca_dynunet import DCADynUNet
from dca_monai.nets.dca_flexible_unet import DCAFlexibleUNet
from dca_monai.nets.dca_segresnet import DCASegResNet
from dca_monai.nets.dca_swin_unetr import DCASwinUNETR
from dca_monai.nets.dca_unetr import DCAUNETR
from dca_monai.nets.dca_vnet import DCAVNet
from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = [
    "DCAUNETR",
    "DCAAttentionUnet",
    "DCABasicUNet",
    "DCADynUNet",
    "DCAFlexibleUNet",
    "DCASegResNet",
    "DCASwinUNETR",
    "DCAVNet",
    "SkipRefinement",
]

# torch.compile(dynamic=True) of DynUNet-style nets crashes in torch 2.13's inductor: see the module
apply_inductor_stride_order_fix()
