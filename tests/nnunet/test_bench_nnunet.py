"""``scripts/bench_nnunet.py`` runs in the nnU-Net environment, from another folder, and prints its comparison.

A tiny run (a reduced 32^3 patch, one measurement, no warm-up): the figures themselves are not checked
(no timed tests), only that the script plans the embedded CT dataset, builds both networks and prints
the CPU model and a table whose ratios are DCA / plain of its own columns.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dca_monai.utils.benchmarking import cpu_model
from tests.nnunet.environment import REPO_ROOT, run_in_venv

pytestmark = pytest.mark.slow


def test_tiny_run_prints_cpu_model_and_ratios(nnunet_venv: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    output = run_in_venv(
        env, "python", str(REPO_ROOT / "scripts" / "bench_nnunet.py"), "--patches", "32x32x32", "--repeats", "1",
        "--warmup", "0", "--threads", "1", cwd=tmp_path, timeout=900,
    )  # fmt: skip
    header = next(line for line in output.splitlines() if " UTC; " in line)
    assert f"; {cpu_model()}; " in header and "; 1 threads; " in header and "load average" in header
    assert "planned patch [112, 112, 128], batch 2; DCA on skips [32, 64, 128, 256]" in output
    row = re.search(r"^32x32x32 reduced((?:\s+[\d.]+){6})\s*$", output, re.MULTILINE)
    assert row, output[-3000:]
    plain_s, dca_s, time_ratio, plain_mib, dca_mib, memory_ratio = (float(v) for v in row.group(1).split())
    assert plain_s > 0 and dca_s > 0 and plain_mib > 0 and dca_mib > 0
    assert time_ratio == pytest.approx(dca_s / plain_s, abs=2e-3, rel=2e-3)
    assert memory_ratio == pytest.approx(dca_mib / plain_mib, abs=2e-3, rel=2e-2)  # MiB printed rounded
    assert not re.search(r"^112x112x128 planned", output, re.MULTILINE)  # only the reduced patch was asked for


def test_rejects_a_patch_of_the_wrong_rank(nnunet_venv: Path, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"--patches '32x32' but 'planned' or 3 sizes like 112x112x128"):
        run_in_venv(
            dict(os.environ), "python", str(REPO_ROOT / "scripts" / "bench_nnunet.py"), "--patches", "32x32",
            "--no-memory", cwd=tmp_path,
        )  # fmt: skip
