"""Benchmark DCA networks against their parents: parameters, FLOPs, time and peak memory.

Prints one table per case, parent and DCA variants measured in the same run with interleaved
repeats (ABAB...), so the ratios compare like with like on a noisy machine:

    python scripts/bench_dca.py                      # every case, BasicUNet and DynUNet
    python scripts/bench_dca.py --cases 2d224 --repeats 3
    python scripts/bench_dca.py --block-memory-only  # DCA block at 3D 128^3: fused SDPA vs naive attention
    python scripts/bench_dca.py --pooling-only       # token pooling: averaging matrices vs adaptive pooling
    python scripts/bench_dca.py --tail               # fused vs unfused residual + batch norm + ReLU
    python scripts/bench_dca.py --upsampling-only    # separable_upsample vs F.interpolate
    python scripts/bench_dca.py --token-budget       # automatic token_pool vs the paper's grid, 3D 128^3 and 192^3
    python scripts/bench_dca.py --gemms              # every GEMM of the DCA block: layout, subnormals, GFLOP/s
    python scripts/bench_dca.py --bf16 --cases 2d224  # bfloat16 autocast vs float32 step time on the CPU
    python scripts/bench_dca.py --cases 2d224 --onednn-matmul  # also: the DCA net with its GEMMs on oneDNN
    python scripts/bench_dca.py --gemms --onednn-matmul  # the GEMM table on both routes
    python scripts/bench_dca.py --quick --repeats 1  # any of the above at toy sizes, in seconds (a smoke run)

Time: ``torch.utils.benchmark`` (``blocked_autorange``), the median over ``--repeats`` interleaved
measurements after one warm-up; forward in eval mode under ``no_grad``, forward+backward in train
mode. FLOPs: ``torch.utils.flop_counter`` (forward), with CPU flash attention counted. Peak
memory: on CUDA ``max_memory_allocated``; on CPU the peak resident set of a fresh subprocess during
one forward+backward, above its resident set just before (``dca_monai.utils.peak_rss``).

``--onednn-matmul`` adds a row per DCA variant, the same network timed with its float32 matrix
products on oneDNN (``dca_monai.utils.benchmarking.onednn_matmul``) instead of ATen's default BLAS
(with ``--gemms``: a second GEMM table on that route); only where that keeps float32 on this CPU
(checked first; skipped with a message otherwise). On the project's AMD EPYC, MKL's ``sgemm`` ran at
about half oneDNN's rate; the row shows what such a gap costs DCA.

``--quick`` swaps every size for a toy one (the ``QUICK_*`` tables: cases ``2d32`` and ``3d32``,
the DCA block at 32^3, ...): the same code paths and tables in seconds, to check that the script
runs; its figures say nothing about the full sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import subprocess
import sys
import unittest.mock
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from dca_monai.blocks import DualCrossAttention
from dca_monai.blocks.separable_pool import separable_average_pool
from dca_monai.blocks.separable_upsample import separable_upsample
from dca_monai.nets.registry import DCA_NETS, dca_net_spec
from dca_monai.utils.attention_gemms import print_gemm_table, record_gemms
from dca_monai.utils.benchmarking import cpu_model, interleaved_medians, onednn_matmul, onednn_matmul_keeps_float32
from dca_monai.utils.peak_rss import peak_rss_bytes

CASES = {
    # name: (spatial_dims, size, batch)
    "2d224": (2, 224, 2),
    "2d512": (2, 512, 2),
    "3d96": (3, 96, 1),
    "3d128": (3, 128, 1),
}
QUICK_CASES = {"2d32": (2, 32, 2), "3d32": (3, 32, 1)}
# the DCA nets of the table with a typical configuration in 2D and in 3D
BENCH_NETS = [spec.name for spec in DCA_NETS if {2, 3} <= {kw.get("spatial_dims", 3) for kw in spec.typical}]


@dataclass
class Variant:
    label: str
    build: Callable[[], nn.Module]
    onednn: bool = False  # timed with float32 matmuls on oneDNN (--onednn-matmul)


def variants(net: str, spatial_dims: int, case: str, onednn: bool = False) -> list[Variant]:
    """Parent first, then its DCA variants (the paper's token grid; ``token_pool=2`` at 2D 512).

    ``onednn``: after each DCA variant, the same network again, to be timed with :func:`onednn_matmul`.
    """
    spec = dca_net_spec(net)
    kwargs = next(kw for kw in spec.typical if kw.get("spatial_dims", 3) == spatial_dims)
    pools = [1, 2] if case == "2d512" else [1]
    parent, variant = spec.parent, spec.net
    out = [Variant(parent.__name__, lambda: parent(**kwargs))]
    for pool in pools:
        label = variant.__name__ + (f" pool{pool}" if pool > 1 else "")
        build = partial(variant, **kwargs, dca_args={"token_pool": pool})
        out.append(Variant(label, build))
        if onednn:
            out.append(Variant(label + " oneDNN", build, onednn=True))
    return out


def _on_onednn(run: Callable[[], None]) -> Callable[[], None]:
    def wrapped() -> None:
        with onednn_matmul():
            run()

    return wrapped


def _flash_cpu_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _flash_cpu_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


FLOP_MAPPING = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _flash_cpu_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _flash_cpu_backward_flops,
}


def forward_flops(model: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False, custom_mapping=FLOP_MAPPING) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def _forward(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        model.eval()
        with torch.no_grad():
            model(x)

    return run


def _forward_backward(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        out = model(x)
        (out[0] if isinstance(out, (list, tuple)) else out).float().pow(2).mean().backward()

    return run


def peak_memory_child(spec: dict) -> None:
    """Subprocess entry: print the peak memory (bytes) of one forward+backward, or of the block."""
    torch.manual_seed(0)
    if spec["kind"] == "net":
        chosen = variants(spec["net"], spec["spatial_dims"], spec["case"], spec["onednn"])[spec["index"]]
        x = torch.rand(spec["batch"], 1, *[spec["size"]] * spec["spatial_dims"])
        run = _forward_backward(chosen.build(), x)
        run = _on_onednn(run) if chosen.onednn else run
    elif spec["kind"] == "tail":
        spatial_dims, size, batch, channels = spec["geometry"]
        run = tail_block_work((spatial_dims, size, batch, tuple(channels)), spec["fused"])
    elif spec["kind"] == "budget":
        run = budget_block_work(spec["size"], spec["pool"], train=True)
    else:
        model, skips = block_and_skips(spec["size"])
        run = block_work(model, skips, spec["mode"], spec["naive"])
    print(json.dumps({"peak": peak_rss_bytes(run)}))


def peak_memory(spec: dict, device: torch.device, build: Callable[[], Callable[[], None]]) -> float:
    """Peak memory in MiB of one forward+backward."""
    if device.type == "cuda":
        run = build()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        run()
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak"] / 2**20


def bench_case(
    net: str, case: str, geometry: tuple[int, int, int], repeats: int, device: torch.device, onednn: bool = False
) -> None:
    """Parent and DCA variants of ``net`` on the input ``geometry`` = (spatial_dims, size, batch) of ``case``.

    ``onednn``: each DCA variant also timed with its float32 matmuls on oneDNN (a row ``... oneDNN``).
    """
    spatial_dims, size, batch = geometry
    x = torch.rand(batch, 1, *[size] * spatial_dims, device=device)
    rows = []
    models = []
    chosen = variants(net, spatial_dims, case, onednn)
    for variant in chosen:
        if variant.onednn:  # the DCA variant just built, timed again on the other route
            models.append(models[-1])
            continue
        torch.manual_seed(0)
        models.append(variant.build().to(device))

    def timing(step: Callable[[nn.Module, torch.Tensor], Callable[[], None]]) -> list[Callable[[], None]]:
        return [_on_onednn(step(m, x)) if v.onednn else step(m, x) for v, m in zip(chosen, models)]

    fwd_times = interleaved_medians(timing(_forward), repeats, device)
    train_times = interleaved_medians(timing(_forward_backward), repeats, device)
    for i, (variant, model) in enumerate(zip(chosen, models)):
        spec = {"kind": "net", "net": net, "case": case, "index": i, "spatial_dims": spatial_dims}
        spec.update({"size": size, "batch": batch, "onednn": onednn})
        mem = peak_memory(spec, device, lambda model=model: _forward_backward(model, x))
        params = sum(p.numel() for p in model.parameters())
        rows.append(
            (
                variant.label,
                params,
                forward_flops(model, x) / 1e9,
                fwd_times[i] * 1e3,
                train_times[i] * 1e3,
                mem,
            )
        )
    base = rows[0]
    print(f"\n{case} ({'x'.join([str(size)] * spatial_dims)}, batch {batch}, {device.type}, {repeats} repeats)")
    header = f"{'model':<20}{'params':>12}{'+%':>7}{'GFLOP fwd':>11}{'x':>6}"
    header += f"{'fwd ms':>10}{'x':>6}{'fwd+bwd ms':>12}{'x':>6}{'peak MiB':>10}{'x':>6}"
    print(header)
    for label, params, flops, fwd, train, mem in rows:
        print(
            f"{label:<20}{params:>12,}{100 * (params / base[1] - 1):>7.2f}{flops:>11.2f}{flops / base[2]:>6.2f}"
            f"{fwd:>10.0f}{fwd / base[3]:>6.2f}{train:>12.0f}{train / base[4]:>6.2f}{mem:>10.0f}{mem / base[5]:>6.2f}"
        )
    sys.stdout.flush()


def block_and_skips(size: int) -> tuple[DualCrossAttention, list[torch.Tensor]]:
    """The 3D DCA block of the benchmark nets' widths (skips 32..256) and matching skips."""
    channels = [32, 64, 128, 256]
    skips = [torch.rand(1, c, *[size // 2**i] * 3) for i, c in enumerate(channels)]
    return DualCrossAttention(3, channels), skips


# input size of the DCA block alone in the peak memory table (--block-memory-only)
BLOCK_MEMORY_SIZE = 128
QUICK_BLOCK_MEMORY_SIZE = 32

BLOCK_MODES = {
    "train": "whole block, forward+backward",
    "infer": "whole block, forward (eval, no_grad)",
    "attention": "spatial cross-attention alone, forward+backward",
}


def block_work(model: DualCrossAttention, skips: list[torch.Tensor], mode: str, naive: bool) -> Callable[[], None]:
    """One measured step of the block; ``naive`` forces SDPA's math backend, which materialises the scores.

    The loss is a plain sum, so backward adds no skip-sized buffers of its own.
    """
    spatial = model.blocks[0].spatial_attention
    spatial.max_materialised_scores = 0  # compare the fused kernel with the naive one at any size
    tokens = torch.rand(1, model.token_grid(skips)[0] ** 3, sum(model.skip_channels), requires_grad=True)

    def run() -> None:
        with sdpa_kernel([SDPBackend.MATH]) if naive else contextlib.nullcontext():
            if mode == "infer":
                with torch.no_grad():
                    model.eval()(skips)
            elif mode == "train":
                sum(o.sum() for o in model.train()(skips)).backward()
            else:
                spatial(tokens).sum().backward()

    return run


def bench_block_memory(size: int, device: torch.device) -> None:
    tokens = (size // 8) ** 3
    print(f"\nDCA block alone, 3D {size}^3 skips (32..256 channels, {tokens} tokens): peak memory, MiB")
    print(f"{'what':<50}{'fused SDPA (ours)':>19}{'naive (math)':>14}{'ratio':>8}")
    for mode, title in BLOCK_MODES.items():
        results = {}
        for naive in (False, True):
            spec = {"kind": "block", "size": size, "naive": naive, "mode": mode}

            def build(naive: bool = naive, mode: str = mode) -> Callable[[], None]:
                model, skips = block_and_skips(size)
                return block_work(model.to(device), [s.to(device) for s in skips], mode, naive)

            results[naive] = peak_memory(spec, device, build)
        print(f"{title:<50}{results[False]:>19.0f}{results[True]:>14.0f}{results[False] / results[True]:>8.3f}")


POOLING_CASES = {
    # name: (spatial_dims, size, batch, skip channels fine to coarse): the skips of the benchmark's BasicUNets
    "2d224": (2, 224, 2, (32, 64, 128, 256)),
    "3d96": (3, 96, 1, (32, 64, 128, 256)),
}
QUICK_POOLING_CASES = {"2d32": (2, 32, 2, (32, 64, 128, 256)), "3d32": (3, 32, 1, (32, 64, 128, 256))}


class MatrixPooledDCA(DualCrossAttention):
    """The DCA block with its eager token pooling replaced by the per-axis averaging matrices."""

    def _pool(self, skip: torch.Tensor, grid: list[int]) -> torch.Tensor:
        return separable_average_pool(skip, grid)


def bench_pooling(repeats: int, cases: Mapping[str, tuple[int, int, int, tuple[int, ...]]]) -> None:
    """Token pooling, per-axis averaging matrices (what traced/exported graphs use) vs adaptive pooling.

    Times with ``torch.utils.benchmark`` (median of ``repeats`` measurements, each ``blocked_autorange``)
    the pooling of all four skips to the token grid, forward+backward, and the whole DCA block with each
    pooling, forward+backward (train mode).
    """
    cpu = torch.device("cpu")
    print(f"\nToken pooling to the coarsest skip's grid, forward+backward, CPU, {torch.get_num_threads()} threads")
    print(f"{'case':<28}{'adaptive ms':>13}{'matrices ms':>13}{'x':>7}")
    for case, (spatial_dims, size, batch, channels) in cases.items():
        shapes = [(batch, c, *[size // 2**i] * spatial_dims) for i, c in enumerate(channels)]
        skips = [torch.rand(*shape, requires_grad=True) for shape in shapes]
        grid = [size // 2 ** (len(channels) - 1)] * spatial_dims
        adaptive = F.adaptive_avg_pool2d if spatial_dims == 2 else F.adaptive_avg_pool3d

        def pool_all(pool: Callable[[torch.Tensor, list[int]], torch.Tensor], skips=skips, grid=grid) -> None:
            sum(pool(skip, grid).sum() for skip in skips).backward()

        torch.manual_seed(0)
        blocks = {"adaptive": DualCrossAttention(spatial_dims, channels)}
        blocks["matrices"] = MatrixPooledDCA(spatial_dims, channels)
        blocks["matrices"].load_state_dict(blocks["adaptive"].state_dict())

        def block_step(block: DualCrossAttention, skips=skips) -> None:
            sum(o.sum() for o in block.train()(skips)).backward()

        rows = {
            "pooling of the 4 skips": (
                partial(pool_all, adaptive),
                partial(pool_all, separable_average_pool),
            ),
            "whole DCA block": (partial(block_step, blocks["adaptive"]), partial(block_step, blocks["matrices"])),
        }
        for what, (run_adaptive, run_matrices) in rows.items():
            a, m = (t * 1e3 for t in interleaved_medians([run_adaptive, run_matrices], repeats, cpu, 0.5))
            label = f"{case} {what}"
            print(f"{label:<28}{a:>13.1f}{m:>13.1f}{m / a:>7.2f}")
        sys.stdout.flush()


def set_fused_tail(model: nn.Module, fused: bool) -> nn.Module:
    """Switch every DCA block in ``model`` to the fused (or the ``output_adn`` modules') residual, norm and ReLU."""
    for module in model.modules():
        if isinstance(module, DualCrossAttention):
            module.fused_tail = fused
    return model


def tail_block_work(geometry: tuple[int, int, int, tuple[int, ...]], fused: bool) -> Callable[[], None]:
    """One forward+backward (train mode) of the DCA block on the skips of a ``POOLING_CASES`` geometry."""
    spatial_dims, size, batch, channels = geometry
    torch.manual_seed(0)
    skips = [torch.rand(batch, c, *[size // 2**i] * spatial_dims, requires_grad=True) for i, c in enumerate(channels)]
    block = set_fused_tail(DualCrossAttention(spatial_dims, channels), fused)

    def run() -> None:
        sum(o.sum() for o in block.train()(skips)).backward()
        for skip in skips:
            skip.grad = None

    return run


def bench_tail(repeats: int, cases: Mapping[str, tuple[int, int, int, tuple[int, ...]]]) -> None:
    """The DCA block's residual + batch norm + ReLU: fused autograd step vs the ``output_adn`` modules, same run.

    Per case (the skips of the benchmark's BasicUNets): the block alone, forward+backward time and peak
    memory (fresh subprocess); then BasicUNet vs DCABasicUNet forward+backward with each tail.
    """
    cpu = torch.device("cpu")
    print(
        f"\nDCA tail, fused vs unfused (output_adn modules), forward+backward, CPU, {torch.get_num_threads()} threads"
    )
    print(f"{'case':<34}{'unfused':>11}{'fused':>11}{'fused/unfused':>15}")
    for case, geometry in cases.items():
        spatial_dims, size, batch, _ = geometry
        work = [tail_block_work(geometry, True), tail_block_work(geometry, False)]
        fused, unfused = interleaved_medians(work, repeats, cpu)
        print(f"{case + ' DCA block ms':<34}{unfused * 1e3:>11.1f}{fused * 1e3:>11.1f}{fused / unfused:>15.3f}")
        memory = [
            peak_memory({"kind": "tail", "geometry": geometry, "fused": f}, cpu, lambda: None) for f in (False, True)
        ]
        print(f"{case + ' DCA block peak MiB':<34}{memory[0]:>11.0f}{memory[1]:>11.0f}{memory[1] / memory[0]:>15.3f}")
        parent, dca = variants("DCABasicUNet", spatial_dims, case)[:2]
        torch.manual_seed(0)
        models = [parent.build(), set_fused_tail(dca.build(), True)]  # the fused tail is opt-in
        models.append(set_fused_tail(copy.deepcopy(models[1]), False))
        x = torch.rand(batch, 1, *[size] * spatial_dims)
        parent_t, fused_t, unfused_t = interleaved_medians([_forward_backward(m, x) for m in models], repeats, cpu)
        print(
            f"{case + ' DCABasicUNet / BasicUNet':<34}{unfused_t / parent_t:>10.3f}x{fused_t / parent_t:>10.3f}x"
            f"{fused_t / unfused_t:>15.3f}   (BasicUNet {parent_t * 1e3:.0f} ms)"
        )
        sys.stdout.flush()


# name: (spatial_dims, batch, channels, token grid size, skip size): the finest stage of the benchmark nets
UPSAMPLING_CASES = {"2D 14^2 -> 224^2": (2, 2, 32, 14, 224), "3D 12^3 -> 96^3": (3, 1, 32, 12, 96)}
QUICK_UPSAMPLING_CASES = {"2D 4^2 -> 32^2": (2, 2, 32, 4, 32), "3D 4^3 -> 32^3": (3, 1, 32, 4, 32)}


def bench_upsampling(repeats: int, cases: Mapping[str, tuple[int, int, int, int, int]]) -> None:
    """Upsampling the token grid to the finest skip: ``separable_upsample`` vs ``F.interpolate``, fwd+bwd.

    Both compute the same (bi/tri)linear, ``align_corners=True`` weights; times with
    ``torch.utils.benchmark`` (median of ``repeats`` interleaved measurements).
    """
    cpu = torch.device("cpu")
    print(f"\nUpsampling, align_corners=True, forward+backward, CPU, {torch.get_num_threads()} threads")
    print(f"{'case':<22}{'interpolate ms':>16}{'separable ms':>14}{'x':>7}{'max |diff|':>12}")
    for case, (spatial_dims, batch, channels, grid, size) in cases.items():
        tokens = torch.rand(batch, channels, *[grid] * spatial_dims, requires_grad=True)
        mode = "bilinear" if spatial_dims == 2 else "trilinear"

        def interpolate(tokens=tokens, mode=mode, size=size, spatial_dims=spatial_dims) -> torch.Tensor:
            return F.interpolate(tokens, size=[size] * spatial_dims, mode=mode, align_corners=True)

        def separable(tokens=tokens, size=size, spatial_dims=spatial_dims) -> torch.Tensor:
            return separable_upsample(tokens, [size] * spatial_dims)

        difference = (interpolate() - separable()).abs().max().item()

        def step(upsample: Callable[[], torch.Tensor], tokens=tokens) -> None:
            upsample().sum().backward()
            tokens.grad = None

        ref, ours = (
            t * 1e3
            for t in interleaved_medians([partial(step, interpolate), partial(step, separable)], repeats, cpu, 0.5)
        )
        print(f"{case:<22}{ref:>16.1f}{ours:>14.1f}{ours / ref:>7.2f}{difference:>12.1e}")
        sys.stdout.flush()


# input sizes of the 3D BasicUNet whose skips (32, 32, 64, 128 channels at strides 1, 2, 4, 8) the block refines
BUDGET_SIZES = (128, 192)
QUICK_BUDGET_SIZES = (32,)
BUDGET_CHANNELS = (32, 32, 64, 128)


def budget_block_work(size: int, pool: int | None, train: bool, device: str = "cpu") -> Callable[[], None]:
    """One forward (eval, ``no_grad``) or forward+backward (train) of the DCA block on a 3D BasicUNet's skips."""
    torch.manual_seed(0)
    skips = [torch.rand(1, c, *[size // 2**i] * 3, device=device) for i, c in enumerate(BUDGET_CHANNELS)]
    block = DualCrossAttention(3, BUDGET_CHANNELS, token_pool=pool).to(device)

    def run() -> None:
        if train:
            sum(o.sum() for o in block.train()(skips)).backward()
            block.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                block.eval()(skips)

    return run


def bench_gemms(
    cases: Mapping[str, tuple[int, int, int, tuple[int, ...]]], plain_softmax: bool, onednn: bool = False
) -> None:
    """Every GEMM of one DCA block forward+backward (train mode), with operand layouts and achieved GFLOP/s.

    With ``plain_softmax`` the channel attention uses ``torch.softmax`` (as before issue 20), whose
    subnormal probabilities and gradients show in the ``subnormal`` column. With ``onednn`` each table is
    printed twice: on ATen's default BLAS, then with float32 matmuls on oneDNN (the machine rate too).
    """
    routes: list[tuple[str, Callable[[], contextlib.AbstractContextManager]]] = [
        ("default BLAS", contextlib.nullcontext)
    ]
    if onednn:
        routes.append(("oneDNN", onednn_matmul))
    print(f"\nGEMMs of one DCA block forward+backward, CPU, {torch.get_num_threads()} threads")
    patch = (
        unittest.mock.patch(
            "dca_monai.blocks.channel_cross_attention.softmax_without_subnormals",
            lambda logits: torch.softmax(logits, dim=-1),
        )
        if plain_softmax
        else contextlib.nullcontext()
    )
    for case, (spatial_dims, size, batch, channels) in cases.items():
        torch.manual_seed(0)
        skips = [torch.rand(batch, c, *[size // 2**i] * spatial_dims) for i, c in enumerate(channels)]
        block = DualCrossAttention(spatial_dims, channels).train()
        print(f"\n{case}, batch {batch}, skips {list(channels)}, {'torch.softmax' if plain_softmax else 'ours'}")
        with patch:
            calls = record_gemms(lambda block=block, skips=skips: sum(o.sum() for o in block(skips)))
        for route, context in routes:
            print(f"matmul route: {route}")
            with context():
                slow = print_gemm_table(calls)
            print(f"{len(slow)} GEMM(s) below a quarter of the machine's rate" if slow else "no slow GEMM")
        sys.stdout.flush()


def _autocast_step(model: nn.Module, x: torch.Tensor, amp: bool) -> Callable[[], None]:
    def run() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        (out[0] if isinstance(out, (list, tuple)) else out).float().pow(2).mean().backward()

    return run


def bench_token_budget(repeats: int, device: torch.device, sizes: tuple[int, ...] = BUDGET_SIZES) -> None:
    """The automatic ``token_pool`` (``None``) against the paper's grid (``token_pool=1``), block alone, same run.

    Per input size of a 3D BasicUNet (the block on its four skips): the token grid each rule gives,
    forward and forward+backward time (``torch.utils.benchmark``, median of ``repeats`` interleaved
    measurements) and peak memory of one forward+backward (fresh subprocess on CPU).
    """
    print(f"\nToken budget: DCA block on the skips of a 3D BasicUNet {BUDGET_CHANNELS}, batch 1, {device.type}")
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads, {repeats} repeats")
    header = f"{'input':<8}{'token_pool':<12}{'grid':<12}{'tokens':>8}{'fwd ms':>10}{'x':>6}"
    print(header + f"{'fwd+bwd ms':>12}{'x':>6}{'peak MiB':>10}{'x':>6}")
    for size in sizes:
        pools = [1, None]
        grids = []
        for pool in pools:
            block = DualCrossAttention(3, BUDGET_CHANNELS, token_pool=pool)
            grids.append(block.token_grid([torch.zeros(()).expand(1, 1, *[size // 8] * 3)]))
        fwd = interleaved_medians([budget_block_work(size, p, False, device.type) for p in pools], repeats, device, 0)
        train = interleaved_medians([budget_block_work(size, p, True, device.type) for p in pools], repeats, device, 0)
        memory = [
            peak_memory(
                {"kind": "budget", "size": size, "pool": pool},
                device,
                lambda pool=pool, size=size: budget_block_work(size, pool, True, device.type),
            )
            for pool in pools
        ]
        for i, (pool, grid) in enumerate(zip(pools, grids)):
            label = "1 (paper)" if pool == 1 else "auto"
            print(
                f"{f'{size}^3':<8}{label:<12}{'x'.join(map(str, grid)):<12}{grid[0] * grid[1] * grid[2]:>8}"
                f"{fwd[i] * 1e3:>10.0f}{fwd[i] / fwd[0]:>6.2f}{train[i] * 1e3:>12.0f}{train[i] / train[0]:>6.2f}"
                f"{memory[i]:>10.0f}{memory[i] / memory[0]:>6.2f}"
            )


def bench_bf16(repeats: int, cases: Mapping[str, tuple[int, int, int]]) -> None:
    """Forward+backward (train) in float32 and under ``torch.autocast("cpu", bfloat16)``, parent and DCA, same run."""
    cpu = torch.device("cpu")
    print(f"\nbfloat16 autocast vs float32, forward+backward, CPU, {torch.get_num_threads()} threads")
    print(f"{'case':<8}{'model':<16}{'fp32 ms':>10}{'bf16 ms':>10}{'bf16/fp32':>11}")
    for case, (spatial_dims, size, batch) in cases.items():
        x = torch.rand(batch, 1, *[size] * spatial_dims)
        models = [variant.build() for variant in variants("DCABasicUNet", spatial_dims, case)[:2]]
        runs = [_autocast_step(m, x, amp) for m in models for amp in (False, True)]
        times = interleaved_medians(runs, repeats, cpu)
        for i, model in enumerate(models):
            fp32, bf16 = times[2 * i] * 1e3, times[2 * i + 1] * 1e3
            print(f"{case:<8}{type(model).__name__:<16}{fp32:>10.0f}{bf16:>10.0f}{bf16 / fp32:>11.2f}")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=[*CASES, *QUICK_CASES],
        help=f"default: {list(CASES)}, with --quick {list(QUICK_CASES)}",
    )
    parser.add_argument("--nets", nargs="+", default=BENCH_NETS, choices=BENCH_NETS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the script runs, in seconds")
    parser.add_argument("--block-memory-only", action="store_true")
    parser.add_argument("--pooling-only", action="store_true", help="only the token pooling comparison")
    parser.add_argument("--tail", action="store_true", help="only fused vs unfused residual + batch norm + ReLU")
    parser.add_argument("--upsampling-only", action="store_true", help="only separable_upsample vs F.interpolate")
    parser.add_argument(
        "--token-budget", action="store_true", help="only the automatic token_pool vs the paper's grid (3D block)"
    )
    parser.add_argument("--gemms", action="store_true", help="only the DCA block's GEMMs: layout, GFLOP/s")
    parser.add_argument("--bf16", action="store_true", help="only bfloat16 autocast vs float32 step time")
    parser.add_argument("--plain-softmax", action="store_true", help="with --gemms: torch.softmax in CCA")
    parser.add_argument(
        "--onednn-matmul",
        action="store_true",
        help="each DCA net also timed with its float32 matmuls on oneDNN (with --gemms: the GEMM table on both "
        "routes), where that route stays float32",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="CPU threads for everything, timings included (torch.set_num_threads; default: torch's)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_memory_child(json.loads(args.child))
        return
    cases = QUICK_CASES if args.quick else CASES
    pooling_cases = QUICK_POOLING_CASES if args.quick else POOLING_CASES
    chosen = args.cases or list(cases)
    if any(case not in cases for case in chosen):
        parser.error(
            f"--cases {' '.join(chosen)}: {'with' if args.quick else 'without'} --quick choose from {list(cases)}"
        )
    # --gemms and --tail run on the chosen cases that are pooling cases, else on all of them
    chosen_pooling = {case: pooling_cases[case] for case in chosen if case in pooling_cases} or dict(pooling_cases)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU {cpu_model()}, {torch.get_num_threads()} threads, device {device}")
    if args.quick:
        print("--quick: toy sizes, the figures say nothing about the full sizes")
    if args.bf16:
        bench_bf16(args.repeats, {case: cases[case] for case in chosen})
        return
    onednn = args.onednn_matmul
    if onednn and (device.type != "cpu" or not torch.backends.mkldnn.is_available()):
        print(f"--onednn-matmul skipped: oneDNN's matmul route needs a CPU and torch built with oneDNN ({device})")
        onednn = False
    elif onednn and not onednn_matmul_keeps_float32():
        print("--onednn-matmul skipped: on this CPU oneDNN's matmul route rounds float32 inputs to bfloat16")
        onednn = False
    if args.gemms:
        bench_gemms(chosen_pooling, args.plain_softmax, onednn)
        return
    if args.tail:
        bench_tail(args.repeats, chosen_pooling)
        return
    if args.pooling_only:
        bench_pooling(args.repeats, pooling_cases)
        return
    if args.upsampling_only:
        bench_upsampling(args.repeats, QUICK_UPSAMPLING_CASES if args.quick else UPSAMPLING_CASES)
        return
    if args.token_budget:
        bench_token_budget(args.repeats, device, QUICK_BUDGET_SIZES if args.quick else BUDGET_SIZES)
        return
    if not args.block_memory_only:
        for case in chosen:
            for net in args.nets:
                bench_case(net, case, cases[case], args.repeats, device, onednn)
    bench_block_memory(QUICK_BLOCK_MEMORY_SIZE if args.quick else BLOCK_MEMORY_SIZE, device)


if __name__ == "__main__":
    main()
