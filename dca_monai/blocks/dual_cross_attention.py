"""The Dual Cross-Attention (DCA) module for 1D, 2D and 3D skip connections."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import ADN
from monai.networks.layers import Conv
from torch import nn

from dca_monai.blocks.dca_attention_stage import DCAAttentionStage
from dca_monai.blocks.graph_capture import capturing_graph
from dca_monai.blocks.residual_batch_norm_relu import residual_batch_norm_relu, supports_fused_batch_norm_relu
from dca_monai.blocks.separable_pool import separable_average_pool
from dca_monai.blocks.separable_upsample import separable_upsample
from dca_monai.blocks.stage_layout import StageLayout, init_channel_affine

__all__ = ["DCA", "TOKEN_BUDGET", "DualCrossAttention", "max_grid_cells"]

# the most tokens an automatic token grid holds: 64^2 in 2D, 16^3 in 3D; the paper's grids (28^2 at 2D 224,
# 12^3 at 3D 96^3 with four skips) and 16^3 at 3D 128^3 fit unpooled
TOKEN_BUDGET = 4096


def max_grid_cells(spatial_dims: int) -> int:
    """Cells per axis of an automatic token grid: the largest ``n`` with ``n ** spatial_dims <= TOKEN_BUDGET``.

    4096 in 1D, 64 in 2D, 16 in 3D.
    """
    cells = 1
    while (cells + 1) ** spatial_dims <= TOKEN_BUDGET:
        cells += 1
    return cells


class DualCrossAttention(nn.Module):
    """Dual Cross-Attention (Ates et al., 2023) over the skip connections of a U-shaped network.

    All skip stages are refined together: every stage is average-pooled to a common token grid
    and mapped per channel; ``n_blocks`` blocks of channel cross-attention then spatial
    cross-attention mix the stages; each stage's tokens go back to the grid, through a 1x1
    convolution, are upsampled (bilinear / trilinear, ``align_corners=True``) to the stage's
    exact size, added to the raw skip and passed through norm and activation.

    The computation equals the authors' 2D code (checked against it, see
    :func:`dca_monai.compat.convert_official_dca`) with these deliberate differences:

    - Pooling is adaptive to a token grid derived from the input (the coarsest skip's size
      divided by ``token_pool``) and upsampling goes to each skip's exact size, so any size works:
      non-square, anisotropic and odd sizes, where the authors' code needs square inputs of
      exactly ``patch * stride``. On those it computes the same thing.
    - The 1x1 convolution runs on the token grid *before* upsampling instead of after: both are
      linear, the interpolation weights sum to one, so the result is the same (up to float
      rounding) at a fraction of the cost.
    - The (bi/tri)linear, ``align_corners=True`` upsampling is computed as one small matrix
      product per axis (:func:`~dca_monai.blocks.separable_upsample.separable_upsample`): the
      same weights as ``F.interpolate``, faster on CPU (``docs/benchmarks.md``).
    - While a graph is captured (``torch.jit.trace``, ONNX export, ``torch.export``; see
      :func:`~dca_monai.blocks.graph_capture.capturing_graph`) pooling runs as per-axis averaging
      matrices with the same bins (:func:`~dca_monai.blocks.separable_pool.separable_average_pool`),
      no step is skipped by comparing sizes and the attention scores are explicit, so the captured
      graph holds for every input size and batch. Eager and scripted code keep adaptive pooling,
      faster on CPU (``scripts/bench_dca.py --pooling-only``).
    - Spatial attention uses :func:`torch.nn.functional.scaled_dot_product_attention` with the
      values zero-padded to the query head size where a flash kernel runs (it wants equal sizes),
      and only to a multiple of 8 for CUDA's memory-efficient kernel, so the fused memory-O(N)
      kernels run (exact); its explicit CPU path pads values narrower than 16 columns to 16 (exact,
      faster BLAS).
    - Channel attention applies its per-stage key and value maps to the ``(C_l, C)`` score products
      instead of the ``(B, N, C)`` tokens (:class:`~dca_monai.blocks.ChannelCrossAttention`): the
      same linear algebra, float rounding only.
    - Norm and activation after the residual are configurable (default batch norm + ReLU, as
      the paper).
    - Defaults that work for every network (``docs/dca-spec.md``, "Deviations"): unset head counts
      (``None``) take the paper's 4 spatial / 1 channel head wherever they divide the channels and
      otherwise the largest count below that does; an unset ``token_pool`` (``None``) keeps the
      coarsest skip's grid while it has at most 64 cells per axis in 2D or 16 in 3D
      (:data:`TOKEN_BUDGET` = 4096 tokens) and pools each longer axis by the smallest factor that
      brings it within that, so the attention's cost stays bounded at any input size. The paper's
      configurations (widths 32..512 at 2D 224) resolve to exactly the paper's heads and grid.
    - 1D skips work too (the maths does not depend on the number of axes): linear interpolation.
    - With ``fused_tail=True`` and the default batch norm + ReLU, in eager mode on CPU, residual
      add, norm and activation run as one autograd step
      (:func:`~dca_monai.blocks.residual_batch_norm_relu.residual_batch_norm_relu`) that keeps one
      skip-sized tensor per stage for backward instead of two and allocates fewer: the same outputs
      and running statistics, gradients equal to float rounding. It is off by default: on CPU it
      lowers the 2D block's peak memory by about a tenth but saves no time (docs/benchmarks.md).
      The default, other norms or activations, scripting, graph capture and autocast use the
      ``ADN`` modules (``output_adn``; the state dict is the same either way).

    Args:
        spatial_dims: number of spatial dimensions, 1, 2 or 3.
        skip_channels: channels of each skip stage, ordered fine to coarse.
        n_blocks: number of stacked :class:`~dca_monai.blocks.DCAAttentionStage` (channel then spatial
            cross-attention; paper: 1), kept in ``blocks``.
        channel_heads: channel-attention heads, an int or one per stage (paper: 1). ``None``
            (default): automatic, see ``spatial_heads`` (always 1, which divides every count).
        spatial_heads: spatial-attention heads, an int or one per stage (paper: 4). An explicit
            head count must divide the stage's channels and the total ``sum(skip_channels)``.
            ``None`` (default): per stage the paper's 4 where it divides both, else the largest
            count below 4 that does (:func:`~dca_monai.blocks.stage_layout.automatic_heads`);
            the resolved counts are in ``spatial_heads`` / ``channel_heads`` after construction.
        channel_attention: use channel cross-attention (paper ablation switch).
        spatial_attention: use spatial cross-attention (paper ablation switch).
        token_pool: the token grid is the coarsest skip's size divided (floor, at least 1) by
            this factor, an int or one per spatial axis; 1 is the paper's grid, 2 cuts the
            number of tokens by ``2**spatial_dims`` for big 3D patches. ``None`` (default):
            chosen per axis at every forward from the coarsest skip's size ``s``, the smallest
            factor ``ceil(s / max_grid_cells(spatial_dims))`` that leaves at most 64 cells (2D),
            16 (3D) or 4096 (1D), so the grid holds at most :data:`TOKEN_BUDGET` tokens (1 up to
            those sizes: the paper's grid). Pure integer arithmetic, so a scripted or traced graph
            (and the TorchScript-based ONNX export) recomputes it for every input size; under
            ``torch.export`` (whose shape solver fails on a size divided by a size) the factor of
            the example input is kept, and the exported program's range constraints admit only
            the sizes with that factor (for 1, a coarsest skip of up to 64 cells per axis in 2D, 16 in 3D).
        norm: feature normalisation after the residual, a MONAI ``Norm`` name or ``(name, args)``;
            ``None`` for none.
        act: activation after the norm, a MONAI ``Act`` name or ``(name, args)``; ``None`` for none.
            The default ReLU runs in place on the block's own buffer (no skip-sized copy).
        fused_tail: run residual, batch norm and ReLU as one autograd step where that is exact
            (see above; opt-in); ``False`` (default) always runs the ``output_adn`` modules.

    Raises:
        ValueError: for an unsupported ``spatial_dims``, bad ``skip_channels``, heads or
            ``token_pool``, and in ``forward`` for a wrong number of skips, wrong rank, channel
            counts that differ from construction, or a stage smaller than the one after it.

    Shapes:
        ``forward(skips)`` takes a list of ``L`` tensors ``(B, C_l, *S_l)`` and returns a list of
        ``L`` tensors of exactly the same shapes.

    Example::

        dca = DualCrossAttention(3, skip_channels=(32, 64, 128, 256))
        skips = [torch.rand(1, c, 96 // 2**i, 96 // 2**i, 80 // 2**i) for i, c in enumerate((32, 64, 128, 256))]
        refined = dca(skips)  # same shapes as skips
    """

    def __init__(
        self,
        spatial_dims: int,
        skip_channels: Sequence[int],
        n_blocks: int = 1,
        channel_heads: int | Sequence[int] | None = None,
        spatial_heads: int | Sequence[int] | None = None,
        channel_attention: bool = True,
        spatial_attention: bool = True,
        token_pool: int | Sequence[int] | None = None,
        norm: tuple | str | None = "batch",
        act: tuple | str | None = ("relu", {"inplace": True}),
        fused_tail: bool = False,
    ) -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims={spatial_dims!r} but 1, 2 or 3 was expected")
        if not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"n_blocks={n_blocks!r} but a non-negative int was expected")
        layout = StageLayout.build(skip_channels, channel_heads, spatial_heads)
        self.spatial_dims = spatial_dims
        self.skip_channels = list(layout.channels)
        self.channel_heads = list(layout.channel_heads)
        self.spatial_heads = list(layout.spatial_heads)
        # None: automatic per forward (token_grid); TorchScript compiles only the branch for this instance
        self.token_pool = None if token_pool is None else _explicit_token_pool(token_pool, spatial_dims)
        self.max_grid_cells = max_grid_cells(spatial_dims)
        self.fused_tail = fused_tail
        # per-channel token maps of all stages side by side (the authors' per-stage 1x1 depthwise convs)
        self.token_weight = nn.Parameter(torch.empty(layout.total_channels))
        self.token_bias = nn.Parameter(torch.empty(layout.total_channels))
        init_channel_affine(self.token_weight)
        init_channel_affine(self.token_bias)
        self.blocks = nn.ModuleList(
            [DCAAttentionStage(layout, channel_attention, spatial_attention) for _ in range(n_blocks)]
        )
        conv_type = Conv[Conv.CONV, spatial_dims]
        self.projections = nn.ModuleList([conv_type(c, c, kernel_size=1) for c in layout.channels])
        self.output_adn = nn.ModuleList(
            [ADN(ordering="NA", in_channels=c, act=act, norm=norm, norm_dim=spatial_dims) for c in layout.channels]
        )

    def token_grid(self, skips: list[torch.Tensor]) -> list[int]:
        """The token grid ``G`` for these skips: the coarsest skip's size floor-divided by ``token_pool``, at least 1.

        With the automatic ``token_pool`` (``None``) the factor on an axis of size ``s`` is
        ``ceil(s / max_grid_cells)``, so that axis keeps at most ``max_grid_cells`` cells.
        Written without ``int()``, ``max()`` or comparisons, so a traced or exported graph keeps the
        grid symbolic (``a + 1 // (a + 1)`` is ``max(a, 1)`` for ``a >= 0``). Under ``torch.compile``
        the grid is ``torch.sym_max(a, 1)`` instead: inductor's range analysis cannot bound
        ``1 // (a + 1)`` and fails to lower the convolutions on the grid (``ValueRangeError``).
        """
        coarsest = skips[-1].shape[2:]
        compiling = not torch.jit.is_scripting() and self._compiling()
        grid: list[int] = []
        for axis in range(self.spatial_dims):
            size = coarsest[axis]
            if self.token_pool is None:
                pool = (size + self.max_grid_cells - 1) // self.max_grid_cells
                if _exporting():  # torch.export's shape solver fails on a size divided by a size
                    pool = int(pool)
            else:
                pool = self.token_pool[axis]
            cells = size // pool
            grid.append(self._at_least_one(cells) if compiling else cells + 1 // (cells + 1))
        return grid

    @torch.jit.unused
    def _compiling(self):
        # type: () -> bool
        """Whether ``torch.compile`` (dynamo, not ``torch.export``) is tracing this forward."""
        return torch.compiler.is_compiling() and not torch.compiler.is_exporting()

    @torch.jit.unused
    def _at_least_one(self, cells):
        # type: (int) -> int
        """``max(cells, 1)`` that stays a symbolic size under ``torch.compile(dynamic=True)``."""
        return torch.sym_max(cells, 1)

    def _check_skips(self, skips: list[torch.Tensor]) -> None:
        if len(skips) != len(self.skip_channels):
            raise ValueError(
                f"DualCrossAttention got {len(skips)} skips but was built for {len(self.skip_channels)} "
                f"(skip_channels={self.skip_channels})"
            )
        for stage, skip in enumerate(skips):
            if skip.dim() != self.spatial_dims + 2:
                raise ValueError(
                    f"skip {stage} has shape {list(skip.shape)} (rank {skip.dim()}) but rank "
                    f"{self.spatial_dims + 2} (B, C, {self.spatial_dims} spatial sizes) was expected"
                )
            if capturing_graph():  # sizes are symbolic there; comparing them would freeze the graph
                continue
            if skip.shape[1] != self.skip_channels[stage]:
                raise ValueError(
                    f"skip_channels[{stage}]={self.skip_channels[stage]} but skip {stage} has {skip.shape[1]} channels"
                )
            if stage > 0:
                finer, coarser = skips[stage - 1].shape[2:], skip.shape[2:]
                for axis in range(self.spatial_dims):
                    if finer[axis] < coarser[axis]:
                        raise ValueError(
                            f"skip {stage - 1} has spatial size {list(finer)}, smaller than skip {stage} "
                            f"{list(coarser)}; skips must be ordered fine to coarse"
                        )

    def _pool(self, skip: torch.Tensor, grid: list[int]) -> torch.Tensor:
        if capturing_graph():  # adaptive pooling freezes the sizes in traced and exported graphs
            return separable_average_pool(skip, grid)
        # inductor's adaptive_avg_pool2d lowering compares kernel sizes, which fails for symbolic ones, and
        # adaptive_avg_pool1d (pool2d on an unsqueezed axis) specialises on the grid: a recompile per size
        if self.spatial_dims < 3 and not torch.jit.is_scripting() and self._compiling():
            return separable_average_pool(skip, grid)
        if list(skip.shape[2:]) == grid:
            return skip
        if self.spatial_dims == 1:
            return F.adaptive_avg_pool1d(skip, grid)
        if self.spatial_dims == 2:
            return F.adaptive_avg_pool2d(skip, grid)
        return F.adaptive_avg_pool3d(skip, grid)

    def forward(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        self._check_skips(skips)
        grid = self.token_grid(skips)
        batch = skips[0].shape[0]
        pooled = [self._pool(skip, grid).flatten(2).transpose(1, 2) for skip in skips]  # (B, N, C_l)
        mixed = torch.cat(pooled, dim=-1) * self.token_weight + self.token_bias  # (B, N, C)
        for block in self.blocks:
            mixed = block(mixed)
        parts = mixed.split(self.skip_channels, dim=-1)
        refined: list[torch.Tensor] = []
        for stage, projection in enumerate(self.projections):
            on_grid = parts[stage].transpose(1, 2).reshape([batch, self.skip_channels[stage]] + grid)
            # 1x1 conv before upsampling: both are linear and commute, the grid is far smaller
            upsampled = projection(on_grid)
            size = list(skips[stage].shape[2:])
            if capturing_graph() or size != grid:
                upsampled = separable_upsample(upsampled, size)
            refined.append(upsampled)
        outputs: list[torch.Tensor] = []
        for stage, adn in enumerate(self.output_adn):
            if not torch.jit.is_scripting() and self._fuses_tail(refined[stage], stage):
                outputs.append(self._fused_tail(refined[stage], skips[stage], stage))
            else:  # in place: the buffer is ours, no autograd needs it
                outputs.append(adn(refined[stage].add_(skips[stage])))
        return outputs

    # type comments, not annotations: TorchScript cannot resolve postponed annotations of unused methods
    @torch.jit.unused
    def _fuses_tail(self, upsampled, stage):
        # type: (torch.Tensor, int) -> bool
        """Whether stage ``stage``'s residual, norm and activation run fused (exact for this input)."""
        adn = self.output_adn[stage]
        if not self.fused_tail or len(adn) != 2:
            return False
        return supports_fused_batch_norm_relu(getattr(adn, "N", None), getattr(adn, "A", None), upsampled)

    @torch.jit.unused
    def _fused_tail(self, upsampled, skip, stage):
        # type: (torch.Tensor, torch.Tensor, int) -> torch.Tensor
        """``relu(batch_norm(upsampled + skip))`` with stage ``stage``'s ``output_adn`` parameters, in ``upsampled``."""
        return residual_batch_norm_relu(upsampled, skip, self.output_adn[stage].N)


def _exporting() -> bool:
    if torch.jit.is_scripting():
        return False
    return torch.compiler.is_exporting()


def _explicit_token_pool(token_pool: int | Sequence[int], spatial_dims: int) -> list[int]:
    pool = (token_pool,) * spatial_dims if isinstance(token_pool, int) else tuple(token_pool)
    if len(pool) != spatial_dims or any(not isinstance(p, int) or p < 1 for p in pool):
        raise ValueError(
            f"token_pool={token_pool!r} but a positive int or {spatial_dims} positive ints (or None) were expected"
        )
    return list(pool)


DCA = DualCrossAttention
