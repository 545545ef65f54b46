"""One-command GPU check of the DCA networks: AMP time and memory, SDPA backends, torch.compile, DDP.

    python scripts/gpu_check.py                 # on one CUDA GPU: the full table (about 5 minutes on an H100)
    python scripts/gpu_check.py --cpu-smoke     # the same code paths on the CPU at toy sizes (what CI tests)

For DCADynUNet, DCABasicUNet and DCASwinUNETR against their MONAI parents, at 96^3 and 128^3,
batch 2 (typical widths from ``dca_monai.nets.registry``):

- float16 and bfloat16 autocast forward+backward time (``torch.utils.benchmark`` median) and peak
  memory (``torch.cuda.max_memory_allocated``);
- the scaled-dot-product-attention kernel that actually ran for each attention call (flash,
  efficient, cudnn, math, or explicit GEMMs), seen by a dispatch mode in one DCA forward+backward;
- the ``torch.compile(dynamic=True)`` speed-up of one bfloat16 training step (96^3 only);
- a one-process NCCL group: a bundle's ``network_def`` through ``SyncBatchNorm.convert_sync_batchnorm``
  and ``DistributedDataParallel``, one training step.

The CUDA parts refuse to run without CUDA (``--cpu-smoke`` runs the CPU-sensible ones: the
backend census, autocast steps in bfloat16, compile, a gloo group with DDP; SyncBatchNorm only
converts there, its forward needs a GPU).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils import benchmark
from torch.utils._python_dispatch import TorchDispatchMode

from dca_monai.nets.registry import dca_net_spec

__all__ = ["attention_backends", "bundle_ddp_step", "check_nets", "step_time_and_memory"]

GPU_NETS = ("DCADynUNet", "DCABasicUNet", "DCASwinUNETR")
SDPA_KERNELS = {
    "_scaled_dot_product_flash_attention": "flash",
    "_scaled_dot_product_flash_attention_for_cpu": "flash (cpu)",
    "_scaled_dot_product_efficient_attention": "efficient",
    "_scaled_dot_product_cudnn_attention": "cudnn",
    "_scaled_dot_product_attention_math": "math",
}


class _AttentionCensus(TorchDispatchMode):
    """Counts the SDPA kernels dispatched (forward and backward kernels each count) and the explicit softmaxes."""

    def __init__(self) -> None:
        super().__init__()
        self.kernels: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__.removesuffix("_backward")
        if name in SDPA_KERNELS:
            self.kernels[SDPA_KERNELS[name]] += 1
        elif name == "_softmax" and args[0].dim() == 4 and args[0].shape[-1] == args[0].shape[-2]:
            self.kernels["explicit"] += 1  # explicit spatial scores (B, h, N, N); channel scores are (B, h, C_l, C)
        return func(*args, **(kwargs or {}))


def _first(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (list, tuple)) else output


def _build(name: str, parent: bool, spatial_dims: int = 3) -> nn.Module:
    spec = dca_net_spec(name)
    kwargs = dict(next(kw for kw in spec.typical if kw.get("spatial_dims", 3) == spatial_dims))
    torch.manual_seed(0)
    return (spec.parent if parent else spec.net)(**kwargs)


def _train_step(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> Callable[[], None]:
    def run() -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype):
            out = _first(model(x))
        out.float().pow(2).mean().backward()

    return run


def step_time_and_memory(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> tuple[float, float]:
    """(median ms, peak MiB on CUDA or NaN on CPU) of one autocast forward+backward of ``model`` on ``x``."""
    run = _train_step(model.train(), x, dtype)
    run()
    peak = float("nan")
    if x.is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    seconds = benchmark.Timer("run()", globals={"run": run}).blocked_autorange(min_run_time=0.5).median
    return seconds * 1e3, peak


def attention_backends(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> dict[str, int]:
    """The attention kernels one autocast forward+backward of ``model`` ran, with their call counts."""
    census = _AttentionCensus()
    with census:
        _train_step(model.train(), x, dtype)()
    return dict(census.kernels)


def compile_speedup(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> tuple[float, float]:
    """(eager ms, compiled ms) of one autocast training step, ``torch.compile(dynamic=True)``."""
    compiled = torch.compile(model, dynamic=True)
    eager_ms, _ = step_time_and_memory(model, x, dtype)
    compiled_ms, _ = step_time_and_memory(compiled, x, dtype)
    return eager_ms, compiled_ms


def bundle_ddp_step(device: torch.device, bundle: str = "brain_mri_dca_segmentation") -> str:
    """A one-process group (NCCL on CUDA, gloo on CPU), the bundle's ``network_def`` converted to SyncBatchNorm
    and wrapped in DDP, one training step; returns a one-line summary."""
    from monai.bundle import ConfigParser

    config = Path(__file__).resolve().parents[1] / "bundles" / bundle / "configs" / "train.json"
    parser = ConfigParser()
    parser.read_config(str(config))
    parser["bundle_root"] = str(config.parents[1])
    torch.manual_seed(0)
    network = parser.get_parsed_content("network_def", instantiate=True)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(network))  # converts in place
    sync = sum(isinstance(m, nn.SyncBatchNorm) for m in converted.modules())
    backend = "nccl" if device.type == "cuda" else "gloo"
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group(backend, init_method=f"file://{tmp}/store", rank=0, world_size=1)
        try:
            # SyncBatchNorm's training forward needs a GPU: on CPU the step runs the unconverted network
            module = converted if device.type == "cuda" else network
            ddp = nn.parallel.DistributedDataParallel(
                module.to(device), device_ids=[device.index or 0] if device.type == "cuda" else None
            )
            x = torch.rand(2, parser["in_channels"], *[32] * 3, device=device)
            _first(ddp(x)).float().pow(2).mean().backward()
            grads = [p.grad for p in ddp.parameters() if p.grad is not None]
            finite = all(torch.isfinite(g).all() for g in grads)
        finally:
            dist.destroy_process_group()
    return f"{backend} world 1: {sync} SyncBatchNorm layers, DDP step with {len(grads)} gradients, finite={finite}"


def check_nets(device: torch.device, sizes: list[int], nets: list[str], dtypes: list[torch.dtype], smoke: bool) -> None:
    """Print the table: per network and size, parent and DCA time/memory per dtype, attention kernels, compile."""
    names = {torch.float16: "fp16", torch.bfloat16: "bf16"}
    print(f"{'network':<16}{'size':>6}" + "".join(f"{names[d] + ' ms':>10}{names[d] + ' MiB':>10}" for d in dtypes))
    for name in nets:
        for size in sizes:
            for parent in (True, False):
                model, shape = _build(name, parent), (32,) * 3 if smoke else (size,) * 3
                model = model.to(device)
                x = torch.rand(2, 1, *shape, device=device)
                label = type(model).__name__
                cells = []
                for dtype in dtypes:
                    ms, mib = step_time_and_memory(model, x, dtype)
                    cells.append(f"{ms:>10.0f}{mib:>10.0f}")
                line = f"{label:<16}{'x'.join(map(str, shape)):>6}" + "".join(cells)
                if not parent:
                    line += f"   attention: {attention_backends(model, x, dtypes[-1])}"
                    if size == sizes[0]:
                        eager_ms, compiled_ms = compile_speedup(model, x, dtypes[-1])
                        line += f"; compile {eager_ms:.0f} -> {compiled_ms:.0f} ms ({eager_ms / compiled_ms:.2f}x)"
                print(line, flush=True)
                del model, x
                if device.type == "cuda":
                    torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true", help="CPU, toy sizes, bfloat16 only")
    parser.add_argument("--nets", nargs="+", default=list(GPU_NETS), choices=list(GPU_NETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[96, 128])
    args = parser.parse_args()
    if args.cpu_smoke:
        device, dtypes = torch.device("cpu"), [torch.bfloat16]
    elif not torch.cuda.is_available():
        sys.exit("gpu_check.py: no CUDA device (torch.cuda.is_available() is False); use --cpu-smoke on a CPU")
    else:
        device, dtypes = torch.device("cuda", 0), [torch.float16, torch.bfloat16]
        torch.backends.cudnn.benchmark = True
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke sizes)"
    print(f"torch {torch.__version__}, {where}, batch 2")
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    check_nets(device, args.sizes[:1] if args.cpu_smoke else args.sizes, args.nets, dtypes, args.cpu_smoke)
    print(bundle_ddp_step(device))


if __name__ == "__main__":
    main()
