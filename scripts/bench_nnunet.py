"""Benchmark nnU-Net's planned network with and without DCA: forward+backward time and peak memory.

Runs in the nnU-Net environment (``bash scripts/setup_nnunet.sh``)::

    .venv-nnunet/bin/python scripts/bench_nnunet.py                   # plans the embedded CT dataset
    .venv-nnunet/bin/python scripts/bench_nnunet.py --plans nnUNet_preprocessed/DatasetXXX/nnUNetPlans.json
        [--configuration 3d_fullres] [--batch-size 2] [--repeats 3] [--dca-args '{"token_pool": 2}']

Without ``--plans`` the embedded CT dataset (``dca_monai.apps.ct_organ_dataset``) is converted and
planned with nnU-Net's default planner (fingerprint and plans only, no preprocessing) in a temporary
folder. Both networks come from the trainers' ``build_network_architecture`` (``nnUNetTrainer`` and
``nnUNetTrainerDCA``) with the same seed, deep supervision on, at the planned patch and batch size.
A step is a forward in train mode, a loss summing the mean squares of all deep supervision outputs,
and backward. Time: ``torch.utils.benchmark``, the median of ``--repeats`` interleaved measurements
(plain, DCA, plain, ...) after one warm-up each. Peak memory: on CUDA ``max_memory_allocated``; on
CPU the peak resident set of a fresh subprocess during one step, above its resident set before it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from bench_dca import interleaved_medians
from torch import nn

from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset
from dca_monai.nnunet import datalist_to_nnunet_raw
from dca_monai.utils.peak_rss import peak_rss_bytes

VARIANTS = ("plain", "dca")


def plan_ct_dataset(folder: Path) -> Path:
    """Convert and plan the embedded CT dataset under ``folder``; the plans file."""
    datalist = build_ct_organ_dataset(folder / "ct", num_train=4, num_val=1)
    datalist_to_nnunet_raw(datalist, folder / "raw", 501, "CTOrgans")
    env = {**os.environ, "nnUNet_raw": str(folder / "raw"), "nnUNet_preprocessed": str(folder / "preprocessed")}
    command = [str(Path(sys.executable).parent / "nnUNetv2_plan_and_preprocess"), "-d", "501", "-c", "3d_fullres"]
    subprocess.run([*command, "--no_pp", "-npfp", "1"], env=env, check=True, capture_output=True)
    return folder / "preprocessed" / "Dataset501_CTOrgans" / "nnUNetPlans.json"


def channels(plans_file: Path) -> tuple[int, int]:
    """Input channels and outputs, from the ``dataset.json`` beside the plans (nnU-Net's layout); else 1 and 2."""
    dataset_json = plans_file.with_name("dataset.json")
    if not dataset_json.is_file():
        return 1, 2
    dataset = json.loads(dataset_json.read_text())
    return len(dataset["channel_names"]), len(dataset["labels"])


def build(variant: str, plans_file: Path, configuration: str, dca_args: dict) -> tuple[nn.Module, list[int], int]:
    """The planned network (``"plain"`` or ``"dca"``), its patch size and batch size."""
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from dca_monai.nnunet.trainers import nnUNetTrainerDCA

    plans = PlansManager(json.loads(plans_file.read_text()))
    config = plans.get_configuration(configuration)
    trainer = type("nnUNetTrainerDCA_bench", (nnUNetTrainerDCA,), {"dca_args": dca_args})
    torch.manual_seed(0)
    builder = nnUNetTrainer if variant == "plain" else trainer
    network = builder.build_network_architecture(plans, config, *channels(plans_file), True)
    return network, list(config.patch_size), int(config.batch_size)


def training_step(network: nn.Module, x: torch.Tensor):
    def run() -> None:
        network.train()
        network.zero_grad(set_to_none=True)
        outputs = network(x)
        sum(output.float().pow(2).mean() for output in outputs).backward()

    return run


def peak_memory_mib(spec: dict, device: torch.device) -> float:
    if device.type == "cuda":
        network, patch, _ = build(spec["variant"], Path(spec["plans"]), spec["configuration"], spec["dca_args"])
        x = torch.rand(spec["batch"], channels(Path(spec["plans"]))[0], *patch, device=device)
        step = training_step(network.to(device), x)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["peak"] / 2**20


def child(spec: dict) -> None:
    network, patch, _ = build(spec["variant"], Path(spec["plans"]), spec["configuration"], spec["dca_args"])
    step = training_step(network, torch.rand(spec["batch"], channels(Path(spec["plans"]))[0], *patch))
    print(json.dumps({"peak": peak_rss_bytes(step)}))


def cpu_model() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU (lscpu failed)"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "unknown CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=Path, help="an nnU-Net plans file; the embedded CT dataset's by default")
    parser.add_argument("--configuration", default="3d_fullres")
    parser.add_argument("--batch-size", type=int, help="the plans' batch size by default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dca-args", type=json.loads, default={}, help="nnUNetTrainerDCA.dca_args, as JSON")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        plans_file = args.plans or plan_ct_dataset(Path(folder))
        built = {v: build(v, plans_file, args.configuration, args.dca_args) for v in VARIANTS}
        patch, batch = built["plain"][1], args.batch_size or built["plain"][2]
        print(f"{cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
        print(
            f"{plans_file.name} {args.configuration}: {type(built['plain'][0].encoder).__name__} stages "
            f"{built['plain'][0].encoder.output_channels}, patch {patch}, batch {batch}; DCA on skips "
            f"{built['dca'][0].dca.skip_channels}, dca_args {args.dca_args}"
        )
        x = torch.rand(batch, channels(plans_file)[0], *patch, device=device)
        steps = [training_step(built[v][0].to(device), x) for v in VARIANTS]
        seconds = interleaved_medians(steps, args.repeats, device)
        del steps, built
        spec = {"plans": str(plans_file), "configuration": args.configuration, "batch": batch}
        memory = [peak_memory_mib({**spec, "variant": v, "dca_args": args.dca_args}, device) for v in VARIANTS]
    print(f"{'':<22}{'plain':>12}{'DCA':>12}{'DCA/plain':>12}")
    print(f"{'fwd+bwd s':<22}{seconds[0]:>12.3f}{seconds[1]:>12.3f}{seconds[1] / seconds[0]:>12.3f}")
    print(f"{'peak memory MiB':<22}{memory[0]:>12.0f}{memory[1]:>12.0f}{memory[1] / memory[0]:>12.3f}")


if __name__ == "__main__":
    main()
