from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import pytest
from PIL import Image

from dca_monai.apps.colin27 import colin27_path
from dca_monai.apps.itk_brain_t1 import itk_t1_path

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
    for scan in ("Colin27: ch2bet", "ITK T1: KmeansTest"):
        real = report[report.index(scan) :]
        table = real[: real.index("\n\n", real.index("network"))]  # the table ends at the first blank line
        rows = [line.split() for line in table.splitlines() if line.startswith(("DCADynUNet", "DynUNet"))]
        assert len(rows) == 2, scan
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
        real_scans = tmp_path / folder / "real_scans"
        colin27 = nib.load(real_scans / "ch2bet_seg.nii.gz")
        assert colin27.shape == nib.load(colin27_path("brain")).shape
        itk_t1 = nib.load(real_scans / "itk_t1_brain_seg.nii.gz")
        assert itk_t1.shape == nib.load(itk_t1_path("t1")).shape
        for overlay in ("overlay_ch2bet.png", "overlay_itk_t1_brain.png"):
            with Image.open(real_scans / overlay) as figure:
                assert figure.format == "PNG"
            assert str(real_scans / overlay) in report
    dca_weights = (tmp_path / "dca" / "models" / "model.pt").stat().st_size
    parent_weights = (tmp_path / "parent" / "models" / "model.pt").stat().st_size
    assert dca_weights > parent_weights  # the parent run really trained without the dca block
