"""AttentionUnet with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.networks.nets import AttentionUnet
from monai.networks.nets.attentionunet import AttentionLayer
from torch import nn

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCAAttentionUnet"]


class _SplitAttentionLayer(AttentionLayer):
    """An ``AttentionLayer`` whose encoder and decoder halves also run apart, so skips can change in between.

    It takes over the children of an existing layer under the same names (so state dict keys and
    weights stay the same) and keeps ``AttentionLayer.forward``. This class is the bottom layer,
    whose ``submodule`` is an encoder block; :class:`_SplitInnerAttentionLayer` is a layer whose
    ``submodule`` is ``(encoder block, next layer)``. ``encode`` walks down through the nested
    layers and ``decode`` back up; TorchScript compiles this recursion because every level is a
    module of its own type.

    Args:
        layer: the ``AttentionLayer`` to take the children of.
        level: depth of the layer, 0 for the outermost; its skip is ``skips[level]``.
    """

    def __init__(self, layer: AttentionLayer, level: int) -> None:
        nn.Module.__init__(self)  # the children are taken over, not created anew
        self.attention = layer.attention
        self.upconv = layer.upconv
        self.merge = layer.merge
        self.submodule = layer.submodule
        self.level = level

    def encode(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Append this level's skip ``x`` to ``skips`` and return the bottleneck features under it."""
        skips.append(x)
        return self.submodule(x)

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """The decoder output of this level, from the bottleneck features and the skips of all levels."""
        return self.gate_and_merge(bottleneck, skips[self.level])

    def gate_and_merge(self, lower: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """``AttentionLayer.forward`` after its submodule: upsample ``lower``, gate ``skip`` with it, merge."""
        fromlower = self.upconv(lower)
        att = self.attention(g=fromlower, x=skip)
        merged: torch.Tensor = self.merge(torch.cat((att, fromlower), dim=1))
        return merged


class _SplitInnerAttentionLayer(_SplitAttentionLayer):
    """A :class:`_SplitAttentionLayer` above the bottom: its ``submodule`` is ``(encoder block, next layer)``."""

    def encode(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        skips.append(x)
        return self.submodule[1].encode(self.submodule[0](x), skips)

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        return self.gate_and_merge(self.submodule[1].decode(bottleneck, skips), skips[self.level])


class DCAAttentionUnet(SkipRefinement, AttentionUnet):
    """MONAI's :class:`~monai.networks.nets.AttentionUnet` whose skips are refined together by DCA.

    Tapped skips: the tensor each nested ``AttentionLayer`` receives as its input ``x``, which its
    attention gate and concatenation consume: the output of the head ``ConvBlock`` (``model.0``)
    and of every encoder ``ConvBlock`` above the bottom one (``submodule.0`` of each layer), after
    their final batch norm and ReLU. That is ``len(channels) - 1`` skips with channels
    ``channels[:-1]`` at the cumulative strides 1, ``strides[0]``, ``strides[0] * strides[1]``, ...
    The bottom encoder block (``channels[-1]`` channels) is the bottleneck and is not refined.
    1D, 2D and 3D, as the parent.

    Every parameter and buffer name of ``AttentionUnet`` is kept and the DCA module lives under
    ``dca``. To run the encoder and the decoder apart, the nested ``AttentionLayer`` modules are
    replaced by subclasses that take over their children under the same names (and keep their
    ``forward``). The network is TorchScript-scriptable, as its parent is.

    Args:
        spatial_dims, in_channels, out_channels, channels, strides, kernel_size, up_kernel_size,
            dropout: as :class:`~monai.networks.nets.AttentionUnet`.
        dca: refine the skips with DCA; ``False`` gives exactly ``AttentionUnet``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Raises:
        ValueError: as :meth:`~dca_monai.nets.SkipRefinement.attach_dca` for bad ``dca_args``.

    Shapes:
        input ``(B, in_channels, *S)``, output ``(B, out_channels, *S)``, each size of ``S``
        divisible by the product of ``strides`` along its axis (as ``AttentionUnet`` requires).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int],
        strides: Sequence[int],
        kernel_size: Sequence[int] | int = 3,
        up_kernel_size: Sequence[int] | int = 3,
        dropout: float = 0.0,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            channels=channels,
            strides=strides,
            kernel_size=kernel_size,
            up_kernel_size=up_kernel_size,
            dropout=dropout,
        )
        self._split_layers()
        self.attach_dca(spatial_dims, list(self.channels[:-1]), dca, dca_args)

    def _split_layers(self) -> None:
        container, level = self.model, 0
        while True:
            layer = container[1]
            inner = isinstance(layer.submodule, nn.Sequential)  # (encoder block, next layer)
            container[1] = (_SplitInnerAttentionLayer if inner else _SplitAttentionLayer)(layer, level)
            if not inner:
                return
            container, level = layer.submodule, level + 1

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips: list[torch.Tensor] = []
        bottleneck = self.model[1].encode(self.model[0](x), skips)
        return bottleneck, skips

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        return self.model[2](self.model[1].decode(bottleneck, skips))
