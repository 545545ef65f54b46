from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import pytest
from PIL import Image

from dca_monai.apps.colin27 import colin27_path

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_demo_trains_both_networks_and_reports(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "scripts/demo.py", "--quick", "--output-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    report = completed.stdout[completed.stdout.index("DCA vs parent") :]
    assert "DCADynUNet (DCA)" in report and "DynUNet (dca=false)" in report
    real = report[report.index("Colin27, skull-stripped") :]
    table = real[: real.index("\n\n", real.index("network"))]  # the table ends at the first blank line
    rows = [line.split() for line in table.splitlines() if line.startswith(("DCADynUNet", "DynUNet"))]
    assert len(rows) == 2
    for row in rows:  # brain Dice, share outside the mask, three tissue Dice: all measured, in range
        assert 0.0 <= float(row[2]) <= 1.0 and row[3].endswith("%")
        assert all(0.0 <= float(value) <= 1.0 for value in row[4:7])
    for folder in ("dca", "parent"):
        assert (tmp_path / folder / "models" / "model.pt").is_file()
        assert list((tmp_path / folder / "train").glob("events.out.tfevents.*"))
        assert (tmp_path / folder / "evaluate" / "overlay_best.png").is_file()
        label = nib.load(next((tmp_path / folder / "inference").glob("*_seg.nii.gz")))
        image = nib.load(tmp_path / "dataset" / "images" / "test_000.nii.gz")
        assert label.shape == image.shape
        assert str(tmp_path / folder / "inference") in report
        colin27 = nib.load(tmp_path / folder / "colin27" / "ch2bet_seg.nii.gz")
        assert colin27.shape == nib.load(colin27_path("brain")).shape
        with Image.open(tmp_path / folder / "colin27" / "overlay_colin27.png") as figure:
            assert figure.format == "PNG"
        assert str(tmp_path / folder / "colin27" / "overlay_colin27.png") in report
    dca_weights = (tmp_path / "dca" / "models" / "model.pt").stat().st_size
    parent_weights = (tmp_path / "parent" / "models" / "model.pt").stat().st_size
    assert dca_weights > parent_weights  # the parent run really trained without the dca block
