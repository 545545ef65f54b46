"""BasicUNet with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.networks.nets import BasicUNet

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCABasicUNet"]


class DCABasicUNet(SkipRefinement, BasicUNet):
    """MONAI's :class:`~monai.networks.nets.BasicUNet` whose four skips are refined by DCA.

    Tapped encoder outputs: ``conv_0``, ``down_1``, ``down_2``, ``down_3`` (after their final
    norm and activation, as MONAI's ``TwoConv`` returns them), channels ``features[0:4]``, at
    strides 1, 2, 4, 8. The bottleneck ``down_4`` is not refined. 1D, 2D and 3D, as the parent. Every submodule name of
    ``BasicUNet`` is kept, the DCA module lives under ``dca``.

    Args:
        spatial_dims, in_channels, out_channels, features, act, norm, bias, dropout, upsample:
            as :class:`~monai.networks.nets.BasicUNet`.
        dca: refine the skips with DCA; ``False`` gives exactly ``BasicUNet``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Shapes:
        input ``(B, in_channels, *S)``, output ``(B, out_channels, *S)``, ``S`` divisible by 16
        (as ``BasicUNet`` recommends).
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = (32, 32, 64, 128, 256, 32),
        act: str | tuple = ("LeakyReLU", {"negative_slope": 0.1, "inplace": True}),
        norm: str | tuple = ("instance", {"affine": True}),
        bias: bool = True,
        dropout: float | tuple = 0.0,
        upsample: str = "deconv",
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            features=features,
            act=act,
            norm=norm,
            bias=bias,
            dropout=dropout,
            upsample=upsample,
        )
        self.attach_dca(spatial_dims, [self.conv_0.conv_1.conv.out_channels, *self._down_channels()], dca, dca_args)

    def _down_channels(self) -> list[int]:
        return [down.convs.conv_1.conv.out_channels for down in (self.down_1, self.down_2, self.down_3)]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x0 = self.conv_0(x)
        x1 = self.down_1(x0)
        x2 = self.down_2(x1)
        x3 = self.down_3(x2)
        return self.down_4(x3), [x0, x1, x2, x3]

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        u4 = self.upcat_4(bottleneck, skips[3])
        u3 = self.upcat_3(u4, skips[2])
        u2 = self.upcat_2(u3, skips[1])
        u1 = self.upcat_1(u2, skips[0])
        return self.final_conv(u1)
