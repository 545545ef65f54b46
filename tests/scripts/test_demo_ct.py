"""scripts/demo_ct.py --quick on the session's CT organ dataset (``tests/apps/ct_examples.py``, the demo's sizes).

The two CT organ networks are trained here: no other test trains the CT bundle on that dataset.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from tests.apps.ct_examples import ct_organ_dataset
from tests.bundles.bundle_runner import BUNDLES, file_times

REPO_ROOT = Path(__file__).resolve().parents[2]
ORGANS = ("liver", "spleen", "stomach", "aorta", "inferior_vena_cava")


@pytest.mark.slow
def test_quick_ct_demo_scores_both_networks_on_the_dicom_patient(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dataset = ct_organ_dataset(tmp_path_factory)
    built = (dataset / "datalist.json").stat().st_mtime_ns
    before = file_times(BUNDLES / "ct_dca_segmentation")
    completed = subprocess.run(
        [sys.executable, "scripts/demo_ct.py", "--quick", "--output-dir", str(tmp_path), "--dataset-dir", str(dataset)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert not (tmp_path / "dataset").exists()  # the session's dataset, not built again: the demo's sizes
    assert (dataset / "datalist.json").stat().st_mtime_ns == built
    assert file_times(BUNDLES / "ct_dca_segmentation") == before  # models, checkpoints, logs: under --output-dir
    report = completed.stdout[completed.stdout.index("DCA vs parent on the unseen CT patient") :]
    assert "TotalSegmentator model outputs, not manual" in report
    header = next(line for line in report.splitlines() if line.startswith("network") and "liver" in line)
    assert header.split()[1:] == [*ORGANS, "mean"]
    for name in ("DCADynUNet (DCA)", "DynUNet (dca=false)"):
        dice_line = next(line for line in report.splitlines() if line.startswith(name) and "Dice" in line)
        dice = [float(value) for value in dice_line.split("Dice")[1].split()]
        assert len(dice) == 6 and all(0.0 <= value <= 1.0 for value in dice)
        assert re.search(rf"^{re.escape(name)} +\d+ +[\d.]+  yes$", report, flags=re.MULTILINE)
    assert report.count(" mm") >= 18  # HD95 per organ and mean, for the three networks
    # the shipped weights, beside the two trained here: scored, not trained, and their SEG read back
    shipped = next(line for line in report.splitlines() if line.startswith("shipped model.pt") and "Dice" in line)
    assert len(shipped.split("Dice")[1].split()) == 6
    assert re.search(r"^shipped model\.pt +shipped +[\d.]+  yes$", report, flags=re.MULTILINE)

    series = sorted((dataset / "dicom" / "test_000").iterdir())
    for folder in ("shipped", "dca", "parent"):
        inference = tmp_path / folder / "inference"
        assert sorted(path.name for path in inference.iterdir()) == ["test_000_seg.dcm", "test_000_seg.nii.gz"]
        label = nib.load(inference / "test_000_seg.nii.gz")
        assert label.shape == (512, 512, 20)
        assert set(np.unique(np.asanyarray(label.dataobj)).tolist()) <= set(range(6))
        seg = pydicom.dcmread(inference / "test_000_seg.dcm")
        assert seg.Modality == "SEG" and len(seg.SegmentSequence) == 5
        referenced = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        assert referenced == pydicom.dcmread(series[0], stop_before_pixels=True).SeriesInstanceUID
    dca_weights = (tmp_path / "dca" / "models" / "model.pt").stat().st_size
    parent_weights = (tmp_path / "parent" / "models" / "model.pt").stat().st_size
    assert dca_weights > parent_weights  # the parent run really trained without the dca block
