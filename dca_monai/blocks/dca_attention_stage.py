"""One DCA attention stage: channel cross-attention, then spatial cross-attention.

Named ``DCAAttentionStage`` so it is not mistaken for
:class:`monai.networks.blocks.CrossAttentionBlock` (ordinary query/context attention).
"""

from __future__ import annotations

import torch
from torch import nn

from dca_monai.blocks.channel_cross_attention import ChannelCrossAttention
from dca_monai.blocks.spatial_cross_attention import SpatialCrossAttention
from dca_monai.blocks.stage_layout import StageLayout

__all__ = ["DCAAttentionStage", "StageLayerNorm"]


class StageLayerNorm(nn.Module):
    """A separate LayerNorm (eps 1e-6) over the channels of every stage.

    Tokens are normalised in the parameters' dtype: under autocast half-precision tokens are normalised
    in float32 and the output stays float32, as CUDA autocast does for LayerNorm.

    Shapes:
        input and output ``(B, N, C)``, the stages' tokens concatenated along channels.
    """

    def __init__(self, layout: StageLayout, eps: float = 1e-6) -> None:
        super().__init__()
        self.stage_channels = list(layout.channels)
        self.norms = nn.ModuleList([nn.LayerNorm(channels, eps=eps) for channels in layout.channels])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        # statistics in the parameters' dtype: float32 under autocast (CPU autocast would run LayerNorm in bf16)
        parts = tokens.to(self.norms[0].weight.dtype).split(self.stage_channels, dim=-1)
        normed: list[torch.Tensor] = []
        for stage, norm in enumerate(self.norms):
            normed.append(norm(parts[stage]))
        return torch.cat(normed, dim=-1)


class DCAAttentionStage(nn.Module):
    """``T = T + CCA(LN(T))``, then ``T = T + SCA(LN'(T))`` (each part can be switched off).

    :class:`~dca_monai.blocks.DualCrossAttention` stacks ``n_blocks`` of these in ``blocks``;
    its state-dict keys (``blocks.j.channel_norm...``) do not depend on this class's name.

    Args:
        layout: channel counts and heads of the stages.
        channel_attention: apply channel cross-attention.
        spatial_attention: apply spatial cross-attention.

    Shapes:
        input and output ``(B, N, C)``, the stages' tokens concatenated along channels.
    """

    def __init__(self, layout: StageLayout, channel_attention: bool = True, spatial_attention: bool = True) -> None:
        super().__init__()
        self.channel_norm = StageLayerNorm(layout) if channel_attention else None
        self.channel_attention = ChannelCrossAttention(layout) if channel_attention else None
        self.spatial_norm = StageLayerNorm(layout) if spatial_attention else None
        self.spatial_attention = SpatialCrossAttention(layout) if spatial_attention else None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.channel_attention is not None and self.channel_norm is not None:
            tokens = tokens + self.channel_attention(self.channel_norm(tokens))
        if self.spatial_attention is not None and self.spatial_norm is not None:
            tokens = tokens + self.spatial_attention(self.spatial_norm(tokens))
        return tokens
