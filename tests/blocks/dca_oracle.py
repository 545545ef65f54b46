"""An obviously-correct DCA, written from docs/dca-spec.md with einsum, for testing the block.

It reads the parameters in the authors' per-stage layout (the layout the spec describes, one
map per stage and per use), so the same oracle checks the block and the weight converter.
Everything runs the slow, literal way: per stage, per head, upsample before the 1x1 conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_official_state(
    skip_channels: list[int], n_blocks: int, spatial_dims: int, channel_att: bool = True, spatial_att: bool = True
) -> dict[str, torch.Tensor]:
    """A random state dict in the authors' ``DCA`` layout (conv kernels for ``spatial_dims``)."""
    total = sum(skip_channels)
    ones = [1] * spatial_dims
    state: dict[str, torch.Tensor] = {}

    def depthwise(key: str, channels: int) -> None:
        state[f"{key}.proj.depthwise.weight"] = torch.empty(channels, 1, *ones).uniform_(-1, 1)
        state[f"{key}.proj.depthwise.bias"] = torch.empty(channels).uniform_(-1, 1)

    for stage, channels in enumerate(skip_channels):
        depthwise(f"avg_map.{stage}", channels)
        state[f"upconvs.{stage}.conv.conv.weight"] = torch.randn(channels, channels, *ones) / channels**0.5
        state[f"upconvs.{stage}.conv.conv.bias"] = torch.randn(channels) * 0.1
        state[f"bn_relu.{stage}.0.weight"] = torch.empty(channels).uniform_(0.5, 1.5)
        state[f"bn_relu.{stage}.0.bias"] = torch.empty(channels).uniform_(-0.5, 0.5)
        state[f"bn_relu.{stage}.0.running_mean"] = torch.empty(channels).uniform_(-1, 1)
        state[f"bn_relu.{stage}.0.running_var"] = torch.empty(channels).uniform_(0.5, 2)
        state[f"bn_relu.{stage}.0.num_batches_tracked"] = torch.tensor(3)
    for block in range(n_blocks):
        for kind, attention, enabled in (
            ("channel", "c_attention", channel_att),
            ("spatial", "s_attention", spatial_att),
        ):
            if not enabled:
                continue
            for stage, channels in enumerate(skip_channels):
                state[f"attention.{block}.{kind}_norm.{stage}.weight"] = torch.empty(channels).uniform_(0.5, 1.5)
                state[f"attention.{block}.{kind}_norm.{stage}.bias"] = torch.empty(channels).uniform_(-0.5, 0.5)
                prefix = f"attention.{block}.{attention}.{stage}"
                # channel attention: q and output over C_l, k and v over C; spatial: q, k over C, v, output over C_l
                depthwise(f"{prefix}.q_map", channels if kind == "channel" else total)
                depthwise(f"{prefix}.k_map", total)
                depthwise(f"{prefix}.v_map", total if kind == "channel" else channels)
                depthwise(f"{prefix}.projection", channels)
    return state


def _affine(state: dict[str, torch.Tensor], key: str, tokens: torch.Tensor) -> torch.Tensor:
    weight = state[f"{key}.proj.depthwise.weight"].reshape(-1)
    return tokens * weight + state[f"{key}.proj.depthwise.bias"]


def _layer_norm(state: dict[str, torch.Tensor], key: str, tokens: torch.Tensor) -> torch.Tensor:
    mean = tokens.mean(-1, keepdim=True)
    var = tokens.var(-1, unbiased=False, keepdim=True)
    return (tokens - mean) / torch.sqrt(var + 1e-6) * state[f"{key}.weight"] + state[f"{key}.bias"]


