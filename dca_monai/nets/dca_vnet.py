"""VNet with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.networks.nets import VNet
from monai.utils import deprecated_arg

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCAVNet"]


class DCAVNet(SkipRefinement, VNet):
    """MONAI's :class:`~monai.networks.nets.VNet` whose four skips are refined by DCA.

    Tapped encoder outputs: ``in_tr``, ``down_tr32``, ``down_tr64``, ``down_tr128`` (after each
    transition's final activation, which follows its residual add, as ``VNet`` passes them to the
    up transitions), channels 16, 32, 64, 128 (fixed by ``VNet``), at strides 1, 2, 4, 8. The
    bottleneck ``down_tr256`` (256 channels, stride 16) is not refined. The up transitions apply
    their skip dropout (``dropout_prob_up[1]`` in ``up_tr256``/``up_tr128``, always 0.5 in
    ``up_tr64``/``up_tr32``, as ``VNet`` builds them) to the refined skips. Every submodule name
    of ``VNet`` is kept, the DCA module lives under ``dca``. TorchScript-scriptable.

    Args:
        spatial_dims, in_channels, out_channels, act, dropout_prob, dropout_prob_down,
            dropout_prob_up, dropout_dim, bias: as :class:`~monai.networks.nets.VNet`
            (``dropout_prob`` is deprecated there and handled the same way here).
        dca: refine the skips with DCA; ``False`` gives exactly ``VNet``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Raises:
        ValueError: as ``VNet``, or when ``dca_args`` is rejected (see
            :meth:`~dca_monai.nets.SkipRefinement.attach_dca`).

    Shapes:
        input ``(B, in_channels, *S)``, output ``(B, out_channels, *S)``, ``S`` divisible by 16
        (as ``VNet`` requires) and ``16 % in_channels == 0``.
    """

    @deprecated_arg(
        name="dropout_prob",
        since="1.2",
        new_name="dropout_prob_down",
        msg_suffix="please use `dropout_prob_down` instead.",
    )
    @deprecated_arg(
        name="dropout_prob", since="1.2", new_name="dropout_prob_up", msg_suffix="please use `dropout_prob_up` instead."
    )
    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 1,
        act: tuple[str, dict] | str = ("elu", {"inplace": True}),
        dropout_prob: float | None = 0.5,  # deprecated, as in VNet
        dropout_prob_down: float | None = 0.5,
        dropout_prob_up: tuple[float | None, float] = (0.5, 0.5),
        dropout_dim: int = 3,
        bias: bool = False,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        # VNet ignores dropout_prob itself; passing it would only repeat the deprecation warning
        super().__init__(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            act=act,
            dropout_prob_down=dropout_prob_down,
            dropout_prob_up=dropout_prob_up,
            dropout_dim=dropout_dim,
            bias=bias,
        )
        skip_channels = [self.in_tr.out_channels] + [
            down.down_conv.out_channels for down in (self.down_tr32, self.down_tr64, self.down_tr128)
        ]
        self.attach_dca(spatial_dims, skip_channels, dca, dca_args)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out16 = self.in_tr(x)
        out32 = self.down_tr32(out16)
        out64 = self.down_tr64(out32)
        out128 = self.down_tr128(out64)
        return self.down_tr256(out128), [out16, out32, out64, out128]

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        x = self.up_tr256(bottleneck, skips[3])
        x = self.up_tr128(x, skips[2])
        x = self.up_tr64(x, skips[1])
        x = self.up_tr32(x, skips[0])
        return self.out_tr(x)
