"""``scripts/demo_nnunet.py --quick`` plans, trains both trainers, predicts and prints Dice per organ for both.

One epoch of two iterations per trainer, so the Dice values are not checked for quality, only that
each organ has a score in [0, 1] for the plain and the DCA trainer and the predictions exist.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dca_monai.apps.ct_organs import ct_class_names
from tests.nnunet.environment import REPO_ROOT, run_in_venv

pytestmark = pytest.mark.slow


def test_quick_demo_prints_dice_per_organ_for_both_trainers(nnunet_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    output = run_in_venv(
        dict(os.environ), "python", str(REPO_ROOT / "scripts" / "demo_nnunet.py"),
        "--quick", "--output-dir", str(out), "--device", "cpu", cwd=tmp_path, timeout=1800,
    )  # fmt: skip
    table = output[output.index("Dice on the unseen patient") :]
    assert "1 epochs x 2 iterations (--quick: Dice not meaningful)" in table.splitlines()[0]
    assert re.search(r"^organ\s+nnU-Net \(plain\)\s+nnU-Net \+ DCA\s*$", table, re.MULTILINE), table
    for organ in [*ct_class_names()[1:], "mean"]:
        row = re.search(rf"^{organ}\s+(\S+)\s+(\S+)\s*$", table, re.MULTILINE)
        assert row, f"no row for {organ}:\n{table}"
        assert all(0.0 <= float(value) <= 1.0 for value in row.groups()), row.group(0)
    assert re.search(r"^train s\s+\d+\s+\d+\s*$", table, re.MULTILINE), table
    for trainer in ("nnUNetTrainer_budget", "nnUNetTrainerDCA_budget"):
        assert (out / "predictions" / trainer / "test_000.nii.gz").is_file()
