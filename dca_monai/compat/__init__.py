"""Compatibility: weights of other DCA implementations, and a workaround for a torch inductor crash."""

from __future__ import annotations

from dca_monai.compat.inductor_stride_order import apply_inductor_stride_order_fix, inductor_stride_order_fix_applied
from dca_monai.compat.official_dca import convert_official_dca, token_pool_for_patch

__all__ = [
    "apply_inductor_stride_order_fix",
    "convert_official_dca",
    "inductor_stride_order_fix_applied",
    "token_pool_for_patch",
]
