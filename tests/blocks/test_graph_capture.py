"""The DCA block captured once (``torch.jit.trace``, TorchScript-based ONNX, ``torch.export``) runs at any size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dca_monai.blocks import DualCrossAttention
from dca_monai.blocks.graph_capture import capturing_graph, compiling_graph

CHANNELS = (4, 8, 8, 16)


class CaptureFlag(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1 if capturing_graph() else x


class CompileFlag(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1 if compiling_graph() else x


def test_compiling_graph_is_true_only_under_torch_compile() -> None:
    x = torch.zeros(1)
    assert CompileFlag()(x).item() == 0
    assert torch.jit.script(CompileFlag())(x).item() == 0
    assert torch.compile(CompileFlag(), backend="eager")(x).item() == 1


def skips_for(batch: int, size: tuple[int, ...], channels: tuple[int, ...] = CHANNELS) -> list[torch.Tensor]:
    """Skips of a U-Net with stride 2 between stages: ``size // 2**stage`` (floor) per axis."""
    return [torch.rand(batch, c, *[s // 2**stage for s in size]) for stage, c in enumerate(channels)]


def assert_same_outputs(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)


def test_capturing_graph_is_true_only_while_tracing() -> None:
    x = torch.zeros(1)
    assert CaptureFlag()(x).item() == 0
    assert torch.jit.script(CaptureFlag())(x).item() == 0
    assert torch.jit.trace(CaptureFlag(), (x,))(x).item() == 1


@pytest.mark.parametrize(
    "spatial_dims, token_pool, sizes",
    [
        (3, 1, [(2, (16, 16, 16)), (1, (24, 32, 40)), (3, (17, 16, 23))]),
        (3, 2, [(1, (32, 32, 32)), (2, (48, 32, 64))]),
        (2, 1, [(2, (32, 32)), (1, (56, 40)), (2, (33, 47))]),
    ],
)
def test_traced_block_equals_eager_at_other_sizes_and_batches(spatial_dims, token_pool, sizes) -> None:
    torch.manual_seed(0)
    block = DualCrossAttention(spatial_dims, CHANNELS, token_pool=token_pool).eval()
    export_batch, export_size = sizes[0]
    with torch.no_grad():
        traced = torch.jit.trace(block, (skips_for(export_batch, export_size),))
        for batch, size in sizes:
            skips = skips_for(batch, size)
            assert_same_outputs(traced(skips), block(skips))


@pytest.mark.slow
def test_onnx_export_with_dynamic_axes_equals_eager_in_onnxruntime(tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the 'onnx' extra")
    torch.manual_seed(0)
    block = DualCrossAttention(3, CHANNELS).eval()
    names = [f"skip{stage}" for stage in range(len(CHANNELS))]
    axes = {name: [0, 2, 3, 4] for name in [*names, *(f"refined{stage}" for stage in range(len(CHANNELS)))]}
    path = tmp_path / "dca.onnx"
    with torch.no_grad():
        torch.onnx.export(
            block,
            (skips_for(1, (16, 16, 16)),),
            str(path),
            input_names=names,
            output_names=[f"refined{stage}" for stage in range(len(CHANNELS))],
            dynamic_axes=axes,
            dynamo=False,
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, size in [(1, (16, 16, 16)), (2, (24, 32, 40))]:
        skips = skips_for(batch, size)
        outputs = session.run(None, {name: skip.numpy() for name, skip in zip(names, skips)})
        with torch.no_grad():
            assert_same_outputs([torch.from_numpy(o) for o in outputs], block(skips))


@pytest.mark.slow
def test_torch_export_with_dynamic_shapes_equals_eager_at_other_sizes() -> None:
    torch.manual_seed(0)
    channels = (4, 8)
    block = DualCrossAttention(2, channels).eval()
    dims = {0: torch.export.Dim.AUTO, 2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}
    exported = torch.export.export(block, (skips_for(2, (16, 16), channels),), dynamic_shapes=([dims] * 2,))
    module = exported.module()
    with torch.no_grad():
        for batch, size in [(2, (16, 16)), (1, (24, 40)), (3, (9, 24))]:
            skips = skips_for(batch, size, channels)
            assert_same_outputs(module(skips), block(skips))
