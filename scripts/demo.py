"""The main job: DCA vs its parent on the embedded brain MRI dataset, end to end, with MONAI bundles.

1. builds the embedded MNI152 dataset (``dca_monai.data``; nothing is downloaded),
2. trains ``bundles/brain_mri_dca_segmentation`` twice with the same seed and schedule: with DCA
   (``DCADynUNet``) and with ``--network_def#dca false`` (exactly MONAI's ``DynUNet``),
3. evaluates both on the held-out test cases (sliding window averaged with the left-right mirror image,
   the bundle's default since 0.5.0: Dice and HD95 per class),
4. segments a held-out volume with each model (label NIfTI in the input's space),
5. segments two real scans neither model trained on, Colin27 skull-stripped (``ch2bet.nii.gz`` from
   Debian's mricron-data) and ITK's example T1 inside its brain mask (2 x 2 x 3 mm, coronal, from
   Debian's insighttoolkit5-examples), both installed by ``scripts/setup_env.sh``, scores them
   against their brain masks and a classical intensity reference (``dca_monai.metrics``) and draws
   an overlay PNG of each,
6. prints both tables and the paths of the label NIfTIs, the overlay PNGs and the TensorBoard logs.

Every step is a ``python -m monai.bundle run ...`` command, printed before it runs, so each can
be repeated by hand. ``--quick`` is a CI-sized run (coarse data, a tiny network, 2 epochs).

    python scripts/demo.py [--quick] [--output-dir outputs/demo] [--dataset-dir DIR]
        [--dca-ckpt-dir DIR] [--parent-ckpt-dir DIR]

Reusing earlier runs instead of training again:

- ``--dataset-dir``: the dataset's folder (default ``OUTPUT_DIR/dataset``). A dataset built there
  before with the same settings (by an earlier demo, the bundle or
  ``python -m dca_monai.apps.brain_dataset``) is reused; one of other settings is rebuilt.
- ``--dca-ckpt-dir``, ``--parent-ckpt-dir``: the ``ckpt_dir`` of an earlier ``train.json`` run of
  the same settings (``--quick`` or not) with ``network_def#dca`` True, or False. That network is
  not trained again: the demo evaluates its ``model.pt`` (train time ``reused`` in the table). The
  demo first checks that the weights load strictly into the network of these settings, and stops
  naming the option when they do not. To score the models of an earlier demo again::

    python scripts/demo.py --dataset-dir outputs/demo/dataset --dca-ckpt-dir outputs/demo/dca/models \
        --parent-ckpt-dir outputs/demo/parent/models --output-dir outputs/demo_rescored
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from dca_monai.apps.colin27 import colin27_path
from dca_monai.apps.itk_brain_t1 import write_itk_t1_brain
from dca_monai.apps.quick_settings import BRAIN_QUICK_OVERRIDES
from dca_monai.metrics import RealScanAgreement, intensity_tissue_classes, real_scan_agreement
from dca_monai.utils.bundle_command import config_file_arg, reused_checkpoints, run_bundle_command
from dca_monai.visualize import save_label_overlay

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = REPO_ROOT / "bundles" / "brain_mri_dca_segmentation"
CLASSES = ("CSF", "grey matter", "white matter")

QUICK = {**BRAIN_QUICK_OVERRIDES, "epochs": 2, "val_interval": 1, "num_workers": 0}


@dataclass(frozen=True)
class RealScan:
    """A skull-stripped real scan that no model trained on."""

    name: str
    path: Path
    description: str


@dataclass
class RealScanResult:
    """One model's labels of one real scan and their agreement with the scan."""

    scan: RealScan
    agreement: RealScanAgreement
    label_path: Path
    overlay: Path


@dataclass
class VariantResult:
    """What the demo measured for one network."""

    name: str
    train_seconds: float = 0.0
    infer_seconds: float = 0.0
    dice: list[float] = field(default_factory=list)
    hd95: list[float] = field(default_factory=list)
    label_path: Path | None = None
    overlays: list[Path] = field(default_factory=list)
    logs: Path | None = None
    real_scans: list[RealScanResult] = field(default_factory=list)
    reused: Path | None = None  # the ckpt_dir of an earlier training run, when not trained here


def config(*names: str) -> str:
    return config_file_arg(BUNDLE, *names)


