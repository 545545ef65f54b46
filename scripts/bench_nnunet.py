"""Benchmark nnU-Net's planned network with and without DCA: forward+backward time and peak memory.

Runs in the nnU-Net environment (``bash scripts/setup_nnunet.sh``), from any folder::

    .venv-nnunet/bin/python scripts/bench_nnunet.py                   # plans the embedded CT dataset
    .venv-nnunet/bin/python scripts/bench_nnunet.py --repeats 1 --warmup 0 --patches planned 56x56x64
    .venv-nnunet/bin/python scripts/bench_nnunet.py --plans nnUNet_preprocessed/DatasetXXX/nnUNetPlans.json
        [--configuration 3d_fullres] [--batch-size 2] [--dca-args '{"token_pool": 2}'] [--profile 15]

Without ``--plans`` the embedded CT dataset (``dca_monai.apps.ct_organ_dataset``) is converted and
planned with nnU-Net's default planner (fingerprint and plans only, no preprocessing) in a temporary
folder. Both networks come from the trainers' ``build_network_architecture`` (``nnUNetTrainer`` and
``nnUNetTrainerDCA``) with the same seed, deep supervision on, at the planned batch size and at each
of ``--patches``: ``planned`` (the plans' patch size, what nnU-Net trains on) or a reduced patch such
as ``56x56x64`` (the same network on a smaller input, for a slow CPU; the table says which is which).

A step is a forward in train mode, a loss summing the mean squares of all deep supervision outputs,
and backward. Time: the median of ``--repeats`` interleaved measurements (plain, DCA, plain, ...)
after ``--warmup`` steps each, on ``--threads`` CPU threads. The first plain warm-up step (run even with
``--warmup 0``) decides how: a step of more than a second is timed alone, one call per measurement,
faster ones with ``torch.utils.benchmark``. Peak memory:
on CUDA ``max_memory_allocated``; on CPU the peak resident set of a fresh subprocess during one
step, above its resident set before it. ``--profile N`` also prints the N operators that take the
most time in one DCA step and the DCA block's own share (``torch.profiler``).

On CPU, glibc's allocator hands large tensors back to the system when they are freed, so every step
faults its activations in again (system time; on this project's 2-core machine about half of a plain
nnU-Net step). ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000`` in the environment keeps
them for the timed steps (the header prints these settings); the peak memory subprocesses always run
with glibc's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset
from dca_monai.nnunet import datalist_to_nnunet_raw
from dca_monai.utils.benchmarking import cpu_model, interleaved_medians
from dca_monai.utils.peak_rss import peak_rss_bytes

VARIANTS = ("plain", "dca")


def plan_ct_dataset(folder: Path) -> Path:
    """Convert and plan the embedded CT dataset under ``folder``; the plans file."""
    datalist = build_ct_organ_dataset(folder / "ct", num_train=4, num_val=1)
    datalist_to_nnunet_raw(datalist, folder / "raw", 501, "CTOrgans")
    env = {**os.environ, "nnUNet_raw": str(folder / "raw"), "nnUNet_preprocessed": str(folder / "preprocessed")}
    command = [str(Path(sys.executable).parent / "nnUNetv2_plan_and_preprocess"), "-d", "501", "-c", "3d_fullres"]
    done = subprocess.run([*command, "--no_pp", "-npfp", "1"], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return folder / "preprocessed" / "Dataset501_CTOrgans" / "nnUNetPlans.json"


def channels(plans_file: Path) -> tuple[int, int]:
    """Input channels and outputs, from the ``dataset.json`` beside the plans (nnU-Net's layout); else 1 and 2."""
    dataset_json = plans_file.with_name("dataset.json")
    if not dataset_json.is_file():
        return 1, 2
    dataset = json.loads(dataset_json.read_text())
    return len(dataset["channel_names"]), len(dataset["labels"])


def build(variant: str, plans_file: Path, configuration: str, dca_args: dict) -> tuple[nn.Module, list[int], int]:
    """The planned network (``"plain"`` or ``"dca"``), its planned patch size and batch size."""
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


def parse_patch(text: str, planned: list[int]) -> list[int]:
    """``"planned"`` or sizes joined by ``x`` (``56x56x64``), as many as the planned patch has axes."""
    if text == "planned":
        return list(planned)
    try:
        patch = [int(size) for size in text.split("x")]
    except ValueError:
        patch = []
    if len(patch) != len(planned) or min(patch) < 1:
        raise ValueError(f"--patches {text!r} but 'planned' or {len(planned)} sizes like {'x'.join(map(str, planned))}")
    return patch


def training_step(network: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One training step of ``network`` on ``x`` ``(B, C_in, *S)``: forward, the deep supervision loss, backward."""

    def run() -> None:
        network.train()
        network.zero_grad(set_to_none=True)
        outputs = network(x)
        sum(output.float().pow(2).mean() for output in outputs).backward()

    return run


def peak_memory_mib(spec: dict, device: torch.device) -> float:
    """Peak memory of one step of ``spec``'s network (see the module docstring), in MiB."""
    if device.type == "cuda":
        network, _, _ = build(spec["variant"], Path(spec["plans"]), spec["configuration"], spec["dca_args"])
        x = torch.rand(spec["batch"], channels(Path(spec["plans"]))[0], *spec["patch"], device=device)
        step = training_step(network.to(device), x)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}  # glibc's defaults
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"peak memory subprocess for {spec} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["peak"] / 2**20


def child(spec: dict) -> None:
    """Subprocess entry: print the peak resident memory (bytes) of one step."""
    network, _, _ = build(spec["variant"], Path(spec["plans"]), spec["configuration"], spec["dca_args"])
    step = training_step(network, torch.rand(spec["batch"], channels(Path(spec["plans"]))[0], *spec["patch"]))
    print(json.dumps({"peak": peak_rss_bytes(step)}))


def profile_dca_step(network: nn.Module, x: torch.Tensor, rows: int) -> None:
    """Print the ``rows`` operators with the most self CPU time in one DCA step, and the DCA block's share."""
    from torch.profiler import ProfilerActivity, profile, record_function

    dca = network.dca
    original = dca.forward

    def labelled(skips: list[torch.Tensor]) -> list[torch.Tensor]:
        with record_function("DualCrossAttention.forward"):
            return original(skips)

    dca.forward = labelled
    step = training_step(network, x)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.is_cuda else [])
    try:
        start = time.perf_counter()
        with profile(activities=activities) as prof:
            step()
            if x.is_cuda:
                torch.cuda.synchronize(x.device)
        seconds = time.perf_counter() - start
    finally:
        del dca.forward
    events = prof.key_averages()
    block = next((e.cpu_time_total for e in events if e.key == "DualCrossAttention.forward"), 0.0) / 1e6
    print(f"\nprofile of one DCA step at patch {list(x.shape[2:])} ({seconds:.2f} s under the profiler):")
    print(f"DCA block forward: {block:.3f} s CPU time ({100 * block / seconds:.1f} % of the step; backward in the ops)")
    print(events.table(sort_by="self_cuda_time_total" if x.is_cuda else "self_cpu_time_total", row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=Path, help="an nnU-Net plans file; the embedded CT dataset's by default")
    parser.add_argument("--configuration", default="3d_fullres")
    parser.add_argument("--batch-size", type=int, help="the plans' batch size by default")
    parser.add_argument(
        "--patches", nargs="+", default=["planned"], help="'planned' and/or reduced patches like 56x56x64"
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved measurements per network (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per network before measuring")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="CPU threads (torch.set_num_threads)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak memory subprocesses")
    parser.add_argument("--no-time", action="store_true", help="skip the timed steps (peak memory only)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N slowest ops of a DCA step")
    parser.add_argument("--dca-args", type=json.loads, default={}, help="nnUNetTrainerDCA.dca_args, as JSON")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    malloc = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_")) or "default"
    print(
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {cpu_model()}; torch {torch.__version__}; "
        f"{args.threads} threads; device {device}; load average {load}; glibc malloc settings: {malloc}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        plans_file = args.plans or plan_ct_dataset(Path(folder))
        built = {v: build(v, plans_file, args.configuration, args.dca_args) for v in VARIANTS}
        planned, batch = built["plain"][1], args.batch_size or built["plain"][2]
        patches = [parse_patch(text, planned) for text in args.patches]
        print(
            f"{plans_file.name} {args.configuration}: {type(built['plain'][0].encoder).__name__} stages "
            f"{built['plain'][0].encoder.output_channels}, planned patch {planned}, batch {batch}; DCA on skips "
            f"{built['dca'][0].dca.skip_channels}, dca_args {args.dca_args}; "
            + ("not timed" if args.no_time else f"{args.repeats} repeats after {args.warmup} warm-up step(s)"),
            flush=True,
        )
        spec = {"plans": str(plans_file), "configuration": args.configuration, "batch": batch}
        memory = {}  # before any step here, so that this process holds no activations while a subprocess runs
        for patch in [] if args.no_memory else patches:
            specs = [{**spec, "patch": patch, "variant": v, "dca_args": args.dca_args} for v in VARIANTS]
            plain_mib, dca_mib = memory[tuple(patch)] = [peak_memory_mib(one, device) for one in specs]
            print(f"peak memory at patch {patch}: plain {plain_mib:.0f} MiB, DCA {dca_mib:.0f} MiB", flush=True)
        networks = [built[v][0].to(device) for v in VARIANTS]
        seconds = {}
        for patch in [] if args.no_time else patches:
            x = torch.rand(batch, channels(plans_file)[0], *patch, device=device)
            steps = [training_step(network, x) for network in networks]
            start = time.perf_counter()
            steps[0]()  # the first plain warm-up step decides how to time: one call per measurement if slow
            slow = time.perf_counter() - start > 1.0
            if args.warmup:
                steps[1]()
            warmup = max(args.warmup - 1, 0)
            plain_s, dca_s = seconds[tuple(patch)] = interleaved_medians(
                steps, args.repeats, device, 0 if slow else 0.2, warmup, args.threads
            )
            print(f"time at patch {patch}: plain {plain_s:.3f} s, DCA {dca_s:.3f} s", flush=True)
            if args.profile:
                profile_dca_step(networks[1], x, args.profile)
            del x, steps
    print(f"\nDCA / plain, forward+backward at batch {batch} ({args.configuration}, planned patch {planned}):")
    header = ("patch", "plain s", "DCA s", "time ratio", "plain MiB", "DCA MiB", "memory ratio")
    print(f"{header[0]:<22}" + "".join(f"{h:>13}" for h in header[1:]))
    for patch in patches:
        plain_s, dca_s = seconds.get(tuple(patch), (float("nan"),) * 2)
        plain_mib, dca_mib = memory.get(tuple(patch), (float("nan"),) * 2)
        label = "x".join(map(str, patch)) + (" planned" if patch == planned else " reduced")
        cells = [f"{plain_s:.3f}", f"{dca_s:.3f}", f"{dca_s / plain_s:.3f}"]
        cells += [f"{plain_mib:.0f}", f"{dca_mib:.0f}", f"{dca_mib / plain_mib:.3f}"]
        print(f"{label:<22}" + "".join(f"{cell:>13}" for cell in cells))


if __name__ == "__main__":
    main()
