"""Tiny real runs of the benchmark scripts: each prints its tables with the CPU model, and every figure parses.

Timing values are never asserted (they depend on the machine and its load): only that the figures
were measured, numbers where numbers belong and ratios of two measurements above zero.
``scripts/bench_nnunet.py`` needs the nnU-Net environment (``.venv-nnunet``) and is not run here;
``count_parameters.py`` and ``gpu_check.py --cpu-smoke``'s parts have their own tests in this folder.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dca_monai.utils.benchmarking import cpu_model
from tests.bundles.bundle_cases import BRAIN, MadeOnce
from tests.bundles.bundle_runner import BUNDLES, file_times

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_script(script: str, *args: object, cwd: Path, timeout: float = 900) -> str:
    """The standard output of ``python scripts/SCRIPT ARGS...`` run in ``cwd``, which must succeed."""
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert f"CPU {cpu_model()}" in completed.stdout  # the machine the figures belong to
    return completed.stdout


def run_main(
    script: str, args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> tuple[int, str, str]:
    """``main()`` of ``scripts/SCRIPT`` with ``ARGS`` in this process (no interpreter start-up, for the quick modes):
    its exit status, standard output and standard error."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, SCRIPTS / script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / script), *args])
    try:
        module.main()
        status = 0
    except SystemExit as stopped:
        status = stopped.code if isinstance(stopped.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def cells(output: str, label: str) -> list[str]:
    """The cells after ``label`` of the one table row that starts with it."""
    rows = [line for line in output.splitlines() if line.startswith(label)]
    assert len(rows) == 1, (label, rows)
    return rows[0][len(label) :].split()


def leading_numbers(row_cells: list[str]) -> list[float]:
    """The numbers at the start of a row's cells, up to the first other cell (``1,234``, ``1.05x`` read as numbers)."""
    values = []
    for cell in row_cells:
        try:
            values.append(float(cell.replace(",", "").removesuffix("x")))
        except ValueError:
            break
    return values


def row(output: str, label: str) -> list[float]:
    """The numbers that follow ``label`` in the one row that starts with it."""
    return leading_numbers(cells(output, label))


def assert_measured(values: list[float]) -> None:
    """Times, memory and ratios: every one positive and finite."""
    assert all(0.0 < value < float("inf") for value in values), values


@pytest.mark.slow
def test_bench_dca_compares_parent_and_dca_and_the_blocks_memory(tmp_path: Path) -> None:
    output = run_script(
        "bench_dca.py",
        "--quick",
        "--device",
        "cpu",
        "--repeats",
        "1",
        "--nets",
        "DCABasicUNet",
        "--cases",
        "2d32",
        "--onednn-matmul",
        cwd=tmp_path,
    )

    assert "2d32 (32x32, batch 2, cpu, 1 repeats)" in output
    if "--onednn-matmul skipped: on this CPU" not in output:  # where the route rounds (AMX CPUs, expected)
        onednn = row(output, "DCABasicUNet oneDNN")
        assert len(onednn) == 10 and onednn[0] == row(output, "DCABasicUNet  ")[0]  # the same network
        assert_measured(onednn[2:])
    parent, dca = row(output, "BasicUNet "), row(output, "DCABasicUNet  ")
    # params, +%, GFLOP fwd, x, fwd ms, x, fwd+bwd ms, x, peak MiB, x
    assert len(parent) == len(dca) == 10
    assert dca[0] > parent[0] > 0  # parameters
    assert parent[1] == 0.0 and dca[1] > 0.0  # parameters added, %
    assert parent[3] == parent[5] == parent[7] == parent[9] == 1.0  # the parent is the reference
    assert_measured([value for index, value in enumerate(dca) if index != 1])
    assert_measured(parent[2:])
    for what in ("whole block, forward+backward", "whole block, forward (eval, no_grad)", "spatial cross-attention"):
        assert_measured(row(output, what)[-3:])  # fused MiB, naive MiB, ratio


@pytest.mark.slow
def test_bench_dca_tail_and_token_budget(tmp_path: Path) -> None:
    tail = run_script("bench_dca.py", "--quick", "--repeats", "1", "--tail", "--cases", "2d32", cwd=tmp_path)
    for label in ("2d32 DCA block ms", "2d32 DCA block peak MiB", "2d32 DCABasicUNet / BasicUNet"):
        values = row(tail, label)
        assert len(values) == 3
        assert_measured(values)  # unfused, fused, fused/unfused (the last row: both over the parent, then theirs)
    assert "3d32" not in tail

    budget = run_script("bench_dca.py", "--quick", "--device", "cpu", "--repeats", "1", "--token-budget", cwd=tmp_path)
    for label in ("32^3    1 (paper)", "32^3    auto"):
        grid, *rest = cells(budget, label)
        assert re.fullmatch(r"\d+x\d+x\d+", grid)
        values = leading_numbers(rest)  # tokens, fwd ms, x, fwd+bwd ms, x, peak MiB, x
        assert len(values) == 7 and values[0] == math.prod(int(size) for size in grid.split("x"))
        assert_measured(values)


@pytest.mark.parametrize(
    ("mode", "labels"),
    [
        (
            "--pooling-only",
            (
                "2d32 pooling of the 4 skips",
                "2d32 whole DCA block",
                "3d32 pooling of the 4 skips",
                "3d32 whole DCA block",
            ),
        ),
        ("--upsampling-only", ("2D 4^2 -> 32^2", "3D 4^3 -> 32^3")),
        ("--bf16", ("2d32    BasicUNet ", "2d32    DCABasicUNet ")),
    ],
)
def test_bench_dca_timing_modes(
    mode: str, labels: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    status, output, _ = run_main(
        "bench_dca.py", ["--quick", "--repeats", "1", mode, "--cases", "2d32"], monkeypatch, capsys
    )

    assert status == 0
    assert f"CPU {cpu_model()}" in output
    for label in labels:
        values = row(output, label)
        assert len(values) >= 3
        assert_measured(values[:3])  # two times and their ratio (upsampling adds the largest difference)


def test_bench_dca_gemms_lists_the_blocks_gemms_with_their_rates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    status, output, _ = run_main("bench_dca.py", ["--quick", "--gemms", "--cases", "2d32"], monkeypatch, capsys)

    assert status == 0
    assert f"CPU {cpu_model()}" in output
    assert re.search(r"machine float32 GEMM rate \(1024\^3\): \d+ GFLOP/s", output)
    gemms = [line.removesuffix("  SLOW").split() for line in output.splitlines() if line.startswith(("fwd ", "bwd "))]
    assert {gemm[0] for gemm in gemms} == {"fwd", "bwd"}
    rates = [float(value) for gemm in gemms for value in gemm[-2:]]  # GFLOP/s in place and on fresh operands
    assert all(rate >= 0.0 for rate in rates) and max(rates) > 0.0  # a tiny GEMM on a busy CPU may print 0
    assert "matmul route: default BLAS" in output and "matmul route: oneDNN" not in output


def test_bench_dca_gemms_on_both_matmul_routes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    args = ["--quick", "--gemms", "--cases", "2d32", "--onednn-matmul"]
    status, output, _ = run_main("bench_dca.py", args, monkeypatch, capsys)

    assert status == 0
    if "--onednn-matmul skipped: on this CPU" in output:  # where the route rounds (AMX CPUs, expected)
        assert output.count("matmul route:") == 1
        return
    tables = output.split("matmul route: ")[1:]
    assert [table.split()[0:2] for table in tables] == [["default", "BLAS"], ["oneDNN", "machine"]]
    default, onednn = (
        [line.split()[:3] for line in t.splitlines() if line.startswith(("fwd ", "bwd "))] for t in tables
    )
    assert default and onednn == default  # the same GEMMs on each route
    assert torch.backends.mkldnn.matmul.fp32_precision != "bf16"  # restored


def test_bench_dca_refuses_a_full_size_case_with_quick(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    status, _, error = run_main("bench_dca.py", ["--quick", "--cases", "2d224"], monkeypatch, capsys)

    assert status == 2
    assert "--cases 2d224: with --quick choose from ['2d32', '3d32']" in error


@pytest.mark.slow
def test_bench_bundle_quick_on_the_sessions_brain_dataset(bundle_datasets: MadeOnce[Path], tmp_path: Path) -> None:
    dataset = bundle_datasets(BRAIN)
    before = file_times(BUNDLES / BRAIN.bundle)
    output = run_script("bench_bundle.py", "--quick", "--dataset-dir", dataset, cwd=tmp_path)

    assert file_times(BUNDLES / BRAIN.bundle) == before  # its model.pt, checkpoints and logs went elsewhere

    assert "'filters': [4, 4, 8, 8, 8]" in output
    parent, dca = row(output, "DynUNet (parent)"), row(output, "DCADynUNet ")
    # train it/s, x, iterations timed, infer s/vol, x, peak MiB, x
    assert parent[1] == parent[4] == parent[6] == 1.0
    assert parent[2] == dca[2] == 2  # 3 epochs of 1 iteration, the first a warm-up
    assert_measured(parent)
    assert_measured(dca)


def test_bench_onnx_times_three_runtimes_on_a_small_network(tmp_path: Path) -> None:
    output = run_script(
        "bench_onnx.py",
        *("--size", "32", "--export-size", "32", "--repeats", "1", "--threads", "1"),
        *("--override", "filters=[4,4,8,8,8]"),
        cwd=tmp_path,
    )

    assert "input 1x1x32^3" in output and "ONNX exported at 32^3" in output
    eager = row(output, "PyTorch eager")
    assert eager[1] == 1.0 and eager[2] == 0.0
    for runtime in ("TorchScript (script)", "onnxruntime CPU"):
        ms, ratio, difference = row(output, runtime)
        assert_measured([ms, ratio])
        assert difference < 1e-3  # the same network in each runtime


@pytest.mark.slow
def test_compile_check_one_small_network(tmp_path: Path) -> None:
    args = ["--nets", "DCABasicUNet", "--spatial-dims", "2", "--backend", "eager", "--parent-backend", "same"]
    output = run_script("compile_check.py", *args, "--threads", "1", cwd=tmp_path)

    assert "1 threads, 2D, backend eager" in output
    parent = re.search(r"parent eager (\d+) ms, compiled (\d+) ms \(([\d.]+)x\)", output)
    assert parent is not None, output
    assert_measured([float(v) for v in parent.groups()])
    values = row(output, "DCABasicUNet ")
    breaks, parent_breaks, recompiles, eval_diff, train_diff = values[:5]
    assert breaks == parent_breaks and recompiles >= 0
    assert eval_diff <= 1e-4 and train_diff <= 1e-4
    assert_measured(values[6:9])  # eager ms, compiled ms, compiled/eager


def test_compile_check_static_shapes_recompile_per_size(tmp_path: Path) -> None:
    args = ["--nets", "DCABasicUNet", "--spatial-dims", "2", "--backend", "eager", "--static", "--no-timing"]
    output = run_script("compile_check.py", *args, "--sizes", "48x80", "64x96", "--threads", "1", cwd=tmp_path)

    assert "static shapes (dynamic=False)" in output
    values = row(output, "DCABasicUNet ")
    breaks, parent_breaks, recompiles, eval_diff, train_diff = values[:5]
    assert breaks == parent_breaks and eval_diff <= 1e-4 and train_diff <= 1e-4
    assert recompiles >= 1 and values[-1] >= 1  # a new size compiles again, DCA net and parent alike
