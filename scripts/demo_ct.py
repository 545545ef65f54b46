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

    python scripts/demo_ct.py [--quick] [--epochs 30] [--output-dir outputs/demo_ct] [--dataset-dir DIR]
        [--dca-ckpt-dir DIR] [--parent-ckpt-dir DIR]

Reusing earlier runs instead of training again:

- ``--dataset-dir``: the dataset's folder (default ``OUTPUT_DIR/dataset``). A dataset built there
  before with the same sizes (by an earlier demo or ``python -m dca_monai.apps.ct_organ_dataset``)
  is reused; one of other sizes is rebuilt.
- ``--dca-ckpt-dir``, ``--parent-ckpt-dir``: the ``ckpt_dir`` of an earlier ``train.json`` run of
  the same settings (``--quick`` or not) with ``network_def#dca`` True, or False. That network is
  not trained again: the demo segments the patient with its ``model.pt`` (train time ``reused`` in
  the table). The demo first checks that the weights load strictly into the network of these
  settings, and stops naming the option when they do not. To score the models of an earlier demo
  again::

    python scripts/demo_ct.py --dataset-dir outputs/demo_ct/dataset --dca-ckpt-dir outputs/demo_ct/dca/models \
        --parent-ckpt-dir outputs/demo_ct/parent/models --output-dir outputs/demo_ct_rescored
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from dca_monai.utils.bundle_command import config_file_arg, reused_checkpoints, run_bundle_command

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
    reused: Path | None = None  # the ckpt_dir of an earlier training run, when not trained here


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


def run_variant(
    name: str,
    folder: str,
    dca: bool,
    common: dict[str, object],
    out: Path,
    series: Path,
    ckpt_dir: Path | None = None,
) -> VariantResult:
    """Train (unless ``ckpt_dir`` holds a trained ``model.pt``), then segment the unseen patient's series,
    under ``out / folder``."""
    result = VariantResult(name, reused=ckpt_dir)
    root = out / folder
    common = {**common, "network_def#dca": dca}
    paths = {
        "ckpt_dir": ckpt_dir or root / "models",
        "checkpoint_dir": root / "checkpoints",  # the bundle folder's own last.pt is another run's resume point
        "output_dir": root / "train",
        "finetune": False,  # from scratch
    }
    if ckpt_dir is None:
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
    print("The shipped model.pt is the bundle's default recipe; the other two are trained from scratch (train s).")
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
        trained = f"{'reused':>9}" if r.reused else f"{r.train_seconds:>9.0f}" if r.train_seconds else f"{'shipped':>9}"
        print(f"{r.name:<22}{trained}{r.infer_seconds:>9.1f}  {'yes' if r.seg_matches else 'NO'}")
    for r in results:
        print(f"\n{r.name}:")
        print(f"  label NIfTI:      {r.label_path}")
        print(f"  DICOM SEG:        {r.seg_path}")
        if r.logs is not None:
            print(f"  TensorBoard logs: {r.logs}   (tensorboard --logdir {r.logs})")
        if r.reused is not None:
            print(f"  model.pt:         {r.reused / 'model.pt'}   (reused: trained before this run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI-sized run: coarse voxels, tiny network, 1 epoch")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "outputs" / "demo_ct")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 30; 2 steps each)")
    parser.add_argument("--dataset-dir", type=Path, help="the dataset's folder, reused when built with these sizes")
    parser.add_argument("--dca-ckpt-dir", type=Path, help="reuse the model.pt of a DCA run here, do not train it")
    parser.add_argument("--parent-ckpt-dir", type=Path, help="reuse the model.pt of a dca=false run here")
    args = parser.parse_args()
    out = args.output_dir.resolve()

    from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset
    from dca_monai.apps.ct_organs import ct_class_names
    from dca_monai.metrics import score_label_maps

    sizes = QUICK if args.quick else FULL
    organs = ct_class_names()[1:]
    network: dict[str, object] = {"num_classes": len(organs) + 1, "segment_names": organs, **sizes["bundle"]}
    ckpt_dirs = reused_checkpoints(
        parser,
        config("inference.json"),
        network,
        {"--dca-ckpt-dir": args.dca_ckpt_dir, "--parent-ckpt-dir": args.parent_ckpt_dir},
    )
    out.mkdir(parents=True, exist_ok=True)
    dataset_dir = (args.dataset_dir or out / "dataset").resolve()
    print(
        f"the embedded CT dataset (TotalSegmentator example files) in {dataset_dir}, built unless there ...", flush=True
    )
    datalist = build_ct_organ_dataset(dataset_dir, **sizes["dataset"])
    series, reference = datalist.parent / "dicom" / "test_000", datalist.parent / "labels" / "test_000.nii.gz"
    common: dict[str, object] = {"bundle_root": BUNDLE, "dataset_dir": datalist.parent, **network}
    if args.epochs is not None:
        common["epochs"] = args.epochs
    results = [
        run_shipped(series, out),
        run_variant("DCADynUNet (DCA)", "dca", True, common, out, series, ckpt_dirs.get(True)),
        run_variant("DynUNet (dca=false)", "parent", False, common, out, series, ckpt_dirs.get(False)),
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