def bundle_run(config_file: str, overrides: dict[str, object]) -> float:
    """Run one bundle command from the repository root; stop the demo if it fails."""
    return run_bundle_command(config_file, overrides, cwd=REPO_ROOT)


def per_class_means(csv_path: Path) -> list[float]:
    """Mean over cases of each class column of a MetricsSaver ``*_raw.csv`` (first column the case)."""
    text = csv_path.read_text()
    rows = list(csv.reader(text.splitlines(), delimiter="\t" if "\t" in text.splitlines()[0] else ","))
    header, cases = rows[0], [row for row in rows[1:] if row and row[0] != "mean"]
    columns = [i for i, name in enumerate(header) if i > 0 and name.startswith("class")]
    return [sum(float(row[i]) for row in cases) / len(cases) for i in columns]


def run_variant(
    name: str,
    folder: str,
    dca: bool,
    common: dict[str, object],
    out: Path,
    scans: list[RealScan],
    ckpt_dir: Path | None = None,
) -> VariantResult:
    """Train (unless ``ckpt_dir`` holds a trained ``model.pt``), evaluate on the test section and segment one
    test volume and the real scans, under ``out / folder``."""
    result = VariantResult(name, reused=ckpt_dir)
    root = out / folder
    common = {**common, "network_def#dca": dca}
    # checkpoints/last.pt too: the bundle folder's own is another run's resume point
    paths = {
        "ckpt_dir": ckpt_dir or root / "models",
        "checkpoint_dir": root / "checkpoints",
        "output_dir": root / "train",
    }
    if ckpt_dir is None:
        result.train_seconds = bundle_run(config("train.json"), {**common, **paths})
        result.logs = paths["output_dir"]
    eval_dir = root / "evaluate"
    bundle_run(
        config("train.json", "evaluate.json"),
        {**common, "ckpt_dir": paths["ckpt_dir"], "output_dir": eval_dir, "eval_section": "test"},
    )
    result.dice = per_class_means(eval_dir / "val_mean_dice_raw.csv")
    result.hd95 = per_class_means(eval_dir / "val_hd95_raw.csv")
    result.overlays = sorted(eval_dir.glob("overlay_*.png"))
    infer_dir = root / "inference"
    test_image = sorted((Path(str(common["dataset_dir"])) / "images").glob("test_*.nii.gz"))[0]
    result.infer_seconds = bundle_run(
        config("inference.json"),
        {**common, "ckpt_dir": paths["ckpt_dir"], "input_path": test_image, "output_dir": infer_dir},
    )
    result.label_path = next(infer_dir.glob("*seg.nii.gz"))
    result.real_scans = score_real_scans(result.name, common, paths["ckpt_dir"], root / "real_scans", scans)
    return result


def score_real_scans(
    name: str, common: dict[str, object], ckpt_dir: Path, out: Path, scans: list[RealScan]
) -> list[RealScanResult]:
    """Segment the skull-stripped scans in one run, score each and draw an overlay PNG of its middle slice."""
    network = {key: value for key, value in common.items() if key != "dataset_dir"}
    inputs = "[" + ",".join(f"'{scan.path}'" for scan in scans) + "]"
    bundle_run(config("inference.json"), {**network, "ckpt_dir": ckpt_dir, "input_path": inputs, "output_dir": out})
    results = []
    for scan in scans:
        label_path = out / scan.path.name.replace(".nii.gz", "_seg.nii.gz")
        image = np.asanyarray(nib.load(scan.path).dataobj).astype(np.float32)
        prediction = np.asanyarray(nib.load(label_path).dataobj)
        reference = intensity_tissue_classes(image, image > 0)
        middle = image.shape[2] // 2  # the third voxel axis: axial for Colin27, coronal for the ITK T1
        overlay = save_label_overlay(
            out / f"overlay_{scan.path.name.replace('.nii.gz', '')}.png",
            image[:, :, middle],
            reference[:, :, middle],
            prediction[:, :, middle],
            title=f"{scan.name} (real, held out), slice {middle}: scan | intensity reference | {name}",
        )
        results.append(RealScanResult(scan, real_scan_agreement(prediction, image), label_path, overlay))
    return results


