"""Which kernel DCA's spatial attention runs on, chosen from the sizes, device and dtype (pure, testable on CPU)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.attention import SDPBackend

__all__ = [
    "FLASH_MAX_HEAD_SIZE",
    "HEAD_SIZE_ALIGNMENT",
    "MIN_VALUE_COLUMNS",
    "SDPA_BACKENDS",
    "AttentionPlan",
    "attention_memory_bytes",
    "cuda_aligned",
    "plan_spatial_attention",
]

# the fused CUDA kernels' limits (PyTorch's sdp_utils): flash attention takes float16/bfloat16 head sizes up to 256
# and equal query/key/value sizes; the memory-efficient kernel wants equal query/key sizes and query and value sizes
# that are multiples of its GEMM alignment (8 for half, 4 for float32): 8 serves both
FLASH_MAX_HEAD_SIZE = 256
HEAD_SIZE_ALIGNMENT = 8
# PyTorch's SDPA backend for each name an AttentionPlan lists in ``backends``
SDPA_BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}
# narrowest value matrix the explicit path hands to BLAS: 16 float32 lanes of AVX-512; 8 columns ran at a fifth of
# the machine's GEMM rate (docs/benchmarks.md)
MIN_VALUE_COLUMNS = 16


def cuda_aligned(size: int) -> int:
    """``size`` rounded up to a multiple of :data:`HEAD_SIZE_ALIGNMENT`, as the fused CUDA kernels want head sizes."""
    return -(-size // HEAD_SIZE_ALIGNMENT) * HEAD_SIZE_ALIGNMENT


@dataclass(frozen=True)
class AttentionPlan:
    """How one stage's spatial attention is computed.

    Attributes:
        path: ``"explicit"`` (scores materialised, ``softmax(q k^T) v`` as GEMMs) or ``"fused"``
            (:func:`torch.nn.functional.scaled_dot_product_attention`, memory O(N)).
        backends: for ``"fused"``, the SDPA backends allowed, in PyTorch's order of preference
            (``"flash"``, ``"efficient"``, ``"math"``); empty for ``"explicit"``.
        head_size: the query/key head size the kernel sees (zero columns appended: exact, they add
            nothing to ``q k^T``; the scale is passed explicitly).
        value_size: the value head size the kernel sees (zero columns appended, dropped after).
        reason: why this path, in words.
    """

    path: str
    backends: tuple[str, ...]
    head_size: int
    value_size: int
    reason: str


def plan_spatial_attention(
    device_type: str,
    dtype: torch.dtype,
    batch: int,
    heads: int,
    tokens: int,
    head_size: int,
    value_size: int,
    max_materialised: int,
    capturing: bool = False,
) -> AttentionPlan:
    """Choose the spatial attention's path for these sizes, on purpose rather than by PyTorch's fallback.

    - While a graph is captured (trace, ONNX, ``torch.export``): explicit, the same graph at every size.
    - On CPU, when the scores ``B*h*N*N`` hold at most ``max_materialised`` floats: explicit (faster
      there than the fused kernel with padded values, ``docs/benchmarks.md``).
    - The explicit path pads values only up to :data:`MIN_VALUE_COLUMNS` (narrower ones ran far below
      the CPU's GEMM rate); wider values stay unpadded.
    - Otherwise fused SDPA. DCA's values are narrower than its queries (``C_l/h`` vs ``C/h``). The
      flash kernels (CPU and CUDA) want equal query, key and value head sizes, so for them values are
      zero-padded to the query head size. On CUDA head sizes are rounded up to a multiple of 8
      (:data:`HEAD_SIZE_ALIGNMENT`); flash attention is allowed for float16/bfloat16 up to head size
      256, else (float32, or wider heads) the memory-efficient kernel, which takes values narrower
      than queries (PyTorch's check asks only for equal query and key sizes and aligned value
      columns): its values are padded only to a multiple of 8, so the value products cost
      ``C_l/h`` columns, not ``C/h``. The math backend stays allowed last, as PyTorch's safety net
      (``gpu_check.py`` reports which kernel ran and times flash with padded values against the
      memory-efficient kernel with narrow ones).

    Args:
        device_type: ``"cpu"``, ``"cuda"``, ...
        dtype: the dtype the kernel computes in (the autocast dtype under autocast).
        batch, heads, tokens: ``B``, ``h``, ``N``.
        head_size: query/key head size ``C/h``.
        value_size: value head size ``C_l/h`` (at most ``head_size``).
        max_materialised: the CPU's explicit-path limit in floats per stage.
        capturing: whether a graph is being captured.

    Returns:
        The :class:`AttentionPlan`.
    """
    if value_size > head_size:
        raise ValueError(f"value_size={value_size} but at most head_size={head_size} was expected")
    explicit_value_size = max(value_size, MIN_VALUE_COLUMNS)
    if capturing:
        return AttentionPlan("explicit", (), head_size, explicit_value_size, "graph capture: one graph for every size")
    scores = batch * heads * tokens * tokens
    if device_type == "cpu":
        if scores <= max_materialised:
            # the reason names no size: formatting a symbolic size would make torch.compile specialise on it
            reason = f"CPU, B*h*N*N scores <= {max_materialised}"
            return AttentionPlan("explicit", (), head_size, explicit_value_size, reason)
        return AttentionPlan("fused", ("flash",), head_size, head_size, "CPU flash kernel, values padded")
    padded = cuda_aligned(head_size) if device_type == "cuda" else head_size
    half = dtype in (torch.float16, torch.bfloat16)
    if device_type == "cuda" and half and padded <= FLASH_MAX_HEAD_SIZE:
        return AttentionPlan("fused", ("flash", "efficient", "math"), padded, padded, "flash: half, head <= 256")
    why = "float32" if not half else f"head size {padded} > {FLASH_MAX_HEAD_SIZE}"
    # the memory-efficient CUDA kernel takes narrower values; other devices' kernels are not known here: equal sizes
    values = cuda_aligned(value_size) if device_type == "cuda" else padded
    return AttentionPlan("fused", ("efficient", "math"), padded, values, f"memory-efficient: {why}")


def attention_memory_bytes(
    path: str, batch: int, heads: int, tokens: int, head_size: int, value_size: int, dtype_bytes: int, training: bool
) -> int:
    """Rough peak bytes of one stage's spatial attention itself (beyond its q, k, v inputs).

    ``"explicit"`` (and SDPA's math backend): the ``B*h*N*N`` logits and float32 probabilities, kept
    for backward; backward adds their two gradients. ``"fused"``: the output, the padded values and
    a float32 log-sum-exp per query, kept for backward; backward adds q, k, v gradients (O(N)).
    """
    rows = batch * heads * tokens
    if path == "explicit":
        scores = rows * tokens
        return scores * (dtype_bytes + 4) + (2 * scores * 4 if training else 0)
    if path != "fused":
        raise ValueError(f"path={path!r} but 'explicit' or 'fused' was expected")
    kept = rows * (2 * value_size * dtype_bytes + 4)
    return kept + (rows * (2 * head_size + value_size) * dtype_bytes if training else 0)
