"""nnU-Net with and without DCA on the embedded CT dataset: Dice per organ on the unseen DICOM patient.

Runs in the nnU-Net environment (``bash scripts/setup_nnunet.sh``)::

    .venv-nnunet/bin/python scripts/demo_nnunet.py [--epochs 8] [--iterations 25] [--spacing 8]
        [--output-dir outputs/demo_nnunet]
    .venv-nnunet/bin/python scripts/demo_nnunet.py --quick     # 1 epoch x 2 iterations: checks the steps only

1. builds the embedded 5-organ CT dataset (``dca_monai.apps.ct_organ_dataset``: augmented copies of one
   patient for training, another patient's DICOM series as the test case) and converts it with
   ``dca-monai-datalist-to-nnunet``,
2. ``nnUNetv2_plan_and_preprocess`` (3d_fullres; ``--spacing`` overrides the target spacing so a CPU
   can train it, ``--spacing 0`` keeps nnU-Net's),
3. ``nnUNetv2_train`` fold 0 with the plain and the DCA trainer on the same budget
   (``scripts/nnunet_trainers/budget_trainers.py``: ``--epochs`` of ``--iterations``, no mirroring),
4. ``nnUNetv2_predict`` on the unseen patient with each, and prints Dice per organ against its labels,
   with the CPU model, the date and each trainer's training and prediction time.

The labels are TotalSegmentator's outputs and the test patient is one 40 mm slab: the scores compare
the two trainers on one unseen patient at a CPU-sized budget, not nnU-Net's full 1000-epoch schedule.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.metrics import compute_dice
from monai.networks.utils import one_hot

from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset
from dca_monai.apps.ct_organs import ct_class_names
from dca_monai.nnunet import datalist_to_nnunet_raw, trainer_search_path
from dca_monai.utils.benchmarking import cpu_model

REPO_ROOT = Path(__file__).resolve().parents[1]
BUDGET_TRAINERS = REPO_ROOT / "scripts" / "nnunet_trainers"
TRAINERS = {"nnU-Net (plain)": "nnUNetTrainer_budget", "nnU-Net + DCA": "nnUNetTrainerDCA_budget"}
DATASET_ID, DATASET_NAME = 501, "CTOrgans"


def nnunet(env: dict[str, str], *command: str) -> float:
    """Run an nnU-Net console command of this environment, showing its output; its wall time in seconds."""
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / command[0]), *command[1:]], env=env, check=True)
    return time.perf_counter() - start


def dice_per_class(prediction: Path, reference: Path, num_classes: int) -> np.ndarray:
    """Dice of classes 1..num_classes-1 (NaN where both are empty), on the reference's grid."""
    predicted, truth = nib.load(prediction), nib.load(reference)
    if predicted.shape != truth.shape or not np.allclose(predicted.affine, truth.affine, atol=1e-4):
        raise ValueError(f"{prediction} is not on the grid of {reference}: {predicted.shape} vs {truth.shape}")
    tensors = [torch.as_tensor(np.asarray(image.dataobj, dtype=np.int64))[None, None] for image in (predicted, truth)]
    onehots = [one_hot(t, num_classes) for t in tensors]
    return compute_dice(onehots[0], onehots[1], include_background=False, ignore_empty=True)[0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "outputs" / "demo_nnunet")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=25, help="training iterations per epoch")
    parser.add_argument("--spacing", type=float, default=8.0, help="target spacing in mm; 0 for nnU-Net's own")
    parser.add_argument("--quick", action="store_true", help="1 epoch x 2 iterations: checks the steps, not Dice")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.iterations = 1, 2
    if args.epochs < 1 or args.iterations < 1:
        parser.error(f"--epochs {args.epochs} --iterations {args.iterations} but both must be at least 1")
    started = datetime.now(timezone.utc)
    out = args.output_dir.resolve()
    plans = "nnUNetPlans" if args.spacing == 0 else f"nnUNetPlans_{args.spacing:g}mm"
    env = {
        **os.environ,
        "nnUNet_raw": str(out / "nnUNet_raw"),
        "nnUNet_preprocessed": str(out / "nnUNet_preprocessed"),
        "nnUNet_results": str(out / "nnUNet_results"),
        "nnUNet_extTrainer": os.pathsep.join(
            [str(trainer_search_path()), str(REPO_ROOT / "scripts" / "nnunet_trainers")]
        ),
        "DCA_MONAI_NNUNET_EPOCHS": str(args.epochs),
        "DCA_MONAI_NNUNET_ITERATIONS": str(args.iterations),
    }
    if args.device == "cpu":
        env.setdefault("nnUNet_def_n_proc", "1")
    # augmentation in the main process on CPU; only for training (nnU-Net's planner sets threads from it)
    train_env = {"nnUNet_n_proc_DA": "0", **env} if args.device == "cpu" else env

    print("building the embedded CT dataset and converting it to nnU-Net's raw format ...", flush=True)
    datalist = build_ct_organ_dataset(out / "ct_dataset", num_train=4, num_val=1)
    raw = datalist_to_nnunet_raw(datalist, out / "nnUNet_raw", DATASET_ID, DATASET_NAME, overwrite=True)
    plan = ["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1", "-npfp", "1"]
    if args.spacing:
        plan += ["-overwrite_target_spacing", *[f"{args.spacing:g}"] * 3, "-overwrite_plans_name", plans]
    nnunet(env, *plan, "--verify_dataset_integrity")

    organs = ct_class_names()[1:]
    scores, seconds = {}, {}
    for label, trainer in TRAINERS.items():
        train = ["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-p", plans, "-tr", trainer]
        train_seconds = nnunet(train_env, *train, "-device", args.device)
        predictions = out / "predictions" / trainer
        seconds[label] = train_seconds, nnunet(
            env, "nnUNetv2_predict", "-i", str(raw / "imagesTs"), "-o", str(predictions), "-d", str(DATASET_ID),
            "-c", "3d_fullres", "-p", plans, "-f", "0", "-tr", trainer, "-chk", "checkpoint_final.pth",
            "--disable_tta", "-device", args.device, "-npp", "1", "-nps", "1",
        )  # fmt: skip
        reference = datalist.parent / "labels" / "test_000.nii.gz"
        scores[label] = dice_per_class(predictions / "test_000.nii.gz", reference, len(organs) + 1)

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    cpus = f"{os.cpu_count()} CPUs (nnU-Net's threads on CPU)" if args.device == "cpu" else args.device
    print(f"\n{started:%Y-%m-%d %H:%M} UTC; {cpu_model()}; {cpus}; load average {load}")
    budget = f"{args.epochs} epochs x {args.iterations} iterations" + (" (--quick: Dice not meaningful)" * args.quick)
    print(f"Dice on the unseen patient (DICOM series), fold 0, {budget}, {plans}:")
    print(f"{'organ':<22}" + "".join(f"{label:>18}" for label in scores))
    for index, organ in enumerate(organs):
        print(f"{organ:<22}" + "".join(f"{values[index]:>18.3f}" for values in scores.values()))
    print(f"{'mean':<22}" + "".join(f"{np.nanmean(values):>18.3f}" for values in scores.values()))
    print(f"{'train s':<22}" + "".join(f"{train:>18.0f}" for train, _ in seconds.values()))
    print(f"{'predict s':<22}" + "".join(f"{predict:>18.0f}" for _, predict in seconds.values()))
    print(f"outputs: {out}")


if __name__ == "__main__":
    main()
