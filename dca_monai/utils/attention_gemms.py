"""The GEMMs of one DCA block forward+backward: layouts, subnormal operands and achieved GFLOP/s.

Used by ``bench_dca.py --gemms``. A GEMM far below the machine's rate has operands in a layout
BLAS copies or handles by a slow path, or subnormal numbers (which some CPUs, Intel's among them,
process in microcode): this table shows which, on whatever CPU it runs on.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["GemmCall", "gemm_rate", "record_gemms", "subnormal_share", "time_gemm"]

_GEMMS = {
    torch.ops.aten.mm.default: "mm",
    torch.ops.aten.bmm.default: "bmm",
    torch.ops.aten.addmm.default: "addmm",
    torch.ops.aten.baddbmm.default: "baddbmm",
}


def subnormal_share(x: torch.Tensor) -> float:
    """The fraction of ``x``'s elements that are subnormal (nonzero, below the dtype's smallest normal)."""
    if not x.is_floating_point() or x.numel() == 0:
        return 0.0
    tiny = torch.finfo(x.dtype).tiny
    magnitude = x.detach().abs()
    return ((magnitude < tiny) & (magnitude > 0)).float().mean().item()


@dataclass
class GemmCall:
    """One GEMM seen during the step: its op, operands (kept, to time them again) and pass."""

    op: str
    operands: tuple[torch.Tensor, torch.Tensor]
    backward: bool

    @property
    def flops(self) -> int:
        a, b = self.operands
        batch = a.shape[0] if a.dim() == 3 else 1
        return 2 * batch * a.shape[-2] * a.shape[-1] * b.shape[-1]

    def describe(self) -> str:
        a, b = self.operands
        return f"{list(a.shape)}{list(a.stride())} x {list(b.shape)}{list(b.stride())}"


class _GemmRecorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[GemmCall] = []
        self.backward = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = _GEMMS.get(func)
        if name is not None:
            a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
            self.calls.append(GemmCall(name, (a.detach(), b.detach()), self.backward))
        return func(*args, **(kwargs or {}))


def record_gemms(forward: Callable[[], torch.Tensor]) -> list[GemmCall]:
    """Every mm/bmm/addmm/baddbmm of ``forward()`` and of the backward of its (scalar) result."""
    recorder = _GemmRecorder()
    with recorder:
        loss = forward()
        recorder.backward = True
        loss.backward()
    return recorder.calls


def time_gemm(a: torch.Tensor, b: torch.Tensor, repeats: int = 5) -> float:
    """Median seconds of ``a @ b`` (mm or bmm) on exactly these operands (their strides and values)."""
    op = torch.bmm if a.dim() == 3 else torch.mm
    op(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        op(a, b)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_rate(size: int = 1024) -> float:
    """This machine's float32 GEMM rate in GFLOP/s: a fresh ``size^3`` matrix product."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    return 2 * size**3 / time_gemm(a, b) / 1e9


def fresh_rate(call: GemmCall) -> float:
    """GFLOP/s of the same product on fresh, contiguous, random operands, the faster of its two orientations.

    ``a @ b`` and ``(b^T a^T)^T`` compute the same product; BLAS can run one of them much faster
    (a narrow ``b`` of 8 columns: 19 vs 44 GFLOP/s on the project's AMD EPYC), and a caller chooses
    which to ask for, so a GEMM slower than the other orientation is slow by its layout.
    """
    a, b = (torch.rand(t.shape, dtype=t.dtype) for t in call.operands)
    transposed_a, transposed_b = (torch.rand(t.mT.shape, dtype=t.dtype) for t in (b, a))
    return call.flops / min(time_gemm(a, b), time_gemm(transposed_a, transposed_b)) / 1e9


def print_gemm_table(calls: list[GemmCall], min_flops: float = 1e6) -> list[GemmCall]:
    """Print each GEMM (above ``min_flops``) with its rate in place and on fresh operands; return the slow ones.

    Slow: below a quarter of the machine's GEMM rate while fresh operands of its shapes, in the
    better of its two orientations (:func:`fresh_rate`), run at least twice as fast (small shapes are
    slow on fresh operands too; that is not a layout problem).
    """
    machine = gemm_rate()
    print(f"machine float32 GEMM rate (1024^3): {machine:.0f} GFLOP/s; GEMMs of at least {min_flops:.0e} FLOP")
    print(f"{'pass':<5}{'op':<8}{'operands: shape[strides]':<70}{'subnormal a/b':>15}{'GFLOP/s':>9}{'fresh':>7}")
    slow = []
    for call in calls:
        if call.flops < min_flops:
            continue
        rate = call.flops / time_gemm(*call.operands) / 1e9
        fresh = fresh_rate(call)
        share = "/".join(f"{subnormal_share(t):.0%}" for t in call.operands)
        flag = ""
        if rate < machine / 4 and fresh > 2 * rate:
            flag = "  SLOW"
            slow.append(call)
        passname = "bwd" if call.backward else "fwd"
        print(f"{passname:<5}{call.op:<8}{call.describe():<70}{share:>15}{rate:>9.0f}{fresh:>7.0f}{flag}")
    if not math.isfinite(machine):
        raise RuntimeError("GEMM rate could not be measured")
    return slow
