"""Check that every DCA network compiles with ``torch.compile(dynamic=True)`` and matches eager.

For each network of the registry (its typical configuration), on CPU:

- compile once with ``dynamic=True`` and run it at every input size of the registry, in train and
  eval mode: the largest difference from eager (must be <= 1e-4), and how many times dynamo
  compiled (one graph set for all sizes is the goal: ``recompiles`` counts the extra ones);
- ``torch._dynamo.explain``: graph breaks of the DCA network and of its MONAI parent (the DCA
  block must add none);
- one training step (forward+backward) compiled vs eager, ``torch.utils.benchmark`` medians.

    python scripts/compile_check.py                       # every network, 3D
    python scripts/compile_check.py --nets DCABasicUNet --spatial-dims 3 --no-timing
    python scripts/compile_check.py --nets DCABasicUNet --spatial-dims 2 --backend eager   # dynamo alone

Inductor compiles for minutes per network on a small CPU: this is a script, not a unit test
(``tests/blocks/test_compile.py`` covers one network in CI). ``--backend eager`` runs dynamo alone
(graph breaks and recompiles, no code generation; about 1.5 minutes for DCABasicUNet 2D on the
project's loaded 2-core CPU, most of it tracing), ``aot_eager`` adds AOTAutograd; their differences
from eager and their timings say nothing about inductor's.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
import torch._dynamo
from torch import nn
from torch.utils import benchmark

from dca_monai.nets.registry import DCA_NETS, dca_net_spec
from dca_monai.utils.attention_gemms import cpu_model

__all__ = ["check_net", "compare_with_eager", "graph_breaks"]


def _first(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (list, tuple)) else output


def graph_breaks(model: nn.Module, x: torch.Tensor) -> int:
    """Graph breaks ``torch._dynamo.explain`` finds in one eval forward of ``model`` on ``x``."""
    torch._dynamo.reset()
    with torch.no_grad():
        return torch._dynamo.explain(model.eval())(x).graph_break_count


def compare_with_eager(
    model: nn.Module, compiled: nn.Module, sizes: list[tuple[int, ...]], in_channels: int, train: bool, seed: int = 0
) -> float:
    """Largest absolute output difference of ``compiled`` from ``model`` over ``sizes`` (batch 2).

    In train mode both run from the same state (``model``'s buffers are the compiled module's, so batch
    norm running statistics are restored between the two calls).
    """
    worst = 0.0
    model.train(train)
    for size in sizes:
        x = torch.rand(2, in_channels, *size, generator=torch.Generator().manual_seed(seed))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            expected = _first(model(x))
            model.load_state_dict(state)
            got = _first(compiled(x))
            model.load_state_dict(state)
        worst = max(worst, (got - expected).abs().max().item())
    return worst


def _step(model: nn.Module, x: torch.Tensor):
    def run() -> None:
        model.zero_grad(set_to_none=True)
        _first(model(x)).float().pow(2).mean().backward()

    return run


# input sizes each parent accepts (multiples of its total stride; UNETR's is fixed by img_size=96)
CHECK_SIZES = {
    "default": ((32, 32, 32), (48, 32, 64)),
    "DCASwinUNETR": ((64, 64, 64), (96, 64, 64)),
    "DCAFlexibleUNet": ((64, 64, 64), (96, 64, 64)),
    "DCAUNETR": ((96, 96, 96),),
}


def check_net(name: str, spatial_dims: int, timing: bool, backend: str = "inductor") -> dict[str, Any]:
    """Compile ``name``'s typical network with ``dynamic=True`` and compare it with eager and its parent.

    ``backend`` is ``torch.compile``'s (``"inductor"``, ``"aot_eager"``, ``"eager"``).
    """
    spec = dca_net_spec(name)
    kwargs = dict(next(kw for kw in spec.typical if kw.get("spatial_dims", 3) == spatial_dims))
    sizes = [size[:spatial_dims] for size in CHECK_SIZES.get(name, CHECK_SIZES["default"])]
    torch.manual_seed(0)
    model = spec.net(**kwargs)
    parent = spec.parent(**kwargs)
    x = torch.rand(2, kwargs["in_channels"], *sizes[0])
    result: dict[str, Any] = {"net": name, "sizes": sizes}
    result["breaks"], result["parent_breaks"] = graph_breaks(model, x), graph_breaks(parent, x)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = torch.compile(model, dynamic=True, backend=backend)
    start = time.perf_counter()
    result["eval_diff"] = compare_with_eager(model, compiled, sizes, kwargs["in_channels"], train=False)
    result["train_diff"] = compare_with_eager(model, compiled, sizes, kwargs["in_channels"], train=True)
    result["compile_s"] = time.perf_counter() - start
    frames = torch._dynamo.utils.counters["frames"]
    result["recompiles"] = frames["ok"] - result["breaks"] - 1 if frames["ok"] else 0
    result["frames"] = dict(frames)
    if timing:
        compiled_step, eager_step = _step(compiled, x), _step(model, x)
        compiled_step()  # compiles the backward
        times = []
        for run in (eager_step, compiled_step, eager_step, compiled_step):
            times.append(benchmark.Timer("run()", globals={"run": run}).blocked_autorange(min_run_time=1).median)
        result["eager_ms"], result["compiled_ms"] = min(times[0::2]) * 1e3, min(times[1::2]) * 1e3
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
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, CPU {cpu_model()}, {torch.get_num_threads()} threads, {args.spatial_dims}D, "
        f"backend {args.backend}"
    )
    header = f"{'network':<18}{'breaks':>7}{'parent':>7}{'recompiles':>11}{'eval diff':>11}{'train diff':>11}"
    print(header + f"{'compile s':>10}{'eager ms':>10}{'compiled ms':>12}{'x':>6}")
    failed = []
    for name in args.nets:
        try:
            r = check_net(name, args.spatial_dims, not args.no_timing, args.backend)
        except Exception as error:  # report every network, then fail
            print(f"{name:<18}FAILED: {type(error).__name__}: {str(error)[:300]}")
            failed.append(name)
            continue
        line = f"{name:<18}{r['breaks']:>7}{r['parent_breaks']:>7}{r['recompiles']:>11}"
        line += f"{r['eval_diff']:>11.1e}{r['train_diff']:>11.1e}{r['compile_s']:>10.0f}"
        if "eager_ms" in r:
            line += f"{r['eager_ms']:>10.0f}{r['compiled_ms']:>12.0f}{r['compiled_ms'] / r['eager_ms']:>6.2f}"
        print(line + f"   sizes {r['sizes']}", flush=True)
        if max(r["eval_diff"], r["train_diff"]) > 1e-4 or r["breaks"] > r["parent_breaks"]:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {failed}")


if __name__ == "__main__":
    main()
