"""DynUNet (nnU-Net) with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.networks.nets import DynUNet
from torch.nn.functional import interpolate

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCADynUNet"]


class DCADynUNet(SkipRefinement, DynUNet):
    """MONAI's :class:`~monai.networks.nets.DynUNet` whose skips are refined together by DCA.

    Tapped encoder outputs: ``input_block`` and every block of ``downsamples`` (after their final
    norm and activation, as MONAI's ``UnetBasicBlock`` / ``UnetResBlock`` return them), that is
    ``len(strides) - 1`` skips with channels ``filters[:-1]``, at the cumulative strides
    ``strides[0]``, ``strides[0] * strides[1]``, ... up to the product of ``strides[:-1]``. The
    ``bottleneck`` is not refined. Every submodule name of ``DynUNet`` is kept (``skip_layers``
    included: it aliases the blocks above for the parent's recursive forward, which this class
    does not use), the DCA module lives under ``dca``. 1D, 2D and 3D, as the parent.

    ``encode`` walks ``input_block``, ``downsamples`` and ``bottleneck``; ``decode`` runs
    ``upsamples`` (deepest first) on the refined skips and ``output_block``. Deep supervision is the
    parent's: in training mode with ``deep_supervision=True`` the output is the final map stacked
    with the ``deep_supr_num`` head outputs (finest head first), each interpolated (nearest) to the
    final map's size; otherwise the final map alone. The heads only run in training mode, where
    they are returned (the parent also runs them in eval mode and discards them).

    The network is TorchScript-scriptable (``torch.jit.script``,
    ``monai.networks.utils.convert_to_torchscript``), with deep supervision too, where MONAI 1.6's
    ``DynUNet`` is not (its ``DynUNetSkipLayer`` does not compile then). TorchScript leaves out
    ``skip_layers``, so a saved TorchScript file holds every weight once, under its primary name,
    without the duplicate ``skip_layers.*`` keys.

    Args:
        spatial_dims, in_channels, out_channels, kernel_size, strides, upsample_kernel_size,
            filters, dropout, norm_name, act_name, deep_supervision, deep_supr_num, res_block,
            trans_bias: as :class:`~monai.networks.nets.DynUNet`.
        dca: refine the skips with DCA; ``False`` gives exactly ``DynUNet``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).

    Raises:
        ValueError: as :class:`~monai.networks.nets.DynUNet` for inconsistent ``kernel_size``,
            ``strides``, ``filters`` or ``deep_supr_num``, and as
            :meth:`~dca_monai.nets.SkipRefinement.attach_dca` for bad ``dca_args``.

    Shapes:
        input ``(B, in_channels, *S)``, each size of ``S`` divisible by the product of the strides
        along its axis (as ``DynUNet`` requires); output ``(B, out_channels, *S / strides[0])``, or
        in training mode with deep supervision ``(B, 1 + deep_supr_num, out_channels, *S / strides[0])``.
    """

    # unused by encode/decode, and MONAI's DynUNetSkipLayer does not compile with deep supervision
    __jit_ignored_attributes__ = ["skip_layers"]

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: Sequence[Sequence[int] | int],
        strides: Sequence[Sequence[int] | int],
        upsample_kernel_size: Sequence[Sequence[int] | int],
        filters: Sequence[int] | None = None,
        dropout: tuple | str | float | None = None,
        norm_name: tuple | str = ("INSTANCE", {"affine": True}),
        act_name: tuple | str = ("leakyrelu", {"inplace": True, "negative_slope": 0.01}),
        deep_supervision: bool = False,
        deep_supr_num: int = 1,
        res_block: bool = False,
        trans_bias: bool = False,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            strides=strides,
            upsample_kernel_size=upsample_kernel_size,
            filters=filters,
            dropout=dropout,
            norm_name=norm_name,
            act_name=act_name,
            deep_supervision=deep_supervision,
            deep_supr_num=deep_supr_num,
            res_block=res_block,
            trans_bias=trans_bias,
        )
        self.attach_dca(spatial_dims, list(self.filters[:-1]), dca, dca_args)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips: list[torch.Tensor] = [self.input_block(x)]
        for down in self.downsamples:
            skips.append(down(skips[-1]))
        return self.bottleneck(skips[-1]), skips

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        out = bottleneck
        supervised = self.training and self.deep_supervision
        heads: list[torch.Tensor] = []
        for step, upsample in enumerate(self.upsamples):
            level = len(self.upsamples) - 1 - step  # upsamples run deepest first
            out = upsample(out, skips[level])
            # the attribute only exists with deep supervision; hasattr keeps TorchScript from compiling the loop
            if hasattr(self, "deep_supervision_heads") and supervised:
                for index, head in enumerate(self.deep_supervision_heads):
                    if index == level - 1:  # head i serves level i + 1, as in DynUNet's skip layers
                        heads.insert(0, head(out))
        out = self.output_block(out)
        if supervised:
            out_all = [out]
            for feature_map in heads:
                out_all.append(interpolate(feature_map, out.shape[2:]))
            return torch.stack(out_all, dim=1)
        return out
