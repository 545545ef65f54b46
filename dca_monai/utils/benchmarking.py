"""What the benchmark scripts share: the CPU model they print and interleaved, median timings.

Used by ``scripts/bench_dca.py`` and ``scripts/bench_nnunet.py`` (which runs in the nnU-Net environment),
so that both compare two things the same way and run from any working folder. ``onednn_matmul`` lets
``bench_dca.py --onednn-matmul`` time float32 matrix products on oneDNN instead of ATen's default BLAS
(MKL in PyTorch's x86 wheels), where that keeps float32.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator

import torch
from torch.utils import benchmark

__all__ = ["cpu_model", "interleaved_medians", "onednn_matmul", "onednn_matmul_keeps_float32", "timed"]


def cpu_model() -> str:
    """The CPU model name from ``lscpu`` and whether it has AMX (``unknown CPU`` where lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")]
    flags = next((line for line in out.splitlines() if line.startswith("Flags")), "")
    amx = " (AMX)" if "amx_tile" in flags else " (no AMX)"
    return (names[0] if names else "unknown CPU") + amx


def timed(fn: Callable[[], None], device: torch.device, min_run_time: float, num_threads: int | None = None) -> float:
    """Median seconds per call of ``fn`` on ``num_threads`` CPU threads, one measurement (CUDA-synchronised).

    ``num_threads`` None: the process's (``torch.get_num_threads()``), the count the scripts print.
    (``torch.utils.benchmark.Timer`` alone would time on 1 thread, whatever the process uses.)

    ``min_run_time > 0``: ``torch.utils.benchmark``'s ``blocked_autorange`` (its median; it calls ``fn``
    once more to size its blocks). ``min_run_time <= 0``: one call, timed alone (for steps that take seconds).
    """
    if num_threads is None:
        num_threads = torch.get_num_threads()
    if min_run_time > 0:
        timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=num_threads)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return timer.blocked_autorange(min_run_time=min_run_time).median
    threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)


def interleaved_medians(
    runs: list[Callable[[], None]],
    repeats: int,
    device: torch.device,
    min_run_time: float = 0.2,
    warmup: int = 1,
    num_threads: int | None = None,
) -> list[float]:
    """Median seconds per call of each of ``runs``, measured ABAB... ``repeats`` times after ``warmup`` calls each.

    Each measurement is one :func:`timed` call on ``num_threads`` threads (None: the process's; the
    warm-up runs on the process's threads): ``blocked_autorange(min_run_time)``'s median, or one call
    for ``min_run_time <= 0``.

    Raises:
        ValueError: when ``repeats`` is below 1 or ``warmup`` below 0.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats}, warmup={warmup} but repeats >= 1 and warmup >= 0 were expected")
    for run in runs:
        for _ in range(warmup):
            run()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):  # interleaved, so all see the same machine load
        for i, run in enumerate(runs):
            times[i].append(timed(run, device, min_run_time, num_threads))
    return [statistics.median(values) for values in times]


@contextlib.contextmanager
def onednn_matmul() -> Iterator[None]:
    """Within the block, float32 CPU matrix products (``bmm``, ``matmul``, ``addmm``) run on oneDNN, not MKL.

    PyTorch routes a float32 CPU matmul to oneDNN only when ``torch.backends.mkldnn.matmul.fp32_precision``
    allows bfloat16 (``"bf16"``). On a CPU whose oneDNN kernels then really round to bfloat16 (expected on
    AMX CPUs) that changes the results; check :func:`onednn_matmul_keeps_float32` first. The previous setting
    is restored.
    """
    previous = torch.backends.mkldnn.matmul.fp32_precision
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = previous


def onednn_matmul_keeps_float32(size: int = 256, depth: int = 128) -> bool:
    """Whether :func:`onednn_matmul` still computes float32 products in float32 on this CPU.

    Both routes multiply the same ``(4, size, depth) x (4, depth, size)`` float32 matrices; each route's
    largest error against float64 is taken relative to the largest product. Float32 arithmetic stays
    near ``1e-6`` there, inputs rounded to bfloat16 (8-bit mantissa) near ``1e-3``: oneDNN keeps float32
    when its error is below ``1e-4`` and at most 10 times the default route's.
    """
    generator = torch.Generator().manual_seed(0)
    left = torch.randn(4, size, depth, generator=generator)
    right = torch.randn(4, depth, size, generator=generator)
    exact = torch.bmm(left.double(), right.double())
    scale = exact.abs().max().item()
    default_error = (torch.bmm(left, right).double() - exact).abs().max().item() / scale
    with onednn_matmul():
        onednn_error = (torch.bmm(left, right).double() - exact).abs().max().item() / scale
    return onednn_error < 1e-4 and onednn_error <= 10 * max(default_error, 1e-9)
