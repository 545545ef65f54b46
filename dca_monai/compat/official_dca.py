"""Convert weights of the authors' 2D ``DCA`` module (gorkemcanates/Dual-Cross-Attention) to ours."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

__all__ = ["convert_official_dca", "token_pool_for_patch"]

_STAGE_KEY = re.compile(r"^avg_map\.(\d+)\.proj\.depthwise\.weight$")
_BLOCK_KEY = re.compile(r"^attention\.(\d+)\.")


def token_pool_for_patch(coarsest_skip_size: int, patch: int) -> int:
    """Our ``token_pool`` for the authors' ``patch`` (their token grid is ``patch x patch``).

    Args:
        coarsest_skip_size: spatial size of the coarsest skip, e.g. 28 for a 224 input and 4 skips.
        patch: the authors' ``patch`` (``input_size // patch_size`` in their U-Net).

    Raises:
        ValueError: when ``patch`` does not divide ``coarsest_skip_size``: such a grid is finer than
            the coarsest skip or not aligned with it, which our block does not build.
    """
    if patch < 1 or coarsest_skip_size % patch:
        raise ValueError(
            f"patch={patch} does not divide the coarsest skip size {coarsest_skip_size}; expected a divisor, "
            f"the token grid being the coarsest skip pooled by an integer factor"
        )
    return coarsest_skip_size // patch


class _Source:
    """Reads keys of the authors' layout under a prefix, remembering which ones were used."""

    def __init__(self, state_dict: Mapping[str, torch.Tensor], prefix: str) -> None:
        self.tensors = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
        self.prefix = prefix
        self.used: set[str] = set()

    def take(self, key: str) -> torch.Tensor:
        if key not in self.tensors:
            raise ValueError(
                f"state_dict has no key {self.prefix + key!r}, which the authors' DCA layout needs "
                f"(is the prefix {self.prefix!r} right, and are channel/spatial attention both present?)"
            )
        self.used.add(key)
        return self.tensors[key]

    def depthwise(self, key: str) -> torch.Tensor:
        """A 1x1 depthwise conv's weight ``(C, 1, 1[, 1])`` or bias ``(C,)`` as a flat ``(C,)`` vector."""
        return self.take(key).reshape(-1)

    def has(self, key: str) -> bool:
        return key in self.tensors


def convert_official_dca(state_dict: Mapping[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """Turn a state dict of the authors' ``DCA`` module into one for :class:`~dca_monai.blocks.DualCrossAttention`.

    The result loads with ``strict=True`` into ``DualCrossAttention(2, features, n_blocks=n,
    channel_heads=channel_head, spatial_heads=spatial_head, channel_attention=channel_att,
    spatial_attention=spatial_att, token_pool=token_pool_for_patch(coarsest_skip_size, patch))``
    built with the authors' ``features``, ``n`` and heads, and gives their outputs (to float
    rounding) in eval and train mode. A pure function: the input is not modified.

    Mapping (``l`` stage, ``j`` block): ``avg_map.l`` -> ``token_weight/bias`` (stages
    concatenated); ``attention.j.{channel,spatial}_norm.l`` -> ``blocks.j.{channel,spatial}_norm.norms.l``;
    per-stage query/key/value/output depthwise maps -> ``blocks.j.{channel,spatial}_attention.*``
    (per-stage maps of ``C`` channels stacked to ``(L, C)``, maps of ``C_l`` channels concatenated
    to ``(C,)``); ``upconvs.l.conv.conv`` -> ``projections.l``; ``bn_relu.l.0`` -> ``output_adn.l.N``.

    Args:
        state_dict: the authors' ``DCA`` state dict, or a whole model's with ``prefix``.
        prefix: key prefix of the DCA module, e.g. ``"DCA."`` for the authors' ``Unet``.

    Returns:
        A new state dict in our layout (tensors shared with the input where no reshaping is needed).

    Raises:
        ValueError: when no DCA keys are found under ``prefix``, a key of the layout is missing, or
            keys under ``prefix`` are left over that the layout does not know.
    """
    source = _Source(state_dict, prefix)
    stages = sorted(int(m.group(1)) for key in source.tensors if (m := _STAGE_KEY.match(key)))
    if not stages:
        raise ValueError(
            f"state_dict has no key {prefix + 'avg_map.0.proj.depthwise.weight'!r}: not the authors' DCA module "
            f"(for their Unet use prefix='DCA.')"
        )
    if stages != list(range(len(stages))):
        raise ValueError(f"avg_map stages under prefix {prefix!r} are {stages}; expected 0..{len(stages) - 1}")
    blocks = sorted({int(m.group(1)) for key in source.tensors if (m := _BLOCK_KEY.match(key))})
    converted: dict[str, torch.Tensor] = {}

    def concat(template: str) -> torch.Tensor:
        return torch.cat([source.depthwise(template.format(stage=s)) for s in stages])

    def stack(template: str) -> torch.Tensor:
        return torch.stack([source.depthwise(template.format(stage=s)) for s in stages])

    converted["token_weight"] = concat("avg_map.{stage}.proj.depthwise.weight")
    converted["token_bias"] = concat("avg_map.{stage}.proj.depthwise.bias")
    for block in blocks:
        theirs, ours = f"attention.{block}", f"blocks.{block}"
        for kind, attention, stacked, concatenated in (
            ("channel", "c_attention", ("key", "value"), ("query",)),
            ("spatial", "s_attention", ("query", "key"), ("value",)),
        ):
            if not source.has(f"{theirs}.{kind}_norm.0.weight"):
                continue
            for s in stages:
                for part in ("weight", "bias"):
                    converted[f"{ours}.{kind}_norm.norms.{s}.{part}"] = source.take(f"{theirs}.{kind}_norm.{s}.{part}")
            maps = f"{theirs}.{attention}.{{stage}}"
            for part in ("weight", "bias"):
                for name in stacked:
                    converted[f"{ours}.{kind}_attention.{name}_{part}"] = stack(
                        f"{maps}.{name[0]}_map.proj.depthwise.{part}"
                    )
                for name in concatenated:
                    converted[f"{ours}.{kind}_attention.{name}_{part}"] = concat(
                        f"{maps}.{name[0]}_map.proj.depthwise.{part}"
                    )
                converted[f"{ours}.{kind}_attention.out_{part}"] = concat(f"{maps}.projection.proj.depthwise.{part}")
    for s in stages:
        for part in ("weight", "bias"):
            converted[f"projections.{s}.{part}"] = source.take(f"upconvs.{s}.conv.conv.{part}")
        for part in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            converted[f"output_adn.{s}.N.{part}"] = source.take(f"bn_relu.{s}.0.{part}")
    leftover = sorted(set(source.tensors) - source.used)
    if leftover:
        shown = ", ".join(repr(prefix + key) for key in leftover[:5])
        raise ValueError(
            f"state_dict has {len(leftover)} keys under prefix {prefix!r} that are not DCA weights: {shown}"
        )
    return converted
