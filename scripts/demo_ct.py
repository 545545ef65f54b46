"""The CT job: DCA vs its parent on real CT, scored on an unseen patient read straight from DICOM.

1. builds the embedded 5-organ CT dataset (``dca_monai.apps.ct_organ_dataset``, from the
   TotalSegmentator example files the set-up fetched; nothing is downloaded here),
2. trains ``bundles/ct_dca_segmentation`` twice with the same seed and schedule: with DCA
   (``DCADynUNet``) and with ``--network_def#dca false`` (exactly MONAI's ``DynUNet``), on
   augmented copies of one patient,
3. segments the other patient's DICOM series with each model (inference bundle: a label NIfTI in
   the series' space and a DICOM SEG referencing the series),
4. scores each label NIfTI against that patient's labels on the series' own grid (Dice per organ,
   95th percentile Hausdorff distance in mm) and checks that the DICOM SEG, read back with
   highdicom, holds exactly the NIfTI's labels,
5. prints a table and the paths of the outputs.

The reference labels are TotalSegmentator's model outputs, not manual delineations, and the test
patient is one 40 mm slab: the scores show agreement with TotalSegmentator on one unseen patient.
``--quick`` is a CI-sized run (coarse voxels, a tiny network, 1 epoch).

    python scripts/demo_ct.py [--quick] [--epochs 30] [--output-dir outputs/demo_ct]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from dca_monai.utils.bundle_command import config_file_arg, run_bundle_command

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = REPO_ROOT / "bundles" / "ct_dca_segmentation"

FULL = {
    "dataset": {"num_train": 4, "num_val": 1},
    "bundle": {
        "pixdim": [3.0, 3.0, 3.0],
        "filters": [8, 16, 32, 64, 128],
        "roi_size": [48, 48, 48],
        "sw_batch_size": 4,
        "epochs": 30,
        "val_interval": 5,
        "num_samples": 2,
        "batch_size": 2,
        "learning_rate": 0.003,
        "num_workers": 0,
    },
}
QUICK = {
    "dataset": {"num_train": 2, "num_val": 1},
    "bundle": {
        "pixdim": [6.0, 6.0, 6.0],
        "filters": [4, 4, 8, 8, 8],
        "roi_size": [32, 32, 32],
        "sw_batch_size": 2,
        "epochs": 1,
        "val_interval": 1,
        "num_samples": 1,
        "batch_size": 2,
        "num_workers": 0,
    },
}
# the training overrides that inference.json also has
INFERENCE_KEYS = (
    "bundle_root",
    "num_classes",
    "segment_names",
    "network_def#dca",
    "pixdim",
    "filters",
    "roi_size",
    "sw_batch_size",
)


@dataclass
class VariantResult:
    """What the demo measured for one network."""

    name: str
    train_seconds: float = 0.0
    infer_seconds: float = 0.0
    dice: list[float] = field(default_factory=list)
    hd95: list[float] = field(default_factory=list)
    label_path: Path | None = None
    seg_path: Path | None = None
    seg_matches: bool = False
    logs: Path | None = None


def config(*names: str) -> str:
    return config_file_arg(BUNDLE, *names)


def bundle_run(config_file: str, overrides: dict[str, object]) -> float:
    """Run one bundle command from the repository root; stop the demo if it fails."""
    return run_bundle_command(config_file, overrides, cwd=REPO_ROOT)


def seg_matches_label(seg_path: Path, series_dir: Path, label_path: Path) -> bool:
    """Read the DICOM SEG back and compare every frame with the label NIfTI at its source instance."""
    import highdicom as hd

    from dca_monai.data.dicom_series import read_dicom_series

    series = read_dicom_series(series_dir, decode=False)
    frames = hd.seg.segread(seg_path).get_pixels_by_source_instance(
        [header.SOPInstanceUID for header in series.headers], combine_segments=True
    )
    label = nib.load(label_path)
    if label.shape != series.shape or not np.allclose(label.affine, series.affine, atol=1e-3):
        return False
    return bool(np.array_equal(frames, np.asanyarray(label.dataobj).transpose(2, 1, 0)))


def run_variant(name: str, folder: str, dca: bool, common: dict[str, object], out: Path, series: Path) -> VariantResult:
    """Train, then segment the unseen patient's series, under ``out / folder``."""
    result = VariantResult(name)
    root = out / folder
    common = {**common, "network_def#dca": dca}
    paths = {"ckpt_dir": root / "models", "output_dir": root / "train", "finetune": False}  # from scratch
    result.train_seconds = bundle_run(config("train.json"), {**common, **paths})
    result.logs = paths["output_dir"]
    infer_dir = root / "inference"
    inference = {key: value for key, value in common.items() if key in INFERENCE_KEYS}
    result.infer_seconds = bundle_run(
        config("inference.json"),
        {**inference, "ckpt_dir": paths["ckpt_dir"], "input_path": series, "output_dir": infer_dir},
    )
    result.label_path = infer_dir / f"{series.name}_seg.nii.gz"
    result.seg_path = infer_dir / f"{series.name}_seg.dcm"
    return result


