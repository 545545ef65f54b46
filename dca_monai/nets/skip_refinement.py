"""The one mechanism every DCA network uses to refine its encoder skips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from dca_monai.blocks.dual_cross_attention import DualCrossAttention
from dca_monai.utils.config_flags import require_bool

__all__ = ["SkipRefinement"]


class SkipRefinement:
    """Mixin for a MONAI network whose skip connections go through one :class:`DualCrossAttention`.

    A DCA network subclasses ``SkipRefinement`` and its MONAI parent (in that order, so this
    ``forward`` replaces the parent's). Its ``__init__`` calls the parent's ``__init__`` first (so
    the parent's submodule names, and with a fixed seed its initial weights, stay exactly the
    parent's), then :meth:`attach_dca`. It implements the two halves of the parent's forward:
    :meth:`encode` (input to bottleneck and skips) and :meth:`decode` (bottleneck and skips to
    output); :meth:`forward` refines the skips in between. With ``dca=False`` no ``dca`` submodule
    exists and :meth:`refine_skips` returns the skips unchanged, so the network is exactly its parent.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(bottleneck, refine_skips(skips))`` with ``bottleneck, skips = encode(x)``.

        Args:
            x: input of shape ``(B, in_channels, *S)``.

        Returns:
            The parent's output for the refined skips (``(B, out_channels, *S)`` for most parents).
        """
        bottleneck, skips = self.encode(x)
        return self.decode(bottleneck, self.refine_skips(skips))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The parent's encoder: the bottleneck features and the skips the decoder consumes, fine to coarse."""
        raise NotImplementedError(f"{type(self).__name__} must implement encode")

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """The parent's decoder and head on ``bottleneck`` and ``skips`` (fine to coarse, as :meth:`encode` gives)."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode")

    def attach_dca(
        self, spatial_dims: int, skip_channels: Sequence[int], dca: bool, dca_args: Mapping[str, Any] | None
    ) -> None:
        """Create ``self.dca`` for skips of ``skip_channels`` (fine to coarse), or ``None`` when ``dca`` is false.

        Args:
            spatial_dims: number of spatial dimensions of the network.
            skip_channels: channels of the tapped skips, fine to coarse.
            dca: whether to refine the skips at all, a bool (on the bundle command line
                ``--network_def#dca False``; see :func:`~dca_monai.utils.config_flags.require_bool`).
            dca_args: keyword arguments of :class:`DualCrossAttention` besides ``spatial_dims``
                and ``skip_channels`` (e.g. ``{"token_pool": 2, "spatial_heads": 8}``).
                Arguments left out take the block's defaults, which work for every configuration
                the parent accepts: automatic head counts and token grid (see
                :class:`DualCrossAttention`).

        Raises:
            TypeError: when ``dca`` is not a bool (the string ``"false"`` included).
            ValueError: when ``dca_args`` names ``spatial_dims`` or ``skip_channels`` (the network sets them), or when
                :class:`DualCrossAttention` rejects the arguments.
        """
        args = dict(dca_args or {})
        for fixed in ("spatial_dims", "skip_channels"):
            if fixed in args:
                raise ValueError(f"dca_args[{fixed!r}]={args[fixed]!r} but the network sets {fixed} itself")
        module = DualCrossAttention(spatial_dims, list(skip_channels), **args) if require_bool("dca", dca) else None
        nn.Module.__setattr__(self, "dca", module)  # type: ignore[arg-type]

    def refine_skips(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        """The skips refined by ``self.dca`` (same shapes), or unchanged when the network has no DCA."""
        if self.dca is None:
            return skips
        return self.dca(skips)
