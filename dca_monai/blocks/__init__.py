"""DCA building blocks: the full module and its parts."""

from __future__ import annotations

from dca_monai.blocks.channel_cross_attention import ChannelCrossAttention
from dca_monai.blocks.dca_attention_stage import DCAAttentionStage, StageLayerNorm
from dca_monai.blocks.dual_cross_attention import DCA, DualCrossAttention
from dca_monai.blocks.spatial_cross_attention import SpatialCrossAttention
from dca_monai.blocks.stage_layout import StageLayout

__all__ = [
    "DCA",
    "ChannelCrossAttention",
    "DCAAttentionStage",
    "DualCrossAttention",
    "SpatialCrossAttention",
    "StageLayerNorm",
    "StageLayout",
]
