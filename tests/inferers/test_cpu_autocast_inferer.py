from __future__ import annotations

import pytest
import torch
from monai.inferers import SimpleInferer
from torch import nn

from dca_monai.inferers import CPUAutocastInferer


def test_runs_the_network_in_bfloat16_and_returns_float32_with_gradients() -> None:
    net = nn.Conv2d(1, 2, 3)
    seen: list[torch.dtype] = []
    net.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    x = torch.rand(1, 1, 8, 8)
    out = CPUAutocastInferer(SimpleInferer())(x, net)
    assert seen == [torch.bfloat16]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, net(x), atol=5e-2, rtol=5e-2)
    out.sum().backward()
    assert net.weight.grad is not None and torch.isfinite(net.weight.grad).all()


def test_disabled_is_the_wrapped_inferer() -> None:
    net = nn.Conv2d(1, 2, 3)
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(CPUAutocastInferer(SimpleInferer(), enabled=False)(x, net), net(x), rtol=0, atol=0)


def test_outputs_in_lists_are_cast() -> None:
    out = CPUAutocastInferer(SimpleInferer())(torch.rand(1, 1, 8, 8), lambda x: [x.bfloat16(), x.long()])
    assert [o.dtype for o in out] == [torch.float32, torch.int64]


def test_bad_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="enabled='true'"):
        CPUAutocastInferer(SimpleInferer(), enabled="true")
    with pytest.raises(TypeError, match="inferer=3"):
        CPUAutocastInferer(3)
