"""UNETR with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.networks.nets import UNETR

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCAUNETR"]


class DCAUNETR(SkipRefinement, UNETR):
    """MONAI's :class:`~monai.networks.nets.UNETR` whose four skips are refined by DCA.

    Tapped encoder outputs, the four skips the decoders consume, fine to coarse (strides relative
    to the input; the ViT works on 16-voxel patches):

    - ``encoder1(x)`` (``enc1``), ``feature_size`` channels, stride 1, after the block's final
      activation;
    - ``encoder2`` on ViT layer 3 (``enc2``), ``2 * feature_size`` channels, stride 2;
    - ``encoder3`` on ViT layer 6 (``enc3``), ``4 * feature_size`` channels, stride 4;
    - ``encoder4`` on ViT layer 9 (``enc4``), ``8 * feature_size`` channels, stride 8.

    ``encoder2`` and ``encoder3`` end in a residual block (after its activation) when
    ``conv_block=True``; ``encoder4`` is a single transposed convolution (no norm or activation),
    as in ``UNETR``. The bottleneck, the ViT output reshaped to the 16-voxel patch grid
    (``hidden_size`` channels, stride 16), is not refined. Every submodule name of ``UNETR`` is
    kept, the DCA module lives under ``dca``. TorchScript-scriptable.

    The block's automatic heads are the paper's 4 when ``feature_size`` is a multiple of 4 (the
    default 16 is; the skips have ``15 * feature_size`` channels in all), otherwise fewer.

    Args:
        in_channels, out_channels, img_size, feature_size, hidden_size, mlp_dim, num_heads,
            proj_type, norm_name, conv_block, res_block, dropout_rate, spatial_dims, qkv_bias,
            save_attn: as :class:`~monai.networks.nets.UNETR`.
        dca: refine the skips with DCA; ``False`` gives exactly ``UNETR``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Raises:
        ValueError: as ``UNETR``, or when ``dca_args`` is rejected (see
            :meth:`~dca_monai.nets.SkipRefinement.attach_dca`).

    Shapes:
        input ``(B, in_channels, *img_size)``, output ``(B, out_channels, *img_size)``; as for
        ``UNETR`` the input size is fixed at construction and divisible by 16.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        img_size: Sequence[int] | int,
        feature_size: int = 16,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_heads: int = 12,
        proj_type: str = "conv",
        norm_name: tuple | str = "instance",
        conv_block: bool = True,
        res_block: bool = True,
        dropout_rate: float = 0.0,
        spatial_dims: int = 3,
        qkv_bias: bool = False,
        save_attn: bool = False,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            img_size=img_size,
            feature_size=feature_size,
            hidden_size=hidden_size,
            mlp_dim=mlp_dim,
            num_heads=num_heads,
            proj_type=proj_type,
            norm_name=norm_name,
            conv_block=conv_block,
            res_block=res_block,
            dropout_rate=dropout_rate,
            spatial_dims=spatial_dims,
            qkv_bias=qkv_bias,
            save_attn=save_attn,
        )
        # encoder1..encoder4 as built by UNETR
        self.attach_dca(spatial_dims, [feature_size * factor for factor in (1, 2, 4, 8)], dca, dca_args)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        tokens, hidden_states_out = self.vit(x)
        enc1 = self.encoder1(x)
        enc2 = self.encoder2(self.proj_feat(hidden_states_out[3]))
        enc3 = self.encoder3(self.proj_feat(hidden_states_out[6]))
        enc4 = self.encoder4(self.proj_feat(hidden_states_out[9]))
        return self.proj_feat(tokens), [enc1, enc2, enc3, enc4]

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        dec3 = self.decoder5(bottleneck, skips[3])
        dec2 = self.decoder4(dec3, skips[2])
        dec1 = self.decoder3(dec2, skips[1])
        return self.out(self.decoder2(dec1, skips[0]))
