"""Spatial cross-attention (SCA): each stage's tokens attend over the tokens of all stages."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dca_monai.blocks.stage_layout import StageLayout, init_channel_affine

__all__ = ["SpatialCrossAttention"]


class SpatialCrossAttention(nn.Module):
    """Spatial cross-attention of the DCA paper, for all stages at once.

    For stage ``l`` the queries and keys are the normalised tokens of every stage concatenated
    along channels (``C`` channels, separate per-channel affine maps per stage), the values are
    the stage's own normalised tokens (``C_l`` channels). Attention runs over tokens with ``h``
    heads and scale ``(C/h) ** -0.5``: ordinary multi-head scaled dot-product attention, computed
    with :func:`torch.nn.functional.scaled_dot_product_attention`.

    The fused, memory-O(N) SDPA kernels (flash attention on CPU and CUDA) need the same head size
    for queries, keys and values, while DCA's values are narrower (``C_l/h`` vs ``C/h``). The
    values are therefore zero-padded to ``C/h`` and the padded output columns dropped: exact,
    because a zero value column yields a zero output column.

    Args:
        layout: channel counts and heads of the stages.

    Shapes:
        input ``(B, N, C)`` normalised tokens of all stages, concatenated; output ``(B, N, C)``
        the attention result of every stage (before the residual).
    """

    def __init__(self, layout: StageLayout) -> None:
        super().__init__()
        self.stage_channels = list(layout.channels)
        self.heads = list(layout.spatial_heads)
        total, stages = layout.total_channels, layout.num_stages
        self.query_weight = nn.Parameter(torch.empty(stages, total))
        self.query_bias = nn.Parameter(torch.empty(stages, total))
        self.key_weight = nn.Parameter(torch.empty(stages, total))
        self.key_bias = nn.Parameter(torch.empty(stages, total))
        self.value_weight = nn.Parameter(torch.empty(total))
        self.value_bias = nn.Parameter(torch.empty(total))
        self.out_weight = nn.Parameter(torch.empty(total))
        self.out_bias = nn.Parameter(torch.empty(total))
        for parameter in self.parameters():
            init_channel_affine(parameter)

    def forward(self, normed: torch.Tensor) -> torch.Tensor:
        batch, tokens, total = normed.shape
        values = (normed * self.value_weight + self.value_bias).split(self.stage_channels, dim=-1)
        outputs: list[torch.Tensor] = []
        for stage, heads in enumerate(self.heads):
            channels = self.stage_channels[stage]
            head_size, value_size = total // heads, channels // heads
            queries = normed * self.query_weight[stage] + self.query_bias[stage]
            keys = normed * self.key_weight[stage] + self.key_bias[stage]
            q = queries.reshape(batch, tokens, heads, head_size).transpose(1, 2)
            k = keys.reshape(batch, tokens, heads, head_size).transpose(1, 2)
            v = values[stage].reshape(batch, tokens, heads, value_size).transpose(1, 2)
            # equal head sizes let SDPA pick its fused, memory-O(N) kernel (see class docstring)
            v = F.pad(v, [0, head_size - value_size])
            attended = F.scaled_dot_product_attention(q, k, v, scale=head_size**-0.5)
            attended = attended[..., :value_size].transpose(1, 2).reshape(batch, tokens, channels)
            outputs.append(attended)
        return torch.cat(outputs, dim=-1) * self.out_weight + self.out_bias