def run_shipped(series: Path, out: Path) -> VariantResult:
    """Segment the unseen patient's series with the shipped ``models/model.pt`` and the bundle's defaults."""
    result = VariantResult("shipped model.pt")
    infer_dir = out / "shipped" / "inference"
    overrides = {"bundle_root": BUNDLE, "input_path": series, "output_dir": infer_dir}
    result.infer_seconds = bundle_run(config("inference.json"), overrides)
    result.label_path = infer_dir / f"{series.name}_seg.nii.gz"
    result.seg_path = infer_dir / f"{series.name}_seg.dcm"
    return result


def print_report(results: list[VariantResult], organs: list[str], quick: bool) -> None:
    print("\n" + "=" * 110)
    note = " (--quick: CI-sized, not meaningful)" if quick else ""
    print(f"DCA vs parent on the unseen CT patient (DICOM series){note}")
    print("The shipped model.pt is the bundle's default recipe; the other two are trained here from scratch.")
    print(
        "Reference labels are TotalSegmentator model outputs, not manual; one patient, a 40 mm slab: "
        "agreement with TotalSegmentator, not a clinical benchmark.\n"
    )
    print(f"{'network':<22}{'':<6}" + "".join(f"{organ[:18]:>19}" for organ in organs) + f"{'mean':>9}")
    for r in results:
        print(f"{r.name:<22}{'Dice':<6}" + "".join(f"{d:>19.3f}" for d in r.dice) + f"{np.nanmean(r.dice):>9.3f}")
        print(f"{'':<22}{'HD95':<6}" + "".join(f"{h:>16.1f} mm" for h in r.hd95) + f"{np.nanmean(r.hd95):>6.1f} mm")
    print(f"\n{'network':<22}{'train s':>9}{'infer s':>9}  DICOM SEG read back = label NIfTI")
    for r in results:
        trained = f"{r.train_seconds:>9.0f}" if r.train_seconds else f"{'shipped':>9}"
        print(f"{r.name:<22}{trained}{r.infer_seconds:>9.1f}  {'yes' if r.seg_matches else 'NO'}")
    for r in results:
        print(f"\n{r.name}:")
        print(f"  label NIfTI:      {r.label_path}")
        print(f"  DICOM SEG:        {r.seg_path}")
        if r.logs is not None:
            print(f"  TensorBoard logs: {r.logs}   (tensorboard --logdir {r.logs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI-sized run: coarse voxels, tiny network, 1 epoch")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "outputs" / "demo_ct")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 30; 2 steps each)")
    args = parser.parse_args()
    out = args.output_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)

    from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset
    from dca_monai.apps.ct_organs import ct_class_names
    from dca_monai.metrics import score_label_maps

    sizes = QUICK if args.quick else FULL
    print("building the embedded CT dataset (TotalSegmentator example files) ...", flush=True)
    datalist = build_ct_organ_dataset(out / "dataset", **sizes["dataset"])
    series, reference = datalist.parent / "dicom" / "test_000", datalist.parent / "labels" / "test_000.nii.gz"
    organs = ct_class_names()[1:]
    common: dict[str, object] = {
        "bundle_root": BUNDLE,
        "dataset_dir": datalist.parent,
        "num_classes": len(organs) + 1,
        "segment_names": organs,
        **sizes["bundle"],
    }
    if args.epochs is not None:
        common["epochs"] = args.epochs
    results = [
        run_shipped(series, out),
        run_variant("DCADynUNet (DCA)", "dca", True, common, out, series),
        run_variant("DynUNet (dca=false)", "parent", False, common, out, series),
    ]
    for result in results:
        scores = score_label_maps(result.label_path, reference, len(organs) + 1)
        result.dice, result.hd95 = list(scores.dice), list(scores.hd95)
        result.seg_matches = seg_matches_label(result.seg_path, series, result.label_path)
    print_report(results, organs, args.quick)
    if not all(result.seg_matches for result in results):
        sys.exit("demo failed: a DICOM SEG does not hold its label NIfTI's labels")


if __name__ == "__main__":
    main()
