"""Inference time of the brain bundle's network on CPU: PyTorch eager, TorchScript and onnxruntime.

Builds ``network_def`` of ``bundles/brain_mri_dca_segmentation/configs/inference.json`` (random
weights: time does not depend on them), exports it to ONNX exactly as the bundle's
``configs/onnx_export.json`` does (TorchScript-based exporter, dynamic batch and spatial axes) at
a small size, and times one forward pass at ``--size`` (default 96^3, batch 1) with PyTorch eager
(eval, ``no_grad``), ``torch.jit.script`` (what ``ckpt_export`` writes) and onnxruntime's CPU
provider, all with the same number of threads. Times are medians of ``--repeats`` interleaved
``torch.utils.benchmark`` measurements; the table also shows the largest absolute difference from
eager.

    python scripts/bench_onnx.py [--size 96] [--repeats 3] [--threads 2] [--override filters=[8,16,32,64,128]]
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from monai.bundle import ConfigParser
from torch.utils import benchmark

from dca_monai.utils.benchmarking import cpu_model

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "brain_mri_dca_segmentation"


def bundle_network(overrides: dict) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    parser.update(overrides)
    return parser.get_parsed_content("network_def").eval()


def export_onnx(network: torch.nn.Module, path: Path, export_size: int) -> None:
    """Export as ``configs/onnx_export.json`` asks ``monai.bundle onnx_export`` to."""
    kwargs = json.loads((BUNDLE / "configs" / "onnx_export.json").read_text())["converter_kwargs"]
    with torch.no_grad():
        torch.onnx.export(
            network,
            (torch.rand(1, 1, *[export_size] * 3),),
            str(path),
            input_names=kwargs["input_names"],
            output_names=kwargs["output_names"],
            dynamic_axes=kwargs["dynamic_axes"],
            dynamo=kwargs["dynamo"],
        )


def median_seconds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    for run in runs.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            timer = benchmark.Timer(stmt="run()", globals={"run": run}, num_threads=torch.get_num_threads())
            times[name].append(timer.blocked_autorange(min_run_time=1.0).median)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96, help="cubic input size to time (a multiple of 16)")
    parser.add_argument("--export-size", type=int, default=48, help="cubic input size of the ONNX export")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--override", nargs="*", default=[], help="config overrides id=python-literal")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.override)}
    torch.manual_seed(0)
    network = bundle_network(overrides)
    x = torch.rand(1, 1, *[args.size] * 3)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        export_onnx(network, path, args.export_size)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    scripted = torch.jit.script(network)
    inputs = {"image": x.numpy()}

    def eager() -> torch.Tensor:
        with torch.no_grad():
            return network(x)

    def script() -> torch.Tensor:
        with torch.no_grad():
            return scripted(x)

    def ort() -> np.ndarray:
        return session.run(None, inputs)[0]

    reference = eager().numpy()
    runs = {"PyTorch eager": eager, "TorchScript (script)": script, "onnxruntime CPU": ort}
    differences = {"PyTorch eager": 0.0, "TorchScript (script)": float(np.abs(script().numpy() - reference).max())}
    differences["onnxruntime CPU"] = float(np.abs(ort() - reference).max())
    seconds = median_seconds(runs, args.repeats)
    base = seconds["PyTorch eager"]
    print(
        f"\nbrain bundle network_def, input 1x1x{args.size}^3, CPU {cpu_model()}, {args.threads} threads, "
        f"torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, ONNX exported at {args.export_size}^3"
    )
    print(f"{'runtime':<24}{'forward ms':>12}{'x':>7}{'max abs diff':>15}")
    for name, value in seconds.items():
        print(f"{name:<24}{value * 1e3:>12.0f}{value / base:>7.2f}{differences[name]:>15.1e}")


if __name__ == "__main__":
    main()
