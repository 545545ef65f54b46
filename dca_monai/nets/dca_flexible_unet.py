"""FlexibleUNet with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.networks.nets import FLEXUNET_BACKBONE, FlexibleUNet

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCAFlexibleUNet"]


class DCAFlexibleUNet(SkipRefinement, FlexibleUNet):
    """MONAI's :class:`~monai.networks.nets.FlexibleUNet` whose skips are refined by DCA.

    Tapped encoder outputs: every backbone feature map except the deepest, i.e. the skips
    ``UNetDecoder`` concatenates, with the channels the backbone registers in
    ``FLEXUNET_BACKBONE`` (all but the last). For the ResNet backbones these are the stem output
    after its batch norm and ReLU (stride 2) and the outputs of ``layer1`` to ``layer3`` (strides
    4, 8, 16, after each residual block's final ReLU): 64, 64, 128, 256 channels for
    ``resnet10/18/34``, 64, 256, 512, 1024 for ``resnet50`` and deeper. The deepest feature map
    (stride 32 for ResNet and EfficientNet) is the bottleneck and is not refined. Every submodule
    name of ``FlexibleUNet`` is kept, the DCA module lives under ``dca``. TorchScript-scriptable.

    The block's automatic heads are the paper's 4 for the ResNet and EfficientNet backbones (4
    divides their skip channels); for another backbone, fewer where 4 does not divide.

    Args:
        in_channels, out_channels, backbone, pretrained, decoder_channels, spatial_dims, norm, act,
            dropout, decoder_bias, upsample, pre_conv, interp_mode, is_pad:
            as :class:`~monai.networks.nets.FlexibleUNet`.
        dca: refine the skips with DCA; ``False`` gives exactly ``FlexibleUNet``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Raises:
        ValueError: as ``FlexibleUNet``, or when ``dca_args`` is rejected (see
            :meth:`~dca_monai.nets.SkipRefinement.attach_dca`).

    Shapes:
        input ``(B, in_channels, *S)``, output ``(B, out_channels, *S)``, ``S`` divisible by 32
        for the ResNet and EfficientNet backbones.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        backbone: str,
        pretrained: bool = False,
        decoder_channels: tuple = (256, 128, 64, 32, 16),
        spatial_dims: int = 2,
        norm: str | tuple = ("batch", {"eps": 1e-3, "momentum": 0.1}),
        act: str | tuple = ("relu", {"inplace": True}),
        dropout: float | tuple = 0.0,
        decoder_bias: bool = False,
        upsample: str = "nontrainable",
        pre_conv: str = "default",
        interp_mode: str = "nearest",
        is_pad: bool = True,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            backbone=backbone,
            pretrained=pretrained,
            decoder_channels=decoder_channels,
            spatial_dims=spatial_dims,
            norm=norm,
            act=act,
            dropout=dropout,
            decoder_bias=decoder_bias,
            upsample=upsample,
            pre_conv=pre_conv,
            interp_mode=interp_mode,
            is_pad=is_pad,
        )
        # the decoder concatenates the first skip_connect feature maps; the last one is the bottleneck
        feature_channels = FLEXUNET_BACKBONE.register_dict[backbone]["feature_channel"]
        self.attach_dca(spatial_dims, list(feature_channels[: self.skip_connect]), dca, dca_args)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = self.encoder(x)  # skip_connect skips, then the deepest map
        return features[-1], features[: self.skip_connect]

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        return self.segmentation_head(self.decoder(skips + [bottleneck], self.skip_connect))
