"""Work around a PyTorch 2.13 inductor crash that stops DynUNet-style nets compiling with ``dynamic=True``.

With ``torch.compile(net, dynamic=True)``, inductor (torch 2.13.0, CPU) fails on MONAI's own ``DynUNet``,
and so on ``DCADynUNet``, with ``LoweringException: ValueRangeError: Invalid ranges [0:-1]`` (or
``ValueError: Exponent must be non-negative``) on ``aten.convolution``. Lowering a convolution
checks whether its input's strides are already in the order the kernel wants; for a strided
convolution's output those strides are products of symbolic sizes such as ``(s - 1) // 2 + 1``, the
check asks whether one stride is a multiple of another (``Mod(left, right) == 0``), and sympy's range
analysis of that quotient raises instead of answering "unknown". Upstream: pytorch/pytorch#188323
and #188422 (closed). Torch 2.12 did not fail, and 2.14.1 does not: checked here on 2026-12-06 with
DynUNet, compiled without this module.

The check is one of inductor's ``guard_or_false`` questions, whose contract is "``False`` when it
cannot tell". :func:`apply_inductor_stride_order_fix` makes the crash give that answer: it wraps
``torch._inductor.ir.Layout._stride_expr_ge_or_false`` so that these two exceptions return ``False``.
Inductor then treats the strides as not known to be ordered and, at worst, copies the input into the
layout it wants: the same numbers, maybe one copy more. Nothing else changes; where the method does not
exist nothing is patched, and nothing is on torch other than 2.13.x. ``dca_monai.nets`` applies it on
import; set the environment variable ``DCA_MONAI_NO_TORCH_PATCHES=1`` to leave torch untouched.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "AFFECTED_TORCH",
    "DISABLE_ENV",
    "apply_inductor_stride_order_fix",
    "inductor_stride_order_fix_applied",
    "torch_needs_stride_order_fix",
]

AFFECTED_TORCH = ("2.13", "2.14")
"""Torch versions ``[first, last)`` whose inductor crashes so (2.14.1 compiles DynUNet without the fix)."""
DISABLE_ENV = "DCA_MONAI_NO_TORCH_PATCHES"
_MARK = "_dca_monai_stride_order_fix"

logger = logging.getLogger(__name__)


def _undecided_is_false(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    @functools.wraps(check)
    def wrapped(left: Any, right: Any) -> bool:
        from torch.utils._sympy.value_ranges import ValueRangeError

        try:
            return check(left, right)
        except (ValueRangeError, ValueError) as error:  # sympy could not bound a symbolic stride quotient
            logger.debug("inductor stride-order check undecided (%s): taken as False", error)
            return False

    setattr(wrapped, _MARK, True)
    return wrapped


def inductor_stride_order_fix_applied() -> bool:
    """Whether ``Layout._stride_expr_ge_or_false`` is wrapped (False when inductor lacks it or was left alone)."""
    try:
        from torch._inductor import ir
    except ImportError:
        return False
    check = ir.Layout.__dict__.get("_stride_expr_ge_or_false")
    return getattr(getattr(check, "__func__", check), _MARK, False)


def torch_needs_stride_order_fix(version: str | None = None) -> bool:
    """Whether ``version`` (default: the installed torch's) is in :data:`AFFECTED_TORCH`."""
    from torch.torch_version import TorchVersion

    installed = TorchVersion(version if version is not None else torch.__version__)
    return AFFECTED_TORCH[0] <= installed < AFFECTED_TORCH[1]


def apply_inductor_stride_order_fix() -> bool:
    """Wrap inductor's stride-order check once (see the module docstring); returns whether it is now wrapped.

    Does nothing, and returns False, when ``DCA_MONAI_NO_TORCH_PATCHES`` is set to a non-empty value
    other than ``0``, on a torch outside :data:`AFFECTED_TORCH`, when inductor cannot be imported or
    when the method does not exist.
    """
    if os.environ.get(DISABLE_ENV, "") not in ("", "0") or not torch_needs_stride_order_fix():
        return False
    if inductor_stride_order_fix_applied():
        return True
    try:
        from torch._inductor import ir
    except ImportError:
        return False
    check = ir.Layout.__dict__.get("_stride_expr_ge_or_false")
    if not isinstance(check, staticmethod):
        return False
    ir.Layout._stride_expr_ge_or_false = staticmethod(_undecided_is_false(check.__func__))
    return True
