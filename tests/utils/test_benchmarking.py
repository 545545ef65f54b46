from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import pytest
import torch

from dca_monai.utils import benchmarking
from dca_monai.utils.benchmarking import cpu_model, interleaved_medians, onednn_matmul, onednn_matmul_keeps_float32


@pytest.mark.parametrize("warmup,repeats", [(1, 3), (0, 1), (2, 2)])
def test_single_calls_are_warmed_up_then_measured_in_turn(warmup: int, repeats: int) -> None:
    calls: list[tuple[str, int]] = []
    runs = [lambda: calls.append(("a", torch.get_num_threads())), lambda: calls.append(("b", torch.get_num_threads()))]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the warm-up runs on the process's 2 threads, the measurements on 1
    try:
        medians = interleaved_medians(runs, repeats, torch.device("cpu"), min_run_time=0, warmup=warmup, num_threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert len(medians) == 2 and all(m >= 0 for m in medians)
    names = [name for name, _ in calls]
    assert names == ["a"] * warmup + ["b"] * warmup + ["a", "b"] * repeats  # min_run_time=0: one call each
    assert all(n == 2 for _, n in calls[: 2 * warmup]) and all(n == 1 for _, n in calls[2 * warmup :])


def test_blocked_measurements_alternate_between_runs() -> None:
    calls: list[str] = []
    interleaved_medians([lambda: calls.append("a"), lambda: calls.append("b")], 2, torch.device("cpu"), 0.001)
    # each measurement is one block of calls of one run: a, b, a, b after the warm-up
    assert [name for name, _ in itertools.groupby(calls[2:])] == ["a", "b", "a", "b"]


@pytest.mark.parametrize("repeats,warmup", [(0, 1), (1, -1)])
def test_rejects_no_repeats_or_negative_warmup(repeats: int, warmup: int) -> None:
    with pytest.raises(ValueError, match=f"repeats={repeats}, warmup={warmup}"):
        interleaved_medians([lambda: None], repeats, torch.device("cpu"), warmup=warmup)


def test_cpu_model_names_amx_support() -> None:
    assert cpu_model().endswith(("(AMX)", "(no AMX)")) or cpu_model() == "unknown CPU"


@pytest.mark.parametrize("min_run_time", [0.0, 0.001])
def test_measures_on_the_process_threads_by_default(min_run_time: float) -> None:
    # the scripts print torch.get_num_threads(): the timings must run on that many threads, not on
    # torch.utils.benchmark.Timer's default of 1
    seen: list[int] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        interleaved_medians([lambda: seen.append(torch.get_num_threads())], 1, torch.device("cpu"), min_run_time, 0)
    finally:
        torch.set_num_threads(threads)
    assert seen and set(seen) == {2}


def test_onednn_matmul_allows_the_onednn_route_inside_and_restores_the_setting() -> None:
    before = torch.backends.mkldnn.matmul.fp32_precision
    with pytest.raises(RuntimeError, match="inside"):
        with onednn_matmul():
            assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
            raise RuntimeError("inside")
    assert torch.backends.mkldnn.matmul.fp32_precision == before


def _route_rounding_inputs_to(dtype: torch.dtype) -> contextlib.AbstractContextManager[None]:
    """A stand-in for ``onednn_matmul`` whose ``torch.bmm`` rounds its inputs to ``dtype`` first."""
    exact_bmm = torch.bmm

    @contextlib.contextmanager
    def route() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(torch, "bmm", lambda a, b: exact_bmm(a.to(dtype).float(), b.to(dtype).float()))
            yield

    return route


@pytest.mark.parametrize("dtype,keeps", [(torch.float32, True), (torch.bfloat16, False), (torch.float16, False)])
def test_the_float32_check_tells_rounded_inputs_from_float32_ones(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype, keeps: bool
) -> None:
    monkeypatch.setattr(benchmarking, "onednn_matmul", _route_rounding_inputs_to(dtype))
    assert onednn_matmul_keeps_float32() is keeps


def test_the_float32_check_runs_on_this_cpu() -> None:
    # True where oneDNN keeps float32 (measured on AMD EPYC with AVX-512 BF16, no AMX), False where it rounds
    assert isinstance(onednn_matmul_keeps_float32(), bool)
    assert torch.backends.mkldnn.matmul.fp32_precision != "bf16"
