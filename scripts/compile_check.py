"""Check that every DCA network compiles with ``torch.compile(dynamic=True)`` and matches eager.

For each network of the registry (its typical configuration), on CPU:

- compile once with ``dynamic=True`` and run it at every input size (three by default, ``--sizes``),
  in eval then train mode: the largest difference from eager (must be <= 1e-4), and ``recompiles``,
  the frames dynamo compiled again at sizes after the first (0 is the goal: one graph set for all sizes);
- ``parent recompiles``: the same count for the MONAI parent, compiled with the ``"eager"`` backend
  (dynamo's guards alone; it compiles in seconds) or, ``--parent-backend same``, with ``--backend``'s,
  whose own guards (inductor's among them) can add recompiles that the eager backend does not show;
  with timing the parent's step is then timed compiled vs eager too. The DCA network must not
  recompile more than its parent;
- ``torch._dynamo.explain``: graph breaks of the DCA network and of its MONAI parent (the DCA
  block must add none);
- one training step (forward+backward, batch 2, the first size) compiled vs eager,
  ``torch.utils.benchmark`` medians, interleaved.

    python scripts/compile_check.py                       # every network, 3D
    python scripts/compile_check.py --nets DCABasicUNet --spatial-dims 3 --no-timing
    python scripts/compile_check.py --nets DCABasicUNet --spatial-dims 2 --backend aot_eager   # seconds
    python scripts/compile_check.py --nets DCADynUNet --sizes 48x80x112 64x96x80   # sizes of your choice
    python scripts/compile_check.py --nets DCASwinUNETR --static --sizes 64x96x64   # dynamic=False, minutes

Inductor compiles for minutes per network on a small CPU: this is a script, not a unit test
(``tests/blocks/test_compile.py`` covers one network in CI). ``--backend aot_eager`` (dynamo and
AOTAutograd without inductor's code generation) checks graph breaks and recompiles in seconds; its
differences from eager and its timings say nothing about inductor's.

The default first size has no two equal sizes among the network's inputs and skips where the
parent's strides allow (not for SwinUNETR and FlexibleUNet, strides of 32): dynamo's duck sizing
ties equal sizes together (an axis of 32 to a 32-channel dimension, a 2-voxel bottleneck to batch
2), and a later size that parts them recompiles, the parent as much as the DCA network.
``--no-duck-sizing`` turns that off, so small sizes show only the networks' own guards.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
import torch._dynamo
import torch._inductor.config
import torch.fx.experimental._config
from torch import nn
from torch._dynamo.testing import CompileCounterWithBackend

from dca_monai.nets.registry import DCA_NETS, dca_net_spec
from dca_monai.utils.benchmarking import cpu_model, interleaved_medians

__all__ = ["check_net", "compare_with_eager", "frames_per_size", "graph_breaks", "parse_size"]


def _first(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (list, tuple)) else output


def graph_breaks(model: nn.Module, x: torch.Tensor) -> int:
    """Graph breaks ``torch._dynamo.explain`` finds in one eval forward of ``model`` on ``x``."""
    torch._dynamo.reset()
    with torch.no_grad():
        return torch._dynamo.explain(model.eval())(x).graph_break_count


def compare_with_eager(
    model: nn.Module,
    compiled: nn.Module,
    sizes: list[tuple[int, ...]],
    in_channels: int,
    train: bool,
    seed: int = 0,
    counter: CompileCounterWithBackend | None = None,
) -> tuple[float, int]:
    """Largest absolute output difference of ``compiled`` from ``model`` over ``sizes`` (batch 2), and recompiles.

    In train mode both run from the same state (``model``'s buffers are the compiled module's, so batch
    norm running statistics are restored between the two calls) and the same random seed (dropout).
    Recompiles: the frames ``counter`` (the compiled module's backend) saw compiled at the sizes after the
    first; 0 without a counter.
    """
    worst = 0.0
    model.train(train)
    after_first = None
    for size in sizes:
        x = torch.rand(2, in_channels, *size, generator=torch.Generator().manual_seed(seed))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            torch.manual_seed(seed)  # the same dropout masks (VNet drops out in train mode) for both
            expected = _first(model(x))
            model.load_state_dict(state)
            torch.manual_seed(seed)
            got = _first(compiled(x))
            model.load_state_dict(state)
        worst = max(worst, (got - expected).abs().max().item())
        if after_first is None and counter is not None:
            after_first = counter.frame_count
    return worst, (counter.frame_count - after_first) if counter is not None else 0


def frames_per_size(
    model: nn.Module, sizes: list[tuple[int, ...]], in_channels: int, backend: str = "eager", dynamic: bool = True
) -> int:
    """Frames dynamo compiles again at ``sizes[1:]`` (eval, then train mode; batch 2) for ``model``."""
    torch._dynamo.reset()
    counter = CompileCounterWithBackend(backend)
    compiled = torch.compile(model, dynamic=dynamic, backend=counter)
    recompiles = 0
    for train in (False, True):
        model.train(train)
        for index, size in enumerate(sizes):
            before = counter.frame_count
            with torch.no_grad():
                compiled(torch.rand(2, in_channels, *size))
            if index > 0:
                recompiles += counter.frame_count - before
    return recompiles


def _step(model: nn.Module, x: torch.Tensor):
    def run() -> None:
        model.zero_grad(set_to_none=True)
        _first(model(x)).float().pow(2).mean().backward()

    return run


def _eager_and_compiled_ms(model: nn.Module, compiled: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """One training step of ``model`` eager and compiled, interleaved medians in ms (the first compiled
    step, which compiles the backward, is not timed)."""
    compiled_step, eager_step = _step(compiled, x), _step(model, x)
    compiled_step()
    eager_s, compiled_s = interleaved_medians([eager_step, compiled_step], 2, x.device, min_run_time=1, warmup=0)
    return eager_s * 1e3, compiled_s * 1e3


# input sizes each parent accepts (multiples of its total stride; UNETR's is fixed by img_size=96); the first
# one leaves no two equal sizes among inputs and skips (module docstring) where the strides allow
CHECK_SIZES = {
    "default": ((48, 80, 112), (64, 96, 80), (96, 48, 64)),
    "DCASwinUNETR": ((64, 96, 64), (96, 64, 64), (64, 64, 96)),
    "DCAFlexibleUNet": ((64, 96, 64), (96, 64, 64), (64, 64, 96)),
    "DCAUNETR": ((96, 96, 96),),
}


def parse_size(text: str, spatial_dims: int) -> tuple[int, ...]:
    """``"48x80x112"`` -> ``(48, 80, 112)``, checked to have ``spatial_dims`` positive sizes.

    Raises:
        ValueError: naming ``--sizes`` and the value seen.
    """
    try:
        size = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != spatial_dims or min(size) < 1:
        raise ValueError(f"--sizes {text!r} but {spatial_dims} positive sizes like 48x80x112 were expected")
    return size


def check_net(
    name: str,
    spatial_dims: int,
    timing: bool,
    backend: str = "inductor",
    sizes: list[tuple[int, ...]] | None = None,
    parent_backend: str = "eager",
    dynamic: bool = True,
) -> dict[str, Any]:
    """Compile ``name``'s typical network with ``dynamic=True`` and compare it with eager and its parent.

    ``dynamic=False`` compiles for static shapes instead (every new size then recompiles, parent and DCA net alike).

    ``backend`` is ``torch.compile``'s (``"inductor"``, ``"aot_eager"``, ``"eager"``); ``sizes`` the
    input sizes (default: :data:`CHECK_SIZES`, cut to ``spatial_dims`` axes); ``parent_backend`` the
    backend that counts the parent's recompiles (``"eager"``: dynamo's guards alone, in seconds; pass
    ``backend`` to include the guards that the backend adds, inductor's among them), and with
    ``timing`` the parent's compiled step is timed too when it equals ``backend``.
    """
    spec = dca_net_spec(name)
    kwargs = dict(next(kw for kw in spec.typical if kw.get("spatial_dims", 3) == spatial_dims))
    if sizes is None:
        sizes = [size[:spatial_dims] for size in CHECK_SIZES.get(name, CHECK_SIZES["default"])]
    torch.manual_seed(0)
    model = spec.net(**kwargs)
    parent = spec.parent(**kwargs)
    x = torch.rand(2, kwargs["in_channels"], *sizes[0])
    result: dict[str, Any] = {"net": name, "sizes": sizes}
    result["breaks"], result["parent_breaks"] = graph_breaks(model, x), graph_breaks(parent, x)
    result["parent_recompiles"] = frames_per_size(parent, sizes, kwargs["in_channels"], parent_backend, dynamic)
    torch._dynamo.reset()
    counter = CompileCounterWithBackend(backend)
    compiled = torch.compile(model, dynamic=dynamic, backend=counter)
    start = time.perf_counter()
    result["eval_diff"], eval_recompiles = compare_with_eager(
        model, compiled, sizes, kwargs["in_channels"], train=False, counter=counter
    )
    result["train_diff"], train_recompiles = compare_with_eager(
        model, compiled, sizes, kwargs["in_channels"], train=True, counter=counter
    )
    result["compile_s"] = time.perf_counter() - start
    result["recompiles"] = eval_recompiles + train_recompiles
    result["frames"] = counter.frame_count
    if timing:
        result["eager_ms"], result["compiled_ms"] = _eager_and_compiled_ms(model, compiled, x)
        if parent_backend == backend:
            torch._dynamo.reset()
            parent_compiled = torch.compile(parent.train(), dynamic=dynamic, backend=backend)
            result["parent_eager_ms"], result["parent_compiled_ms"] = _eager_and_compiled_ms(parent, parent_compiled, x)
    return result


def main() -> None:
    names = [spec.name for spec in DCA_NETS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", default=names, choices=names)
    parser.add_argument("--spatial-dims", type=int, default=3, choices=(2, 3))
    parser.add_argument("--no-timing", action="store_true", help="skip the compiled vs eager step time")
    parser.add_argument(
        "--backend", default="inductor", choices=("inductor", "aot_eager", "eager"), help="torch.compile backend"
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        help="input sizes like 48x80x112 (all networks; default: CHECK_SIZES); the first one is timed",
    )
    parser.add_argument(
        "--no-duck-sizing",
        action="store_true",
        help="give equal sizes separate symbols (torch.fx.experimental._config.use_duck_shape = False)",
    )
    parser.add_argument(
        "--parent-backend",
        choices=("eager", "same"),
        default="eager",
        help="backend for the parent's recompiles: eager (dynamo's guards, seconds) or the same as --backend "
        "(the backend's own guards too; with timing, the parent's compiled step is timed as well)",
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="compile with dynamic=False (one compile per input size): SwinUNETR's dynamic-shape compile does "
        "not finish in an hour on a small CPU, its static one takes minutes",
    )
    parser.add_argument(
        "--no-vectorize",
        action="store_true",
        help="inductor's C++ kernels without SIMD (torch._inductor.config.cpp.simdlen = 0): SwinUNETR's window "
        "index expressions keep the vectorizer's stride analysis busy for over 30 minutes with dynamic shapes",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="CPU threads for everything, timings included (torch.set_num_threads; default: torch's)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.no_duck_sizing:
        torch.fx.experimental._config.use_duck_shape = False
    # MONAI's UpCat graph-breaks, so each instance is its own frame, per grad mode and train flag: more than the
    # default 8 cache entries of that code; past the limit dynamo would run it eagerly and blur the timing
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    torch._inductor.config.fallback_random = True  # eager's random numbers, so dropout compares equal
    if args.no_vectorize:
        torch._inductor.config.cpp.simdlen = 0  # no ISA has 0 bits: inductor picks none and writes scalar loops
    sizes = [parse_size(text, args.spatial_dims) for text in args.sizes] if args.sizes else None
    print(
        f"torch {torch.__version__}, CPU {cpu_model()}, {torch.get_num_threads()} threads, {args.spatial_dims}D, "
        f"backend {args.backend}"
        + (", no duck sizing" if args.no_duck_sizing else "")
        + (", inductor C++ without SIMD" if args.no_vectorize else "")
        + (", static shapes (dynamic=False)" if args.static else "")
    )
    header = f"{'network':<18}{'breaks':>7}{'parent':>7}{'recompiles':>11}{'eval diff':>11}{'train diff':>11}"
    print(header + f"{'compile s':>10}{'eager ms':>10}{'compiled ms':>12}{'x':>6}{'parent recompiles':>19}")
    failed = []
    for name in args.nets:
        try:
            parent_backend = args.backend if args.parent_backend == "same" else "eager"
            r = check_net(
                name, args.spatial_dims, not args.no_timing, args.backend, sizes, parent_backend, not args.static
            )
        except Exception as error:  # report every network, then fail
            print(f"{name:<18}FAILED: {type(error).__name__}: {str(error)[:300]}")
            failed.append(name)
            continue
        line = f"{name:<18}{r['breaks']:>7}{r['parent_breaks']:>7}{r['recompiles']:>11}"
        line += f"{r['eval_diff']:>11.1e}{r['train_diff']:>11.1e}{r['compile_s']:>10.0f}"
        if "eager_ms" in r:
            line += f"{r['eager_ms']:>10.0f}{r['compiled_ms']:>12.0f}{r['compiled_ms'] / r['eager_ms']:>6.2f}"
        else:
            line += f"{'-':>10}{'-':>12}{'-':>6}"
        line += f"{r['parent_recompiles']:>19}"
        if "parent_eager_ms" in r:
            eager_ms, compiled_ms = r["parent_eager_ms"], r["parent_compiled_ms"]
            line += f"   parent eager {eager_ms:.0f} ms, compiled {compiled_ms:.0f} ms ({compiled_ms / eager_ms:.2f}x)"
        print(line + f"   sizes {r['sizes']}", flush=True)
        worse = r["breaks"] > r["parent_breaks"] or r["recompiles"] > r["parent_recompiles"]
        if max(r["eval_diff"], r["train_diff"]) > 1e-4 or worse:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {failed}")


if __name__ == "__main__":
    main()
