"""Channel counts and attention heads of the skip stages that one DCA module refines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["PAPER_CHANNEL_HEADS", "PAPER_SPATIAL_HEADS", "StageLayout", "automatic_heads", "init_channel_affine"]

# the paper's head counts, which automatic heads (``None``) take wherever they divide the channels
PAPER_CHANNEL_HEADS = 1
PAPER_SPATIAL_HEADS = 4


def automatic_heads(stage_channels: int, total_channels: int, preferred: int) -> int:
    """The largest head count up to ``preferred`` that divides both ``stage_channels`` and ``total_channels``.

    ``preferred`` (the paper's count) wherever it divides both, so the paper's configurations keep the
    paper's heads; otherwise fewer heads, at least 1, which always divides. For example the skips
    ``(12, 12, 13, 14)`` (total 51) get spatial heads ``(3, 3, 1, 1)``.
    """
    common = math.gcd(stage_channels, total_channels)
    return max(count for count in range(1, preferred + 1) if common % count == 0)


def _heads_per_stage(name: str, heads: int | Sequence[int], num_stages: int) -> tuple[int, ...]:
    per_stage = (heads,) * num_stages if isinstance(heads, int) else tuple(heads)
    if len(per_stage) != num_stages:
        raise ValueError(f"{name} has {len(per_stage)} values but there are {num_stages} skip stages")
    for stage, value in enumerate(per_stage):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}[{stage}]={value!r} but a positive int was expected")
    return per_stage


@dataclass(frozen=True)
class StageLayout:
    """The stages of a DCA module: channels ``C_l`` (fine to coarse) and heads per stage.

    Args:
        channels: channel count of every skip stage, ordered fine to coarse.
        channel_heads: heads of channel cross-attention, one int for all stages or one per stage, or
            ``None`` for :func:`automatic_heads` of every stage with the paper's 1 preferred (always 1).
        spatial_heads: heads of spatial cross-attention, one int for all stages or one per stage, or
            ``None`` for :func:`automatic_heads` of every stage with the paper's 4 preferred.

    Raises:
        ValueError: when there are no stages, a channel count is not positive, the number of
            heads does not match the number of stages, or an explicit head count does not divide
            both the stage's channels ``C_l`` and the total ``C = sum(C_l)``.
    """

    channels: tuple[int, ...]
    channel_heads: tuple[int, ...]
    spatial_heads: tuple[int, ...]

    @classmethod
    def build(
        cls,
        channels: Sequence[int],
        channel_heads: int | Sequence[int] | None = None,
        spatial_heads: int | Sequence[int] | None = None,
    ) -> StageLayout:
        channels = tuple(channels)
        if len(channels) == 0:
            raise ValueError("skip_channels is empty but at least one skip stage was expected")
        for stage, value in enumerate(channels):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"skip_channels[{stage}]={value!r} but a positive int was expected")
        total = sum(channels)
        if channel_heads is None:
            channel_heads = [automatic_heads(c, total, PAPER_CHANNEL_HEADS) for c in channels]
        if spatial_heads is None:
            spatial_heads = [automatic_heads(c, total, PAPER_SPATIAL_HEADS) for c in channels]
        layout = cls(
            channels=channels,
            channel_heads=_heads_per_stage("channel_heads", channel_heads, len(channels)),
            spatial_heads=_heads_per_stage("spatial_heads", spatial_heads, len(channels)),
        )
        layout._check_divisible("channel_heads", layout.channel_heads)
        layout._check_divisible("spatial_heads", layout.spatial_heads)
        return layout

    def _check_divisible(self, name: str, heads: tuple[int, ...]) -> None:
        for stage, (count, stage_channels) in enumerate(zip(heads, self.channels)):
            if stage_channels % count:
                raise ValueError(
                    f"{name}[{stage}]={count} does not divide skip_channels[{stage}]={stage_channels}; "
                    f"expected a divisor of {stage_channels}"
                )
            if self.total_channels % count:
                raise ValueError(
                    f"{name}[{stage}]={count} does not divide the total skip channels {self.total_channels} "
                    f"(sum of skip_channels={list(self.channels)}); expected a common divisor of "
                    f"{math.gcd(stage_channels, self.total_channels)}"
                )

    @property
    def num_stages(self) -> int:
        return len(self.channels)

    @property
    def total_channels(self) -> int:
        return sum(self.channels)


def init_channel_affine(parameter: nn.Parameter) -> None:
    """Initialise a per-channel affine weight or bias as PyTorch initialises a 1x1 depthwise conv.

    A depthwise 1x1 convolution has fan-in 1, so PyTorch's default (Kaiming-uniform with
    ``a=sqrt(5)`` for the weight, uniform ``1/sqrt(fan_in)`` for the bias) draws both from
    ``U(-1, 1)``: this keeps our initial distribution equal to the authors' code.
    """
    with torch.no_grad():
        parameter.uniform_(-1.0, 1.0)
