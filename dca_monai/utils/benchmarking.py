"""What the benchmark scripts share: the CPU model they print and interleaved, median timings.

Used by ``scripts/bench_dca.py`` and ``scripts/bench_nnunet.py`` (which runs in the nnU-Net environment),
so that both compare two things the same way and run from any working folder.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable

import torch
from torch.utils import benchmark

__all__ = ["cpu_model", "interleaved_medians", "timed"]


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
