"""The workaround for torch 2.13 inductor's crash on DynUNet-style nets under ``torch.compile(dynamic=True)``.

The slow tests compile with inductor (about a minute for DynUNet, three for DCADynUNet on a 2-core
CPU): MONAI's DynUNet is the smallest net that crashed without the workaround, and DCADynUNet is the
DCA net that did; ``scripts/compile_check.py`` checks every DCA net in train and eval mode.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch._dynamo
from monai.networks.nets import DynUNet

import dca_monai.nets
from dca_monai.compat.inductor_stride_order import (
    DISABLE_ENV,
    apply_inductor_stride_order_fix,
    inductor_stride_order_fix_applied,
    torch_needs_stride_order_fix,
)

# strided 3D convolutions whose outputs have sizes (s - 1) // 2 + 1: what made inductor crash
DYNUNET_KWARGS = {
    "spatial_dims": 3,
    "in_channels": 1,
    "out_channels": 3,
    "kernel_size": [3, 3, 3, 3],
    "strides": [1, 2, 2, 2],
    "upsample_kernel_size": [2, 2, 2],
    "filters": (8, 16, 16, 32),
}
SIZES = [(48, 40, 56), (64, 56, 40)]


@pytest.mark.parametrize(
    "version,needed",
    [("2.13.0+cpu", True), ("2.13.1", True), ("2.12.1", False), ("2.14.0", False), ("2.14.1+cu130", False)],
)
def test_only_torch_2_13_is_patched(version: str, needed: bool) -> None:
    assert torch_needs_stride_order_fix(version) is needed


@pytest.mark.skipif(not torch_needs_stride_order_fix(), reason=f"torch {torch.__version__} needs no fix")
def test_importing_the_nets_applies_it_once() -> None:
    assert "apply_inductor_stride_order_fix" in dir(dca_monai.nets)
    assert inductor_stride_order_fix_applied()
    from torch._inductor import ir

    wrapped = ir.Layout.__dict__["_stride_expr_ge_or_false"]
    assert apply_inductor_stride_order_fix()  # idempotent: no second wrapper
    assert ir.Layout.__dict__["_stride_expr_ge_or_false"] is wrapped


def test_the_environment_variable_leaves_torch_alone() -> None:
    code = "import dca_monai.nets; from dca_monai.compat import inductor_stride_order_fix_applied as a; print(a())"
    env = {**os.environ, DISABLE_ENV: "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_undecidable_check_answers_false_and_others_pass_through() -> None:
    from torch.utils._sympy.value_ranges import ValueRangeError

    from dca_monai.compat.inductor_stride_order import _undecided_is_false

    def crashing(left: object, right: object) -> bool:
        raise ValueRangeError("Invalid ranges [0:-1]")

    assert _undecided_is_false(crashing)(1, 2) is False
    assert _undecided_is_false(lambda left, right: True)(1, 2) is True

    def other_error(left: object, right: object) -> bool:
        raise KeyError("not a range-analysis failure")

    with pytest.raises(KeyError):
        _undecided_is_false(other_error)(1, 2)


def _assert_compiled_equals_eager(model: torch.nn.Module) -> None:
    model.eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, dynamic=True)
    with torch.no_grad():
        for size in SIZES:
            x = torch.rand(2, 1, *size, generator=torch.Generator().manual_seed(0))
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_monai_dynunet_compiles_with_dynamic_shapes() -> None:
    torch.manual_seed(0)
    _assert_compiled_equals_eager(DynUNet(**DYNUNET_KWARGS))


@pytest.mark.slow
def test_dca_dynunet_compiles_with_dynamic_shapes() -> None:
    torch.manual_seed(0)
    _assert_compiled_equals_eager(dca_monai.nets.DCADynUNet(**DYNUNET_KWARGS))
