"""SegResNet with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.networks.nets import SegResNet
from monai.utils import UpsampleMode

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCASegResNet"]


class DCASegResNet(SkipRefinement, SegResNet):
    """MONAI's :class:`~monai.networks.nets.SegResNet` whose skips are refined by DCA.

    Tapped encoder outputs: ``down_layers[0]`` to ``down_layers[-2]``, the outputs of each level's
    last pre-activation ``ResBlock`` (a residual sum, no norm or activation after it, exactly what
    the decoder adds to its upsampled features), channels ``init_filters * 2**i``, at strides
    ``2**i`` (``i = 0 .. len(blocks_down) - 2``; with the defaults 8, 16, 32 channels at strides
    1, 2, 4). The deepest level ``down_layers[-1]`` is the bottleneck and is not refined. The
    decoder *adds* the refined skips as ``SegResNet`` adds the raw ones. Every submodule name of
    ``SegResNet`` is kept, the DCA module lives under ``dca``. TorchScript-scriptable.

    ``encode`` and ``decode`` override ``SegResNet``'s methods of those names with the signature
    every DCA network shares: ``encode`` returns the skips fine to coarse *without* the bottleneck,
    and ``decode`` takes them in that order (``SegResNet.decode`` takes them coarse to fine, after the bottleneck).

    The block's automatic heads are the paper's 4 whenever ``init_filters`` is a multiple of 4
    (as the default 8 is), otherwise the largest count that divides the skip channels.

    Args:
        spatial_dims, init_filters, in_channels, out_channels, dropout_prob, act, norm, norm_name,
            num_groups, use_conv_final, blocks_down, blocks_up, upsample_mode:
            as :class:`~monai.networks.nets.SegResNet`.
        dca: refine the skips with DCA; ``False`` gives exactly ``SegResNet``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Raises:
        ValueError: as ``SegResNet``, or when ``dca_args`` is rejected (see
            :meth:`~dca_monai.nets.SkipRefinement.attach_dca`).

    Shapes:
        input ``(B, in_channels, *S)``, output ``(B, out_channels, *S)``, ``S`` divisible by
        ``2 ** (len(blocks_down) - 1)`` (8 with the defaults), as ``SegResNet`` requires.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        init_filters: int = 8,
        in_channels: int = 1,
        out_channels: int = 2,
        dropout_prob: float | None = None,
        act: tuple | str = ("RELU", {"inplace": True}),
        norm: tuple | str = ("GROUP", {"num_groups": 8}),
        norm_name: str = "",
        num_groups: int = 8,
        use_conv_final: bool = True,
        blocks_down: tuple = (1, 2, 2, 4),
        blocks_up: tuple = (1, 1, 1),
        upsample_mode: UpsampleMode | str = UpsampleMode.NONTRAINABLE,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            spatial_dims=spatial_dims,
            init_filters=init_filters,
            in_channels=in_channels,
            out_channels=out_channels,
            dropout_prob=dropout_prob,
            act=act,
            norm=norm,
            norm_name=norm_name,
            num_groups=num_groups,
            use_conv_final=use_conv_final,
            blocks_down=blocks_down,
            blocks_up=blocks_up,
            upsample_mode=upsample_mode,
        )
        # down level i has init_filters * 2**i channels (SegResNet._make_down_layers); the last is the bottleneck
        skip_channels = [init_filters * 2**i for i in range(len(blocks_down) - 1)]
        self.attach_dca(spatial_dims, skip_channels, dca, dca_args)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # SegResNet.encode, with the bottleneck left out of the skips (TorchScript cannot call the parent's)
        x = self.convInit(x)
        if self.dropout_prob is not None:
            x = self.dropout(x)
        skips: list[torch.Tensor] = []
        for down in self.down_layers:
            x = down(x)
            skips.append(x)
        return x, skips[:-1]

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        # SegResNet.decode, reading the skips fine to coarse from the end
        x = bottleneck
        for i, (up, upl) in enumerate(zip(self.up_samples, self.up_layers)):
            x = up(x) + skips[len(skips) - 1 - i]
            x = upl(x)
        if self.use_conv_final:
            x = self.conv_final(x)
        return x
