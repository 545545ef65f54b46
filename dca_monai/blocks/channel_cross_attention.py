"""Channel cross-attention (CCA): each stage's channels attend over the channels of all stages."""

from __future__ import annotations

import torch
from torch import nn

from dca_monai.blocks.attention_precision import autocast_device, softmax_without_subnormals
from dca_monai.blocks.stage_layout import StageLayout, init_channel_affine

__all__ = ["ChannelCrossAttention"]


class ChannelCrossAttention(nn.Module):
    """Channel cross-attention of the DCA paper, for all stages at once.

    For stage ``l`` the query is that stage's normalised tokens and the keys and values are the
    normalised tokens of every stage concatenated along channels. Attention runs over channels:
    per head, the ``(C_l/h) x (C/h)`` score matrix is ``q^T k`` summed over the ``N`` tokens,
    scaled by ``C ** -0.5`` (the total key channel count, not per head, as in the authors' code).
    Every projection is a per-channel affine map ``x * w + b`` (the authors' 1x1 depthwise conv).

    Parameters are kept in the concatenated channel layout: ``query_weight`` (C,) holds the
    per-stage query maps side by side, ``key_weight``/``value_weight`` (L, C) hold one map of all
    ``C`` key channels per stage, ``out_weight`` (C,) the per-stage output maps.

    The key and value maps are applied to the small score matrices instead of the ``(B, N, C)``
    tokens, an identity of linear algebra: with keys ``k = z * w_k + b_k`` (``z`` the normalised
    tokens), ``q^T k = (q^T z) * w_k + (sum_N q) b_k``; with values ``v = z * w_v + b_v`` and score
    rows summing to one, ``v s^T = z (s * w_v)^T + (s b_v)``. No per-stage ``(B, N, C)`` key or
    value tensor is made or kept for backward: the same result up to float rounding (4e-6 of the
    largest output at 2D 224^2), and this module's forward+backward took 53-55 instead of 58-62 ms
    there on CPU (``docs/benchmarks.md``).

    Args:
        layout: channel counts and heads of the stages.

    Shapes:
        input ``(B, N, C)`` normalised tokens of all stages, concatenated; output ``(B, N, C)``
        the attention result of every stage (before the residual).
    """

    def __init__(self, layout: StageLayout) -> None:
        super().__init__()
        self.stage_channels = list(layout.channels)
        self.heads = list(layout.channel_heads)
        total, stages = layout.total_channels, layout.num_stages
        self.scale = float(total) ** -0.5
        self.query_weight = nn.Parameter(torch.empty(total))
        self.query_bias = nn.Parameter(torch.empty(total))
        self.key_weight = nn.Parameter(torch.empty(stages, total))
        self.key_bias = nn.Parameter(torch.empty(stages, total))
        self.value_weight = nn.Parameter(torch.empty(stages, total))
        self.value_bias = nn.Parameter(torch.empty(stages, total))
        self.out_weight = nn.Parameter(torch.empty(total))
        self.out_bias = nn.Parameter(torch.empty(total))
        for parameter in self.parameters():
            init_channel_affine(parameter)

    def forward(self, normed: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting() and self._autocasting(normed):
            return self._forward_float32(normed)
        return self._attend(normed)

    def _attend(self, normed: torch.Tensor) -> torch.Tensor:
        batch, tokens, total = normed.shape
        queries = (normed * self.query_weight + self.query_bias).split(self.stage_channels, dim=-1)
        outputs: list[torch.Tensor] = []
        for stage, heads in enumerate(self.heads):
            channels, head_total = self.stage_channels[stage], total // heads
            # (B, N, h*c) -> (B, h, N, c), contiguous: every GEMM below reads a row-major operand or its
            # transpose, the layouts BLAS takes without a copy (the narrow query slice is copied once here)
            q = queries[stage].reshape(batch, tokens, heads, channels // heads).transpose(1, 2).contiguous()
            z = normed.reshape(batch, tokens, heads, head_total).transpose(1, 2)
            if heads > 1:
                z = z.contiguous()
            key_weight = self.key_weight[stage].reshape(heads, 1, head_total)
            key_bias = self.key_bias[stage].reshape(heads, 1, head_total)
            # channels are the attended axis: (B, h, c, N) x (B, h, N, C/h), summed over the N tokens; the key
            # map applied to the (c, C/h) product: (q^T z) * w_k + (sum_N q) b_k = q^T (z * w_k + b_k)
            logits = torch.matmul(q.transpose(-2, -1), z) * key_weight + q.sum(-2).unsqueeze(-1) * key_bias
            scores = softmax_without_subnormals(logits * self.scale)
            value_weight = self.value_weight[stage].reshape(heads, 1, head_total)
            value_bias = self.value_bias[stage].reshape(heads, 1, head_total)
            # (B, h, N, c) = (scores v^T)^T with v = z * w_v + b_v; score rows sum to one over the C/h channels
            attended = torch.matmul(z, (scores * value_weight).transpose(-2, -1))
            attended = attended + (scores * value_bias).sum(-1).unsqueeze(-2)
            outputs.append(attended.transpose(1, 2).reshape(batch, tokens, channels))
        return torch.cat(outputs, dim=-1) * self.out_weight + self.out_bias

    # type comments, not annotations: TorchScript cannot resolve postponed annotations of unused methods
    @torch.jit.unused
    def _autocasting(self, normed):
        # type: (torch.Tensor) -> bool
        return autocast_device(normed) is not None

    @torch.jit.unused
    def _forward_float32(self, normed):
        # type: (torch.Tensor) -> torch.Tensor
        """The attention in float32 with autocast off: its logits sum over all N tokens (hundreds of units at
        N = 784), beyond float16's precision and, for large token grids, its range; the GEMMs are small."""
        device_type = autocast_device(normed)
        with torch.autocast(device_type, enabled=False):
            return self._attend(normed.float())
