"""The CPU-sensible parts of scripts/gpu_check.py; its CUDA parts are skipped, loudly, without a GPU."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

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


def test_attention_census_sees_the_math_backend() -> None:
    """SDPA's math backend is composite (no kernel of its own reaches a dispatch mode): its softmax is counted."""
    q, v = torch.randn(1, 2, 16, 8, requires_grad=True), torch.randn(1, 2, 16, 4)
    census = gpu_check._AttentionCensus()
    with census, sdpa_kernel([SDPBackend.MATH]):
        torch.nn.functional.scaled_dot_product_attention(q, q, v).sum().backward()
    assert dict(census.kernels) == {"math": 1}


def test_attention_candidates_pad_values_only_for_flash() -> None:
    half = gpu_check.attention_candidates("cuda", torch.float16, 120, 13)
    assert half == {
        "flash, padded": (SDPBackend.FLASH_ATTENTION, 120),  # flash wants equal head sizes
        "efficient, narrow": (SDPBackend.EFFICIENT_ATTENTION, 16),  # aligned to 8 only
    }
    single = gpu_check.attention_candidates("cuda", torch.float32, 120, 8)
    assert single == {
        "efficient, padded": (SDPBackend.EFFICIENT_ATTENTION, 120),
        "efficient, narrow": (SDPBackend.EFFICIENT_ATTENTION, 8),
    }


@pytest.mark.parametrize("fused", [False, True])
def test_attention_kernel_choice_runs_every_candidate_on_cpu(monkeypatch: pytest.MonkeyPatch, fused: bool) -> None:
    if fused:  # the plan sends even these small scores to the flash kernel: its candidate gets the mark
        monkeypatch.setattr(gpu_check, "MAX_MATERIALISED_SCORES", 0)
    line = gpu_check.attention_kernel_choice(torch.device("cpu"), torch.float32, tokens=64, value_size=8)
    assert line.startswith("attention float32   N=64    values 8  :")
    flash, math = line.split(": ", 1)[1].split(" | ")
    assert flash.startswith("flash, padded* [flash (cpu)]" if fused else "flash, padded [flash (cpu)]")
    assert math.startswith("math, narrow [math]")  # the plan never picks math


@pytest.mark.parametrize("name", ["DCABasicUNet", "DCASwinUNETR"])
def test_parent_has_no_attention(name: str) -> None:
    """Only DCA's attention counts: SwinUNETR's own window attention (an explicit softmax) does not."""
    model, size = _small(name, parent=True)
    assert gpu_check.attention_backends(model, torch.rand(2, 1, *size), torch.bfloat16) == {}


def test_attention_census_counts_only_dca_in_swin_unetr() -> None:
    model, size = _small("DCASwinUNETR", parent=False)
    stages = sum(len(m.heads) for m in model.modules() if isinstance(m, SpatialCrossAttention))  # one softmax each
    assert gpu_check.attention_backends(model, torch.rand(2, 1, *size), torch.bfloat16) == {"explicit": stages}


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


def test_main_cpu_smoke_runs_end_to_end(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole script in its CPU smoke mode for one network (dynamo with the eager backend: inductor's CPU
    compile takes minutes); every part prints its line."""
    compile_eagerly = functools.partial(torch.compile, backend="eager")
    monkeypatch.setattr(gpu_check.torch, "compile", compile_eagerly)
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", "--cpu-smoke", "--nets", "DCABasicUNet"])
    inductor_config = gpu_check.inductor_config
    # the config's own patch restores it (monkeypatch's undo deletes a config entry: later compiles then fail)
    with inductor_config.patch(compile_threads=inductor_config.compile_threads):
        gpu_check.main()
        threads = inductor_config.compile_threads
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("torch ") and "CPU (smoke sizes)" in lines[0]
    assert any(line.startswith("BasicUNet ") for line in lines)
    dca = next(line for line in lines if line.startswith("DCABasicUNet "))
    assert "attention: {'explicit': 4}" in dca and "compile(dynamic=True)" in dca
    choices = [line for line in lines if line.startswith("attention bfloat16")]
    assert len(choices) == 2 and all("[flash (cpu)]" in line and "[math]" in line for line in choices)
    assert lines[-1].startswith("gloo world 1:") and "finite=True" in lines[-1]
    assert threads == 1  # the CPU run compiles without a worker pool
