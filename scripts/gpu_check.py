"""One-command GPU check of the DCA networks: AMP time and memory, SDPA backends, torch.compile, DDP.

    python scripts/gpu_check.py                 # on one CUDA GPU: the full table (about 5 minutes on an H100)
    python scripts/gpu_check.py --cpu-smoke     # the same code paths on the CPU at toy sizes (what CI tests)

For DCADynUNet, DCABasicUNet and DCASwinUNETR against their MONAI parents, at 96^3 and 128^3,
batch 2 (typical widths from ``dca_monai.nets.registry``):

- float16 and bfloat16 autocast forward+backward time (``torch.utils.benchmark`` median) and peak
  memory (``torch.cuda.max_memory_allocated``);
- the scaled-dot-product-attention kernel that actually ran for each attention call (flash,
  efficient, cudnn, math, or explicit GEMMs), seen by a dispatch mode in one DCA forward+backward;
- the ``torch.compile(dynamic=True)`` speed-up of one bfloat16 training step (96^3 only; DCASwinUNETR
  with static shapes, ``STATIC_COMPILE_NETS``);
- one attention stage at DCA's sizes (head size 120, values 8 to 64 wide, the token grids of 96^3 and
  128^3) on each candidate kernel: flash with values padded to the head size against the
  memory-efficient kernel with values padded only to 8, forward+backward time and peak memory, and
  which one ``plan_spatial_attention`` picks (``*``), so the plan's choice can be checked;
- a one-process NCCL group: a bundle's ``network_def`` through ``SyncBatchNorm.convert_sync_batchnorm``
  and ``DistributedDataParallel``, one training step.

The CUDA parts refuse to run without CUDA (``--cpu-smoke`` runs the CPU-sensible ones: the
backend census, autocast steps in bfloat16, compile, a gloo group with DDP; SyncBatchNorm only
converts there, its forward needs a GPU).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch._inductor.config as inductor_config
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils import benchmark
from torch.utils._python_dispatch import TorchDispatchMode

from dca_monai.blocks.attention_dispatch import SDPA_BACKENDS, cuda_aligned, plan_spatial_attention
from dca_monai.blocks.dual_cross_attention import max_grid_cells
from dca_monai.blocks.spatial_cross_attention import MAX_MATERIALISED_SCORES, SpatialCrossAttention
from dca_monai.nets.registry import dca_net_spec

__all__ = [
    "attention_backends",
    "attention_candidates",
    "attention_kernel_choice",
    "bundle_ddp_step",
    "check_nets",
    "step_time_and_memory",
]

GPU_NETS = ("DCADynUNet", "DCABasicUNet", "DCASwinUNETR")
SDPA_KERNELS = {
    "_scaled_dot_product_flash_attention": "flash",
    "_scaled_dot_product_flash_attention_for_cpu": "flash (cpu)",
    "_scaled_dot_product_efficient_attention": "efficient",
    "_scaled_dot_product_cudnn_attention": "cudnn",
}
# --cpu-smoke input size per network (default 32^3): SwinUNETR's bottleneck is the input / 32, and instance norm
# refuses a 1x1x1 one in training
SMOKE_SIZES = {"DCASwinUNETR": 64}
# compiled with static shapes: inductor's dynamic-shape compile of the Swin window partitions did not finish in
# 90 minutes on the CPU, MONAI's SwinUNETR alone too (docs/gpu.md); they train and infer on fixed patches anyway
STATIC_COMPILE_NETS = ("DCASwinUNETR",)
# one DCA spatial attention stage at the paper's widths: C = 480 over 4 heads, values C_l / 4 for C_l = 32..256
CHOICE_HEAD_SIZE = 120
CHOICE_VALUE_SIZES = (8, 16, 32, 64)


class _AttentionCensus(TorchDispatchMode):
    """Counts the SDPA kernels dispatched (fused kernels: forward and backward each count; the composite math
    backend: its forward's softmax) and the explicit path's softmaxes.

    Softmaxes count only while ``counting_softmax`` is set (:func:`attention_backends` sets it inside DCA's
    spatial attention, so a parent's own attention, e.g. SwinUNETR's window attention, is not counted).
    """

    def __init__(self) -> None:
        super().__init__()
        self.kernels: Counter[str] = Counter()
        self.counting_softmax = True

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__.removesuffix("_backward")
        if name in SDPA_KERNELS:
            self.kernels[SDPA_KERNELS[name]] += 1
        elif not self.counting_softmax:
            pass
        elif name == "_safe_softmax":  # SDPA's math backend is composite: only its softmax reaches this mode
            self.kernels["math"] += 1
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


def _time_and_peak(run: Callable[[], None], cuda: bool, min_run_time: float = 0.5) -> tuple[float, float]:
    """(median ms, peak MiB above the memory held before on CUDA, or NaN on CPU) of ``run`` after one warm-up."""
    run()
    peak = float("nan")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    seconds = benchmark.Timer("run()", globals={"run": run}).blocked_autorange(min_run_time=min_run_time).median
    return seconds * 1e3, peak


def step_time_and_memory(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> tuple[float, float]:
    """(median ms, peak MiB on CUDA or NaN on CPU) of one autocast forward+backward of ``model`` on ``x``."""
    return _time_and_peak(_train_step(model.train(), x, dtype), x.is_cuda)


def attention_backends(model: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> dict[str, int]:
    """The kernels one autocast forward+backward of ``model``'s DCA spatial attention ran, with their counts."""
    census = _AttentionCensus()
    census.counting_softmax = False

    def enter(*_: Any) -> None:
        census.counting_softmax = True

    def leave(*_: Any) -> None:
        census.counting_softmax = False

    stages = [module for module in model.modules() if isinstance(module, SpatialCrossAttention)]
    handles = [
        hook(callback)
        for m in stages
        for hook, callback in ((m.register_forward_pre_hook, enter), (m.register_forward_hook, leave))
    ]
    try:
        with census:
            _train_step(model.train(), x, dtype)()
    finally:
        for handle in handles:
            handle.remove()
    return dict(census.kernels)


def compile_speedup(model: nn.Module, x: torch.Tensor, dtype: torch.dtype, dynamic: bool = True) -> tuple[float, float]:
    """(eager ms, compiled ms) of one autocast training step, ``torch.compile(dynamic=dynamic)``."""
    compiled = torch.compile(model, dynamic=dynamic)
    eager_ms, _ = step_time_and_memory(model, x, dtype)
    compiled_ms, _ = step_time_and_memory(compiled, x, dtype)
    return eager_ms, compiled_ms


def attention_candidates(
    device_type: str, dtype: torch.dtype, head_size: int, value_size: int
) -> dict[str, tuple[SDPBackend, int]]:
    """The SDPA kernels one DCA attention stage could run on, each with the value width it is given.

    CUDA: the memory-efficient kernel with values padded only to a multiple of 8 against flash (half
    precision) or the memory-efficient kernel (float32) with values padded to the query head size.
    CPU (smoke runs): its flash kernel with padded values against the math backend with narrow ones.
    """
    narrow = cuda_aligned(value_size)
    if device_type != "cuda":
        return {"flash, padded": (SDPBackend.FLASH_ATTENTION, head_size), "math, narrow": (SDPBackend.MATH, value_size)}
    padded = (SDPBackend.EFFICIENT_ATTENTION if dtype == torch.float32 else SDPBackend.FLASH_ATTENTION, head_size)
    label = "efficient, padded" if dtype == torch.float32 else "flash, padded"
    return {label: padded, "efficient, narrow": (SDPBackend.EFFICIENT_ATTENTION, narrow)}


def attention_kernel_choice(
    device: torch.device, dtype: torch.dtype, tokens: int, value_size: int, batch: int = 2, heads: int = 4
) -> str:
    """One line: forward+backward ms and peak MiB of one DCA attention stage on each candidate kernel.

    Queries and keys ``(batch, heads, tokens, 120)``, values ``(batch, heads, tokens, value_size)`` in
    ``dtype``; values are zero-padded to the candidate's width and the output sliced back (exact).
    ``*`` marks the candidate :func:`~dca_monai.blocks.attention_dispatch.plan_spatial_attention`
    picks; the kernel that really ran is confirmed by the dispatch census, and a kernel that refuses
    the sizes is reported, not fatal.
    """
    head_size = CHOICE_HEAD_SIZE
    generator = torch.Generator(device=device).manual_seed(0)
    q, k = (
        torch.randn(batch, heads, tokens, head_size, device=device, dtype=dtype, generator=generator).requires_grad_()
        for _ in range(2)
    )
    v = torch.randn(batch, heads, tokens, value_size, device=device, dtype=dtype, generator=generator).requires_grad_()
    grad = torch.randn(batch, heads, tokens, value_size, device=device, dtype=dtype, generator=generator)
    plan = plan_spatial_attention(
        device.type, dtype, batch, heads, tokens, head_size, value_size, MAX_MATERIALISED_SCORES
    )
    cells = []
    for label, (backend, width) in attention_candidates(device.type, dtype, head_size, value_size).items():

        def run(backend: SDPBackend = backend, width: int = width) -> None:
            with sdpa_kernel([backend]):
                out = F.scaled_dot_product_attention(q, k, F.pad(v, [0, width - value_size]), scale=head_size**-0.5)
            out[..., :value_size].backward(grad)

        census = _AttentionCensus()
        try:
            with census:
                run()
        except RuntimeError as error:
            cells.append(f"{label}: unavailable ({str(error).splitlines()[0][:80]})")
            continue
        ms, mib = _time_and_peak(run, device.type == "cuda", min_run_time=0.2)
        picked = plan.path == "fused" and SDPA_BACKENDS[plan.backends[0]] == backend and plan.value_size == width
        ran = "+".join(sorted(census.kernels))
        cells.append(f"{label}{'*' if picked else ''} [{ran}] {ms:.2f} ms {mib:.0f} MiB")
    name = str(dtype).removeprefix("torch.")
    return f"attention {name:<9} N={tokens:<5} values {value_size:<3}: " + " | ".join(cells)


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
                model, shape = _build(name, parent), (SMOKE_SIZES.get(name, 32),) * 3 if smoke else (size,) * 3
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
                        dynamic = name not in STATIC_COMPILE_NETS
                        eager_ms, compiled_ms = compile_speedup(model, x, dtypes[-1], dynamic)
                        line += (
                            f"; compile(dynamic={dynamic}) {eager_ms:.0f} -> {compiled_ms:.0f} ms "
                            f"({eager_ms / compiled_ms:.2f}x)"
                        )
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
    if device.type == "cpu":  # a 2-core machine compiles in this process; a GPU host keeps inductor's worker pool
        inductor_config.compile_threads = 1  # (its environment variable is read when torch imports, too late here)
    check_nets(device, args.sizes[:1] if args.cpu_smoke else args.sizes, args.nets, dtypes, args.cpu_smoke)
    # one attention stage per kernel; the token grid of BasicUNet's coarsest skip (size / 8, at most 16 per axis)
    for dtype in dtypes + ([torch.float32] if device.type == "cuda" else []):
        for size in args.sizes[:1] if args.cpu_smoke else args.sizes:
            tokens = min((32 if args.cpu_smoke else size) // 8, max_grid_cells(3)) ** 3
            for value_size in CHOICE_VALUE_SIZES[:2] if args.cpu_smoke else CHOICE_VALUE_SIZES:
                print(attention_kernel_choice(device, dtype, tokens, value_size), flush=True)
    print(bundle_ddp_step(device))


if __name__ == "__main__":
    main()
