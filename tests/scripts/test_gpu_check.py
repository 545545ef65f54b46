"""The CPU-sensible parts of scripts/gpu_check.py; its CUDA parts are skipped, loudly, without a GPU."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from dca_monai.blocks.spatial_cross_attention import SpatialCrossAttention
from tests.nets.net_cases import small_net

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


def _small(name: str, parent: bool) -> tuple[torch.nn.Module, tuple[int, ...]]:
    """The small test network of ``name`` (or its parent) in 3D, and an input size it takes."""
    case = small_net(name)
    size = case.input_sizes[3][0]
    torch.manual_seed(0)
    return (case.parent if parent else case.net)(**case.small_kwargs(3, size)), size


def test_attention_census_sees_explicit_and_fused_paths() -> None:
    model, size = _small("DCABasicUNet", parent=False)
    x = torch.rand(2, 1, *size)
    assert gpu_check.attention_backends(model, x, torch.bfloat16) == {"explicit": 4}  # 4 stages, small scores
    for module in model.modules():
        if isinstance(module, SpatialCrossAttention):
            module.max_materialised_scores = 0
    # forward and backward kernel of the CPU flash attention, per stage
    assert gpu_check.attention_backends(model, x, torch.bfloat16) == {"flash (cpu)": 8}


def test_parent_has_no_attention() -> None:
    model, size = _small("DCABasicUNet", parent=True)
    assert gpu_check.attention_backends(model, torch.rand(2, 1, *size), torch.bfloat16) == {}


def test_bf16_step_time_on_cpu() -> None:
    model, size = _small("DCADynUNet", parent=False)
    ms, mib = gpu_check.step_time_and_memory(model, torch.rand(2, 1, *size), torch.bfloat16)
    assert ms > 0 and mib != mib  # CPU: no CUDA peak memory (NaN)


def test_bundle_ddp_step_in_a_gloo_group() -> None:
    line = gpu_check.bundle_ddp_step(torch.device("cpu"))
    assert line.startswith("gloo world 1:") and "finite=True" in line
    assert " 0 SyncBatchNorm" not in line  # the DCA block's batch norms were converted


@pytest.mark.skipif(not torch.cuda.is_available(), reason="NO GPU: the CUDA parts of scripts/gpu_check.py NOT tested")
def test_nccl_ddp_step_with_sync_batch_norm() -> None:
    line = gpu_check.bundle_ddp_step(torch.device("cuda", 0))
    assert line.startswith("nccl world 1:") and "finite=True" in line
