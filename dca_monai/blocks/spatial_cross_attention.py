"""Spatial cross-attention (SCA): each stage's tokens attend over the tokens of all stages."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import sdpa_kernel

from dca_monai.blocks.attention_dispatch import MIN_VALUE_COLUMNS, SDPA_BACKENDS, plan_spatial_attention
from dca_monai.blocks.graph_capture import capturing_graph
from dca_monai.blocks.stage_layout import StageLayout, init_channel_affine

__all__ = ["MAX_MATERIALISED_SCORES", "SpatialCrossAttention", "attend", "explicit_attention"]

# largest score tensor (floats, per stage) computed explicitly on CPU; 2**23 floats = 32 MiB
MAX_MATERIALISED_SCORES = 1 << 23


def explicit_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, min_value_columns: int = MIN_VALUE_COLUMNS
) -> torch.Tensor:
    """``softmax(q k^T * scale) v`` with the scores materialised; the softmax in float32 for half inputs.

    Values narrower than ``min_value_columns`` are zero-padded to it and the padded output
    columns dropped (exact: a zero value column gives a zero output column). DCA's narrowest stage
    has 8 value columns (32 channels, 4 heads); ATen's MKL ``sgemm`` ran ``P v`` and its value
    gradient ``P^T dO`` at 19 and 17 GFLOP/s with them on the project's AMD EPYC (1 thread,
    ``(8, 784, 784) x (8, 784, 8)``), below a quarter of its 1024^3 rate (105), and at 51-58 with 16
    columns: twice the FLOPs in less time (``scripts/bench_dca.py --gemms``).

    Args:
        q: ``(B, h, N, D)``; k: ``(B, h, N, D)``; v: ``(B, h, N, dv)``.
        scale: score scale.
        min_value_columns: narrower values are zero-padded to this many columns for the product
            (default :data:`~dca_monai.blocks.attention_dispatch.MIN_VALUE_COLUMNS`); 1 never pads.

    Returns:
        ``(B, h, N, dv)`` in the dtype of ``v``.
    """
    logits = torch.matmul(q * scale, k.transpose(-2, -1))
    # CPU autocast leaves softmax in bfloat16: its sums want float32 (CUDA autocast does this itself)
    half = logits.dtype == torch.float16 or logits.dtype == torch.bfloat16
    probabilities = torch.softmax(logits.float() if half else logits, dim=-1)
    value_size = v.shape[-1]
    if value_size < min_value_columns:  # a channel count, never an input size: no guard on the input
        v = F.pad(v, [0, min_value_columns - value_size])
    return torch.matmul(probabilities.to(v.dtype), v)[..., :value_size]


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, max_materialised: int = MAX_MATERIALISED_SCORES
) -> torch.Tensor:
    """Multi-head attention ``softmax(q k^T * scale) v`` with values narrower than queries.

    The path (explicit scores or fused SDPA, which backends, what padding) is chosen by
    :func:`~dca_monai.blocks.attention_dispatch.plan_spatial_attention`; TorchScript keeps the
    CPU rule (explicit up to ``max_materialised`` floats, else SDPA with padded values).

    Args:
        q: queries ``(B, h, N, D)``.
        k: keys ``(B, h, N, D)``.
        v: values ``(B, h, N, dv)`` with ``dv <= D``.
        scale: score scale.
        max_materialised: on CPU, scores of at most this many floats are computed explicitly
            (values padded only up to
            :data:`~dca_monai.blocks.attention_dispatch.MIN_VALUE_COLUMNS`); larger ones go through the
            fused SDPA flash kernel with values padded to the query head size (on CUDA, see the plan:
            the memory-efficient kernel takes narrower values).
            While a graph is captured (tracing, ``torch.export``) the scores are always explicit.

    Returns:
        ``(B, h, N, dv)``.
    """
    if not torch.jit.is_scripting():
        return _attend_planned(q, k, v, scale, max_materialised)
    batch, heads, tokens, head_size = q.shape
    if q.device.type == "cpu" and batch * heads * tokens * k.shape[-2] <= max_materialised:
        return explicit_attention(q, k, v, scale)
    value_size = v.shape[-1]
    padded = F.pad(v, [0, head_size - value_size])
    return F.scaled_dot_product_attention(q, k, padded, scale=scale)[..., :value_size]


@torch.jit.unused
def _attend_planned(q, k, v, scale, max_materialised):
    # type: (torch.Tensor, torch.Tensor, torch.Tensor, float, int) -> torch.Tensor
    batch, heads, tokens, head_size = q.shape
    value_size = v.shape[-1]
    device_type = q.device.type
    dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else q.dtype
    plan = plan_spatial_attention(
        device_type, dtype, batch, heads, tokens, head_size, value_size, max_materialised, capturing_graph()
    )
    if plan.path == "explicit":
        return explicit_attention(q, k, v, scale, plan.value_size)
    if plan.head_size > head_size:  # zero query/key columns add nothing to q k^T
        q = F.pad(q, [0, plan.head_size - head_size])
        k = F.pad(k, [0, plan.head_size - head_size])
    v = F.pad(v, [0, plan.value_size - value_size])  # zero value columns give zero output columns, dropped
    if device_type == "cuda":
        with sdpa_kernel([SDPA_BACKENDS[name] for name in plan.backends]):
            attended = F.scaled_dot_product_attention(q, k, v, scale=scale)
    else:
        attended = F.scaled_dot_product_attention(q, k, v, scale=scale)
    return attended[..., :value_size]


class SpatialCrossAttention(nn.Module):
    """Spatial cross-attention of the DCA paper, for all stages at once.

    For stage ``l`` the queries and keys are the normalised tokens of every stage concatenated
    along channels (``C`` channels, separate per-channel affine maps per stage), the values are
    the stage's own normalised tokens (``C_l`` channels). Attention runs over tokens with ``h``
    heads and scale ``(C/h) ** -0.5``: ordinary multi-head scaled dot-product attention, computed
    with :func:`torch.nn.functional.scaled_dot_product_attention`.

    The flash kernels (memory-O(N), on CPU and CUDA) need the same head size for queries, keys and
    values, while DCA's values are narrower (``C_l/h`` vs ``C/h``). For them the values are
    zero-padded to ``C/h`` and the padded output columns dropped: exact, because a zero value column
    yields a zero output column. CUDA's memory-efficient kernel (float32, or heads wider than 256)
    takes narrower values, padded only to a multiple of 8
    (:func:`~dca_monai.blocks.attention_dispatch.plan_spatial_attention`). On CPU, when one stage's scores
    ``(B, h, N, N)`` hold at most ``max_materialised_scores`` floats (default
    :data:`MAX_MATERIALISED_SCORES`) (e.g. a 2D 224x224 input),
    the scores are materialised instead, with values padded only up to
    :data:`~dca_monai.blocks.attention_dispatch.MIN_VALUE_COLUMNS`: faster there (measured in
    ``scripts/bench_dca.py``), and memory stays bounded by that limit.

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
        self.max_materialised_scores = MAX_MATERIALISED_SCORES
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
            attended = (
                attend(q, k, v, head_size**-0.5, self.max_materialised_scores)
                .transpose(1, 2)
                .reshape(batch, tokens, channels)
            )
            outputs.append(attended)
        return torch.cat(outputs, dim=-1) * self.out_weight + self.out_bias
