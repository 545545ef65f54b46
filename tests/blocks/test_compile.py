"""torch.compile(dynamic=True) of DCA: equal to eager at several sizes, no extra graph break or recompile.

Slow (inductor compiles for minutes on a 2-core CPU); scripts/compile_check.py runs every network.
Recompiles are counted with the ``"eager"`` backend (dynamo's guards decide them, whatever the backend,
and it compiles in seconds); numerical equality uses inductor.

Sizes are chosen so no intermediate spatial size equals the batch (2) or a channel count: dynamo's
duck sizing would tie such sizes together and recompile when they part, the parent as much as DCA.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._dynamo.testing import CompileCounter

from dca_monai.blocks import DualCrossAttention
from tests.nets.net_cases import small_net

SIZES = [(48, 40), (64, 48)]
# three sizes with three token counts at the coarsest skip (15, 70 and 42 tokens in the small DCABasicUNet)
RECOMPILE_SIZES = [(48, 80), (80, 112), (112, 48)]
BLOCK_CHANNELS = (8, 8, 16, 16)
BLOCK_SIZES = [(40, 48, 56), (56, 40, 48), (72, 56, 40)]


@pytest.mark.slow
def test_dynamic_compile_equals_eager_at_every_size() -> None:
    spec = small_net("DCABasicUNet")
    torch.manual_seed(0)
    model = spec.net(**spec.small_kwargs(2))
    torch._dynamo.reset()
    compiled = torch.compile(model, dynamic=True)
    for train in (False, True):
        model.train(train)
        for size in SIZES:
            x = torch.rand(2, 1, *size, generator=torch.Generator().manual_seed(1))
            state = {k: v.clone() for k, v in model.state_dict().items()}
            with torch.no_grad():
                expected = model(x)
                model.load_state_dict(state)  # the same batch-norm statistics for both
                got = compiled(x)
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_dca_adds_no_graph_break_to_its_parent() -> None:
    spec = small_net("DCABasicUNet")
    kwargs = spec.small_kwargs(2)
    x = torch.rand(2, 1, 48, 40)
    breaks = []
    for factory in (spec.parent, spec.net):
        torch._dynamo.reset()
        with torch.no_grad():
            breaks.append(torch._dynamo.explain(factory(**kwargs).eval())(x).graph_break_count)
    assert breaks[1] == breaks[0], f"BasicUNet has {breaks[0]} graph breaks, DCABasicUNet {breaks[1]}"


@pytest.mark.slow
@pytest.mark.parametrize("spatial_dims", [1, 3])  # 2D: the network test below
def test_dca_block_compiles_once_for_every_size(spatial_dims: int) -> None:
    torch.manual_seed(0)
    block = DualCrossAttention(spatial_dims, BLOCK_CHANNELS).eval()
    counter = CompileCounter()
    torch._dynamo.reset()
    compiled = torch.compile(block, backend=counter, dynamic=True)
    for size in BLOCK_SIZES:
        skips = [
            torch.rand(2, c, *[s // 2**stage for s in size[:spatial_dims]]) for stage, c in enumerate(BLOCK_CHANNELS)
        ]
        with torch.no_grad():
            compiled(skips)
    assert counter.frame_count == 1, f"the DCA block compiled {counter.frame_count} graphs for 3 sizes, expected 1"


def _frames_after_each_size(model: torch.nn.Module) -> list[int]:
    """Frames dynamo compiled (cumulative) after a training-mode forward at each of RECOMPILE_SIZES.

    No backward: with the ``"eager"`` backend autograd runs outside dynamo and adds no guard.
    """
    counter = CompileCounter()
    torch._dynamo.reset()
    compiled = torch.compile(model.train(), backend=counter, dynamic=True)
    frames = []
    for size in RECOMPILE_SIZES:
        with torch.no_grad():
            compiled(torch.rand(2, 1, *size))
        frames.append(counter.frame_count)
    return frames


@pytest.mark.slow
def test_dca_adds_no_recompile_to_its_parent() -> None:
    spec = small_net("DCABasicUNet")
    kwargs = spec.small_kwargs(2)
    torch.manual_seed(0)
    parent = _frames_after_each_size(spec.parent(**kwargs))
    dca = _frames_after_each_size(spec.net(**kwargs))
    # a graph break splits the forward into frames; a new size must compile none of them again
    assert dca == parent, f"frames compiled after each size: BasicUNet {parent}, DCABasicUNet {dca}"
    assert dca[-1] == dca[0], f"DCABasicUNet compiled {dca[-1] - dca[0]} more frames at new sizes ({dca})"
