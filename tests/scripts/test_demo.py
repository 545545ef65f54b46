"""scripts/demo.py --quick, scoring the brain bundle's runs that the session already made.

The bundles' tests train :data:`~tests.bundles.bundle_cases.BRAIN` with DCA and without it
(``tests/conftest.py``) on the settings of ``demo.py --quick``; the demo gets their dataset and
``ckpt_dir``s (``--dataset-dir``, ``--dca-ckpt-dir``, ``--parent-ckpt-dir``) and evaluates, segments
and reports without training either network again.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nibabel as nib
import pytest
import torch
from PIL import Image

from dca_monai.apps.colin27 import colin27_path
from dca_monai.apps.itk_brain_t1 import itk_t1_path
from tests.bundles.bundle_cases import BRAIN, FILTERS, MadeOnce
from tests.bundles.bundle_runner import BUNDLES, BundleRun, bundle_network, file_times

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "demo.py"


def load_demo() -> ModuleType:
    """scripts/demo.py as a module (registered first: its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location("demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("demo", module)
    spec.loader.exec_module(module)
    return module


def run_demo(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_the_sessions_brain_runs_have_the_settings_of_the_quick_demo() -> None:
    # what makes reusing them honest: the demo would have trained exactly these two runs
    assert {**BRAIN.model_overrides, **BRAIN.training_overrides} == load_demo().QUICK
    assert BRAIN.dca_off_overrides == {}


def demo_refusal(args: list[object], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> str:
    """What ``demo.py --quick ARGS`` writes to stderr when it stops on a bad argument (exit status 2)."""
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--quick", *map(str, args)])
    with pytest.raises(SystemExit) as stopped:
        load_demo().main()
    assert stopped.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("option", ["--dca-ckpt-dir", "--parent-ckpt-dir"])
def test_weights_of_other_settings_stop_the_demo_before_it_runs(
    option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    dca = option == "--parent-ckpt-dir"  # the other variant's weights
    (tmp_path / "models").mkdir()
    torch.save(bundle_network(BRAIN.num_classes, FILTERS, dca=dca).state_dict(), tmp_path / "models" / "model.pt")

    error = demo_refusal([option, tmp_path / "models", "--output-dir", tmp_path / "out"], monkeypatch, capsys)

    assert f"{option} {tmp_path / 'models'}: {tmp_path / 'models' / 'model.pt'} does not fit network_def" in error
    assert ("unexpected dca." if dca else "missing dca.") in error
    assert not (tmp_path / "out").exists()  # checked before anything ran


def test_a_missing_model_stops_the_demo_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    error = demo_refusal(["--dca-ckpt-dir", tmp_path, "--output-dir", tmp_path / "out"], monkeypatch, capsys)

    assert f"--dca-ckpt-dir {tmp_path}: {tmp_path / 'model.pt'} does not exist" in error


@pytest.mark.slow
def test_quick_demo_scores_the_sessions_runs_and_reports(
    bundle_datasets: MadeOnce[Path], bundle_trainings: MadeOnce[tuple[Path, BundleRun]], tmp_path: Path
) -> None:
    dataset = bundle_datasets(BRAIN)
    runs = {"dca": bundle_trainings(BRAIN, True)[0], "parent": bundle_trainings(BRAIN, False)[0]}
    before = file_times(BUNDLES / BRAIN.bundle)

    completed = run_demo(
        "--output-dir",
        tmp_path,
        "--dataset-dir",
        dataset,
        "--dca-ckpt-dir",
        runs["dca"] / "models",
        "--parent-ckpt-dir",
        runs["parent"] / "models",
    )

    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert file_times(BUNDLES / BRAIN.bundle) == before  # everything written under --output-dir
    assert f"--config_file {BUNDLES / BRAIN.bundle / 'configs' / 'train.json'} " not in (
        completed.stdout
    )  # neither network trained again (evaluate.json's command merges train.json into a list)
    assert not list(tmp_path.glob("*/train"))
    assert not (tmp_path / "dataset").exists()  # nor the dataset built again
    report = completed.stdout[completed.stdout.index("DCA vs parent") :]
    for name in ("DCADynUNet (DCA)", "DynUNet (dca=false)"):
        row = next(line for line in report.splitlines() if line.startswith(name)).split()
        assert row[-2] == "reused"
        assert all(0.0 <= float(value) <= 1.0 for value in row[-7:-3])  # Dice per class and their mean
        assert not float(row[-3]) < 0.0  # HD95 in mm (nan where a class is never predicted)
    for scan in ("Colin27: ch2bet", "ITK T1: KmeansTest"):
        real = report[report.index(scan) :]
        table = real[: real.index("\n\n", real.index("network"))]  # the table ends at the first blank line
        rows = [line.split() for line in table.splitlines() if line.startswith(("DCADynUNet", "DynUNet"))]
        assert len(rows) == 2, scan
        for row in rows:  # brain Dice, share outside the mask, three tissue Dice: all measured, in range
            assert 0.0 <= float(row[2]) <= 1.0 and row[3].endswith("%")
            assert all(0.0 <= float(value) <= 1.0 for value in row[4:7])
    for folder, bundle_root in runs.items():
        assert f"{bundle_root / 'models' / 'model.pt'}   (reused" in report
        assert list((bundle_root / "eval").glob("events.out.tfevents.*"))  # the reused run's TensorBoard logs
        assert (tmp_path / folder / "evaluate" / "overlay_best.png").is_file()
        label = nib.load(next((tmp_path / folder / "inference").glob("*_seg.nii.gz")))
        image = nib.load(dataset / "images" / "test_000.nii.gz")
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
    dca_weights = (runs["dca"] / "models" / "model.pt").stat().st_size
    parent_weights = (runs["parent"] / "models" / "model.pt").stat().st_size
    assert dca_weights > parent_weights  # the parent run really trained without the dca block