def _channel_attention(state, block, tokens, heads):
    normed = [_layer_norm(state, f"attention.{block}.channel_norm.{s}", t) for s, t in enumerate(tokens)]
    keys_values = torch.cat(normed, dim=-1)
    total = keys_values.shape[-1]
    results = []
    for stage, (z, h) in enumerate(zip(normed, heads)):
        prefix = f"attention.{block}.c_attention.{stage}"
        q = _affine(state, f"{prefix}.q_map", z)
        k = _affine(state, f"{prefix}.k_map", keys_values)
        v = _affine(state, f"{prefix}.v_map", keys_values)
        cq, ck = q.shape[-1] // h, total // h
        per_head = []
        for i in range(h):
            qh, kh, vh = q[..., i * cq : (i + 1) * cq], k[..., i * ck : (i + 1) * ck], v[..., i * ck : (i + 1) * ck]
            scores = torch.einsum("bnc,bnk->bck", qh, kh) * total**-0.5
            per_head.append(torch.einsum("bck,bnk->bnc", scores.softmax(-1), vh))
        results.append(_affine(state, f"{prefix}.projection", torch.cat(per_head, dim=-1)))
    return [t + r for t, r in zip(tokens, results)]


def _spatial_attention(state, block, tokens, heads):
    normed = [_layer_norm(state, f"attention.{block}.spatial_norm.{s}", t) for s, t in enumerate(tokens)]
    queries_keys = torch.cat(normed, dim=-1)
    total = queries_keys.shape[-1]
    results = []
    for stage, (z, h) in enumerate(zip(normed, heads)):
        prefix = f"attention.{block}.s_attention.{stage}"
        q = _affine(state, f"{prefix}.q_map", queries_keys)
        k = _affine(state, f"{prefix}.k_map", queries_keys)
        v = _affine(state, f"{prefix}.v_map", z)
        cq, cv = total // h, v.shape[-1] // h
        per_head = []
        for i in range(h):
            qh, kh, vh = q[..., i * cq : (i + 1) * cq], k[..., i * cq : (i + 1) * cq], v[..., i * cv : (i + 1) * cv]
            scores = torch.einsum("bnd,bmd->bnm", qh, kh) * (total // h) ** -0.5
            per_head.append(torch.einsum("bnm,bmc->bnc", scores.softmax(-1), vh))
        results.append(_affine(state, f"{prefix}.projection", torch.cat(per_head, dim=-1)))
    return [t + r for t, r in zip(tokens, results)]


def oracle_dca(
    skips: list[torch.Tensor],
    state: dict[str, torch.Tensor],
    token_grid: list[int],
    n_blocks: int = 1,
    channel_heads: list[int] | None = None,
    spatial_heads: list[int] | None = None,
    channel_att: bool = True,
    spatial_att: bool = True,
    training: bool = False,
) -> list[torch.Tensor]:
    """DCA of ``skips`` (fine to coarse) with the authors'-layout weights ``state``; shapes kept."""
    spatial_dims = skips[0].dim() - 2
    channel_heads = channel_heads or [1] * len(skips)
    spatial_heads = spatial_heads or [4] * len(skips)
    pool = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}[spatial_dims]
    tokens = []
    for stage, skip in enumerate(skips):
        pooled = pool(skip, token_grid).flatten(2).transpose(1, 2)  # (B, N, C_l)
        tokens.append(_affine(state, f"avg_map.{stage}", pooled))
    for block in range(n_blocks):
        if channel_att:
            tokens = _channel_attention(state, block, tokens, channel_heads)
        if spatial_att:
            tokens = _spatial_attention(state, block, tokens, spatial_heads)
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[spatial_dims]
    outputs = []
    for stage, (skip, t) in enumerate(zip(skips, tokens)):
        grid = t.transpose(1, 2).reshape(skip.shape[0], skip.shape[1], *token_grid)
        up = F.interpolate(grid, size=list(skip.shape[2:]), mode=mode, align_corners=True)
        weight = state[f"upconvs.{stage}.conv.conv.weight"].reshape(skip.shape[1], skip.shape[1])
        conv = torch.einsum("oc,bc...->bo...", weight, up)
        conv = conv + state[f"upconvs.{stage}.conv.conv.bias"].reshape(1, -1, *[1] * spatial_dims)
        bn = f"bn_relu.{stage}.0"
        normed = F.batch_norm(
            conv + skip,
            state[f"{bn}.running_mean"].clone(),
            state[f"{bn}.running_var"].clone(),
            state[f"{bn}.weight"],
            state[f"{bn}.bias"],
            training=training,
            eps=1e-5,
        )
        outputs.append(torch.relu(normed))
    return outputs
