"""Benchmark the brain MRI bundle with DCA vs its parent: training speed, sliding-window inference, peak memory.

Loads ``bundles/brain_mri_dca_segmentation`` configs as ``python -m monai.bundle run`` would
(same ids, same overrides), once with ``network_def#dca`` true and once false, and prints:

- training iterations per second of ``train#trainer`` (median over iterations after a warm-up
  epoch; each iteration is a batch of ``batch_size * num_samples`` patches of ``roi_size``),
- sliding-window inference seconds per volume (``inferer`` of ``inference.json`` on the held-out
  test volumes, median; since bundle 0.5.0 that is two passes, the scan and its left-right mirror
  image: ``--override "tta_flip_axes=[]"`` times one),
- peak memory of one training iteration (CUDA: ``max_memory_allocated``; CPU: peak resident set
  of a fresh subprocess during the iteration, above its resident set before it; see ``dca_monai.utils.peak_rss``).

    python scripts/bench_bundle.py [--epochs 3] [--dataset-dir outputs/bench_dataset] [--override key=value ...]
    python scripts/bench_bundle.py --quick --dataset-dir outputs/demo/dataset   # a smoke run, about a minute

``--quick`` runs the CI-sized setup of ``scripts/demo.py --quick`` (the demo dataset at 4 mm with 2
training cases, filters ``[4, 4, 8, 8, 8]``, 32^3 patches; ``--epochs`` as without it): it checks
that the script runs; its figures say nothing about the bundle's defaults. ``--override`` pairs still apply on top.
The dataset is built under ``--dataset-dir`` when missing (``bundles/.../train.json``'s
``demo_dataset``), and reused when it was built there with the same settings.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Events
from monai.bundle import ConfigParser

from dca_monai.apps.quick_settings import BRAIN_QUICK_OVERRIDES
from dca_monai.utils.benchmarking import cpu_model
from dca_monai.utils.peak_rss import peak_rss_bytes

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = REPO_ROOT / "bundles" / "brain_mri_dca_segmentation"
QUICK = BRAIN_QUICK_OVERRIDES


def load_config(name: str, overrides: dict[str, Any]) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / name))
    parser.update({"bundle_root": str(BUNDLE), **overrides})
    return parser


def training_iterations_per_second(overrides: dict[str, Any], epochs: int) -> tuple[float, int]:
    """Median iterations/s of the bundle's trainer after its first epoch, and the iterations timed."""
    parser = load_config("train.json", {**overrides, "epochs": epochs, "val_interval": 10**6})
    trainer = parser.get_parsed_content("train#trainer")
    stamps: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: stamps.append(time.perf_counter()))
    trainer.add_event_handler(
        Events.EPOCH_STARTED(once=2), lambda engine: stamps.clear() or stamps.append(time.perf_counter())
    )
    trainer.run()
    durations = [b - a for a, b in itertools.pairwise(stamps)]
    return 1.0 / statistics.median(durations), len(durations)


def inference_seconds_per_volume(overrides: dict[str, Any]) -> float:
    """Median seconds of the sliding-window inferer over the preprocessed test volumes (no I/O)."""
    parser = load_config("inference.json", overrides)
    network = parser.get_parsed_content("network").eval()
    inferer = parser.get_parsed_content("inferer")
    dataset = parser.get_parsed_content("dataset")
    device = parser.get_parsed_content("device")
    seconds = []
    with torch.no_grad():
        for item in dataset:
            image = item["image"].unsqueeze(0).to(device)
            start = time.perf_counter()
            inferer(image, network)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def training_step_peak_child(overrides: dict[str, Any]) -> None:
    """Subprocess entry: print the peak memory (bytes) of one training iteration on a batch of the train loader."""
    parser = load_config("train.json", overrides)
    network = parser.get_parsed_content("network").train()
    loss_function = parser.get_parsed_content("loss")
    optimizer = parser.get_parsed_content("optimizer")
    batch = next(iter(parser.get_parsed_content("train#dataloader")))
    image, label = batch["image"].as_tensor(), batch["label"].as_tensor()

    def step() -> None:
        optimizer.zero_grad()
        loss_function(network(image), label).backward()
        optimizer.step()

    print(json.dumps({"peak": peak_rss_bytes(step)}))


def training_step_peak_mib(overrides: dict[str, Any]) -> float:
    if torch.cuda.is_available():
        parser = load_config("train.json", overrides)
        network = parser.get_parsed_content("network").train()
        loss_function, optimizer = parser.get_parsed_content("loss"), parser.get_parsed_content("optimizer")
        batch = next(iter(parser.get_parsed_content("train#dataloader")))
        device = parser.get_parsed_content("device")
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        loss_function(network(batch["image"].to(device)), batch["label"].to(device)).backward()
        optimizer.step()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    completed = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(overrides, default=str)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])["peak"] / 2**20


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as Python literals where they are ones (``[48, 48, 48]``, ``2``)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            overrides[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[key] = text
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs to time (the first is a warm-up)")
    parser.add_argument("--quick", action="store_true", help="CI-sized data and network: a smoke run")
    parser.add_argument("--dataset-dir", type=Path, default=REPO_ROOT / "outputs" / "bench_dataset")
    parser.add_argument("--override", nargs="*", default=[], help="bundle config overrides, key=value")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        training_step_peak_child(json.loads(args.child))
        return
    common = {
        "dataset_dir": str(args.dataset_dir.resolve()),
        "num_workers": 0,
        **(QUICK if args.quick else {}),
        **parse_overrides(args.override),
    }
    rows = []
    # the trainer validates at its last epoch and saves models/model.pt, last.pt and logs: not into the bundle
    with tempfile.TemporaryDirectory(prefix="bench_bundle_") as scratch:
        outputs = {name: str(Path(scratch) / name) for name in ("ckpt_dir", "checkpoint_dir", "output_dir")}
        for label, dca in (("DynUNet (parent)", False), ("DCADynUNet", True)):
            overrides = {**common, **outputs, "network_def#dca": dca}
            torch.manual_seed(0)
            its, timed = training_iterations_per_second(overrides, args.epochs)
            infer, peak = inference_seconds_per_volume(overrides), training_step_peak_mib(overrides)
            rows.append((label, its, timed, infer, peak))
    device = ("cuda, " if torch.cuda.is_available() else "") + f"CPU {cpu_model()}, {torch.get_num_threads()} threads"
    settings = {k: v for k, v in common.items() if k != "dataset_dir"}
    print(f"\nbrain_mri_dca_segmentation bundle, {device}, overrides {settings}")
    print(f"{'network':<20}{'train it/s':>12}{'x':>7}{'iters':>7}{'infer s/vol':>13}{'x':>7}{'peak MiB':>10}{'x':>7}")
    base = rows[0]
    for label, its, timed, infer, peak in rows:
        print(
            f"{label:<20}{its:>12.3f}{base[1] / its:>7.2f}{timed:>7}{infer:>13.2f}{infer / base[3]:>7.2f}"
            f"{peak:>10.0f}{peak / base[4]:>7.2f}"
        )
    print("(x: the variant's cost relative to the parent: time per iteration, seconds per volume, memory)")


if __name__ == "__main__":
    main()
