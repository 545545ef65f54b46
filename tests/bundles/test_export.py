"""Both bundles' networks exported as a user does it (``python -m monai.bundle onnx_export / ckpt_export``).

Each exported file runs in a fresh interpreter at the export size and at a second, different size and
batch, and must equal the eager network there. The networks are CI-sized (filters ``[4, 4, 8, 8, 8]``)
with seeded random weights: export does not depend on training.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.bundles.bundle_runner import BUNDLES, bundle_network, config_files, run_bundle, run_python

FILTERS = [4, 4, 8, 8, 8]
CLASSES = {"brain_mri_dca_segmentation": 4, "ct_dca_segmentation": 6}
EXPORT_SHAPE = (1, 1, 32, 32, 32)
SECOND_SHAPE = (2, 1, 48, 32, 64)  # another batch, another size per axis
TOLERANCE = 1e-4

RUN_TORCHSCRIPT = (
    "import sys, torch\n"
    "net = torch.jit.load(sys.argv[1]).eval()\n"
    "with torch.no_grad():\n"
    "    torch.save([net(x) for x in torch.load(sys.argv[2], weights_only=True)], sys.argv[3])\n"
)
RUN_ONNX = (
    "import sys, numpy, onnxruntime, torch\n"
    "session = onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
    "outputs = [session.run(None, {'image': x.numpy()})[0] for x in torch.load(sys.argv[2], weights_only=True)]\n"
    "torch.save([torch.from_numpy(numpy.ascontiguousarray(y)) for y in outputs], sys.argv[3])\n"
)


def random_checkpoint(bundle: str, folder: Path) -> tuple[torch.nn.Module, Path]:
    """The bundle's CI-sized network with seeded random weights, and its state dict saved as ``model.pt``."""
    torch.manual_seed(0)
    network = bundle_network(CLASSES[bundle], FILTERS).eval()
    path = folder / "model.pt"
    torch.save(network.state_dict(), path)
    return network, path


def export_args(bundle: str, exported: Path, checkpoint: Path) -> list[str]:
    return [
        "--filepath",
        str(exported),
        "--ckpt_file",
        str(checkpoint),
        "--meta_file",
        config_files(bundle, "metadata.json"),
        "--config_file",
        config_files(bundle, "inference.json"),
        "--filters",
        str(FILTERS),
    ]


def run_exported(script: str, exported: Path, folder: Path) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Inputs at both shapes, and the exported file's outputs for them computed in a fresh interpreter."""
    torch.manual_seed(1)
    inputs = [torch.rand(*EXPORT_SHAPE), torch.rand(*SECOND_SHAPE)]
    torch.save(inputs, folder / "inputs.pt")
    run_python(script, exported, folder / "inputs.pt", folder / "outputs.pt").check()
    return inputs, torch.load(folder / "outputs.pt", weights_only=True)


def assert_equals_eager(
    network: torch.nn.Module, inputs: list[torch.Tensor], outputs: list[torch.Tensor]
) -> list[float]:
    """Check every output against the eager network's; return the largest absolute difference per input."""
    differences = []
    with torch.no_grad():
        for x, actual in zip(inputs, outputs):
            expected = network(x)
            assert actual.shape == expected.shape == (x.shape[0], expected.shape[1], *x.shape[2:])
            torch.testing.assert_close(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, msg=f"input {list(x.shape)}")
            differences.append((actual - expected).abs().max().item())
    return differences


@pytest.mark.slow
@pytest.mark.parametrize("bundle", sorted(CLASSES))
def test_onnx_export_runs_in_onnxruntime_at_any_size_and_batch(bundle: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime comes with the 'onnx' extra: pip install -e '.[onnx]'")
    network, checkpoint = random_checkpoint(bundle, tmp_path)
    exported = tmp_path / "model.onnx"
    args_file = str(BUNDLES / bundle / "configs" / "onnx_export.json")
    run_bundle(
        "onnx_export",
        "--args_file",
        args_file,
        "--input_shape",
        str(list(EXPORT_SHAPE)),
        *export_args(bundle, exported, checkpoint),
    ).check()
    inputs, outputs = run_exported(RUN_ONNX, exported, tmp_path)
    at_export, at_second = assert_equals_eager(network, inputs, outputs)
    print(f"{bundle}: onnxruntime vs PyTorch max abs diff {at_export:.1e} (export size), {at_second:.1e} (second)")


@pytest.mark.slow
@pytest.mark.parametrize(
    "bundle, use_trace",
    [  # tracing the same network class once is enough; scripting both bundles, as their cards say
        ("brain_mri_dca_segmentation", False),
        ("ct_dca_segmentation", False),
        ("brain_mri_dca_segmentation", True),
    ],
    ids=["brain-script", "ct-script", "brain-trace"],
)
def test_torchscript_export_runs_at_any_size_and_batch(bundle: str, use_trace: bool, tmp_path: Path) -> None:
    network, checkpoint = random_checkpoint(bundle, tmp_path)
    exported = tmp_path / "model.ts"
    trace_args = ["--use_trace", "True", "--input_shape", str(list(EXPORT_SHAPE))] if use_trace else []
    run_bundle("ckpt_export", "network_def", *trace_args, *export_args(bundle, exported, checkpoint)).check()
    inputs, outputs = run_exported(RUN_TORCHSCRIPT, exported, tmp_path)
    assert_equals_eager(network, inputs, outputs)
