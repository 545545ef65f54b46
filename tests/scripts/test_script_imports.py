"""Every Python script in scripts/ starts from any working folder (its imports come from the package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.py")), ids=lambda path: path.name)
def test_script_help_runs_from_another_folder(script: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "usage:" in completed.stdout


def test_count_parameters_prints_a_row_per_configuration(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "count_parameters.py"), "--nets", "DCASegResNet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| `DCASegResNet`")]
    assert rows
    for row in rows:
        parent, variant = (int(cell.strip().replace(",", "")) for cell in row.split("|")[3:5])
        assert variant > parent
