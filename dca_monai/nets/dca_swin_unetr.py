"""SwinUNETR with Dual Cross-Attention on its skip connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.networks.nets import SwinUNETR
from torch import nn
from torch.nn import LayerNorm

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCASwinUNETR"]


class DCASwinUNETR(SkipRefinement, SwinUNETR):
    """MONAI's :class:`~monai.networks.nets.SwinUNETR` whose five decoder skips are refined by DCA.

    Tapped encoder outputs, the five skips the decoders consume, fine to coarse (strides for the
    default ``patch_size=2``):

    - ``encoder1(x)`` (``enc0``), ``feature_size`` channels, stride 1;
    - ``encoder2(hidden_states_out[0])`` (``enc1``), ``feature_size`` channels, stride 2;
    - ``encoder3(hidden_states_out[1])`` (``enc2``), ``2 * feature_size`` channels, stride 4;
    - ``encoder4(hidden_states_out[2])`` (``enc3``), ``4 * feature_size`` channels, stride 8;
    - ``hidden_states_out[3]``, the Swin transformer's stage-3 output (after the parameter-free
      channel layer norm when ``normalize=True``), ``8 * feature_size`` channels, stride 16.

    The ``UnetrBasicBlock`` outputs are taken after their final activation, as the decoders
    receive them. The bottleneck ``encoder10(hidden_states_out[4])`` (``dec4``, ``16 *
    feature_size`` channels, stride 32) is not refined. Every submodule name of ``SwinUNETR`` is
    kept, the DCA module lives under ``dca``. ``feature_size`` is a multiple of 12, so the block's
    automatic heads are always the paper's 4.

    ``SwinUNETR`` is not TorchScript-scriptable (``torch.jit.script`` fails inside its Swin
    transformer), so neither is this network; ``torch.jit.trace`` works, for the traced input size.

    Args:
        in_channels, out_channels, patch_size, depths, num_heads, window_size, qkv_bias,
            mlp_ratio, feature_size, norm_name, drop_rate, attn_drop_rate, dropout_path_rate,
            normalize, norm_layer, patch_norm, use_checkpoint, spatial_dims, downsample, use_v2:
            as :class:`~monai.networks.nets.SwinUNETR` (the arguments MONAI 1.5 and 1.6 share).
        dca: refine the skips with DCA; ``False`` gives exactly ``SwinUNETR``.
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention`
            (``n_blocks``, ``channel_heads``, ``spatial_heads``, ``token_pool``, ``norm``, ...).
        swin_kwargs: further ``SwinUNETR`` arguments of the installed MONAI version (MONAI 1.6's
            ``use_hyena``, ``hyena_*``, ``use_flash_attention``), passed on unchanged.

    Raises:
        ValueError: as ``SwinUNETR`` (also in ``forward`` for an input size not divisible by
            ``patch_size ** 5``), or when ``dca_args`` is rejected (see
            :meth:`~dca_monai.nets.SkipRefinement.attach_dca`).

    Shapes:
        input ``(B, in_channels, *S)``, output ``(B, out_channels, *S)``, ``S`` divisible by
        ``patch_size ** 5`` (32 with the default ``patch_size=2``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        patch_size: int = 2,
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: Sequence[int] | int = 7,
        qkv_bias: bool = True,
        mlp_ratio: float = 4.0,
        feature_size: int = 24,
        norm_name: tuple | str = "instance",
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        dropout_path_rate: float = 0.0,
        normalize: bool = True,
        norm_layer: type[LayerNorm] = nn.LayerNorm,
        patch_norm: bool = False,
        use_checkpoint: bool = False,
        spatial_dims: int = 3,
        downsample: str | nn.Module = "merging",
        use_v2: bool = False,
        dca: bool = True,
        dca_args: Mapping[str, Any] | None = None,
        **swin_kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            patch_size=patch_size,
            depths=depths,
            num_heads=num_heads,
            window_size=window_size,
            qkv_bias=qkv_bias,
            mlp_ratio=mlp_ratio,
            feature_size=feature_size,
            norm_name=norm_name,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            dropout_path_rate=dropout_path_rate,
            normalize=normalize,
            norm_layer=norm_layer,
            patch_norm=patch_norm,
            use_checkpoint=use_checkpoint,
            spatial_dims=spatial_dims,
            downsample=downsample,
            use_v2=use_v2,
            **swin_kwargs,
        )
        # enc0..enc3 and the stage-3 transformer output, as built by SwinUNETR for its decoders
        skip_channels = [feature_size * factor for factor in (1, 1, 2, 4, 8)]
        self.attach_dca(spatial_dims, skip_channels, dca, dca_args)

    @torch.jit.unused
    def _check_divisible_size(self, spatial_shape: Sequence[int]) -> None:
        """SwinUNETR's input check (same error), in plain Python instead of NumPy.

        MONAI's ``_check_input_size`` builds NumPy arrays, where ``torch.compile`` breaks the graph at the
        network's first line. In SwinUNETR that break is harmless; here it would start a new frame at the
        skip refinement, whose skips then arrive with sizes unrelated to the input's, and inductor spent
        over 48 minutes simplifying their index expressions. Plain integer remainders become guards instead.

        Raises:
            ValueError: naming the axes (from 2) whose size is not a multiple of ``patch_size ** 5``.
        """
        multiple = self.patch_size**5
        wrong_dims = [axis + 2 for axis, size in enumerate(spatial_shape) if size % multiple != 0]
        if wrong_dims:
            raise ValueError(
                f"spatial dimensions {wrong_dims} of input image (spatial shape: {spatial_shape})"
                f" must be divisible by {self.patch_size}**5."
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_divisible_size(x.shape[2:])
        hidden_states_out = self.swinViT(x, self.normalize)
        enc0 = self.encoder1(x)
        enc1 = self.encoder2(hidden_states_out[0])
        enc2 = self.encoder3(hidden_states_out[1])
        enc3 = self.encoder4(hidden_states_out[2])
        return self.encoder10(hidden_states_out[4]), [enc0, enc1, enc2, enc3, hidden_states_out[3]]

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        dec3 = self.decoder5(bottleneck, skips[4])
        dec2 = self.decoder4(dec3, skips[3])
        dec1 = self.decoder3(dec2, skips[2])
        dec0 = self.decoder2(dec1, skips[1])
        return self.out(self.decoder1(dec0, skips[0]))