def print_report(results: list[VariantResult], quick: bool) -> None:
    print("\n" + "=" * 100)
    print(
        f"DCA vs parent on the embedded MNI152 brain dataset{' (--quick: CI-sized, not meaningful)' if quick else ''}"
    )
    print("Demonstrates the pipeline on real anatomy; not a clinical benchmark.\n")
    dice_cols = "".join(f"{'Dice ' + c:>18}" for c in CLASSES)
    print(f"{'network':<26}{dice_cols}{'mean Dice':>11}{'HD95 (mm)':>12}{'train s':>9}{'infer s':>9}")
    for r in results:
        dice = "".join(f"{d:>18.3f}" for d in r.dice)
        mean_dice = sum(r.dice) / len(r.dice)
        mean_hd = sum(r.hd95) / len(r.hd95)
        trained = f"{'reused':>9}" if r.reused else f"{r.train_seconds:>9.0f}"
        print(f"{r.name:<26}{dice}{mean_dice:>11.3f}{mean_hd:>12.2f}{trained}{r.infer_seconds:>9.1f}")
    print("\nThe same models on real scans they never trained on, skull-stripped. Brain = CSF + GM + WM against the")
    print("scan's mask (image > 0); tissues against a 3-class Gaussian mixture of the intensities inside the mask.")
    print("Targets: brain Dice >= 0.95, < 1% outside, CSF/GM/WM >= 0.6/0.8/0.8.")
    tissue_cols = "".join(f"{'Dice ' + c:>18}" for c in CLASSES)
    for index, scan in enumerate(results[0].real_scans):
        print(f"\n{scan.scan.name}: {scan.scan.description}\n")
        print(f"{'network':<26}{'brain Dice':>11}{'outside':>9}{tissue_cols}")
        for r in results:
            scores = r.real_scans[index].agreement
            tissues = "".join(f"{d:>18.3f}" for d in scores.tissue_dice)
            print(f"{r.name:<26}{scores.brain_dice:>11.3f}{scores.outside_fraction:>9.2%}{tissues}")
    for r in results:
        print(f"\n{r.name}:")
        print(f"  label NIfTI:      {r.label_path}")
        for overlay in r.overlays:
            print(f"  overlay PNG:      {overlay}")
        for scan in r.real_scans:
            print(f"  {scan.scan.name + ' labels:':<18}{scan.label_path}")
            print(f"  {scan.scan.name + ' overlay:':<18}{scan.overlay}")
        if r.reused is not None:
            print(f"  model.pt:         {r.reused / 'model.pt'}   (reused: trained before this run)")
        else:
            print(f"  TensorBoard logs: {r.logs}   (tensorboard --logdir {r.logs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI-sized run: coarse data, tiny network, 2 epochs")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "outputs" / "demo")
    parser.add_argument("--dataset-dir", type=Path, help="the dataset's folder, reused when built with these settings")
    parser.add_argument("--dca-ckpt-dir", type=Path, help="reuse the model.pt of a DCA run here, do not train it")
    parser.add_argument("--parent-ckpt-dir", type=Path, help="reuse the model.pt of a dca=false run here")
    args = parser.parse_args()
    out = args.output_dir.resolve()
    dataset_dir = (args.dataset_dir or out / "dataset").resolve()
    common: dict[str, object] = {"bundle_root": BUNDLE, "dataset_dir": dataset_dir, **(QUICK if args.quick else {})}
    ckpt_dirs = reused_checkpoints(
        parser,
        config("inference.json"),
        common,
        {"--dca-ckpt-dir": args.dca_ckpt_dir, "--parent-ckpt-dir": args.parent_ckpt_dir},
    )
    out.mkdir(parents=True, exist_ok=True)
    scans = [
        RealScan("Colin27", colin27_path("brain"), "ch2bet.nii.gz, 1 mm, Debian mricron-data"),
        RealScan(
            "ITK T1",
            write_itk_t1_brain(out / "real_scans" / "itk_t1_brain.nii.gz"),
            "KmeansTest_T1UCharRaw inside KmeansTest_T1RawSkullStrip > 0, 2 x 2 x 3 mm coronal, Debian ITK examples",
        ),
    ]
    results = [
        run_variant("DCADynUNet (DCA)", "dca", True, common, out, scans, ckpt_dirs.get(True)),
        run_variant("DynUNet (dca=false)", "parent", False, common, out, scans, ckpt_dirs.get(False)),
    ]
    print_report(results, args.quick)


if __name__ == "__main__":
    main()
