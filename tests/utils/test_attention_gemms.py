from __future__ import annotations

import pytest
import torch

from dca_monai.utils import attention_gemms
from dca_monai.utils.attention_gemms import GemmCall, fresh_rate, record_gemms


def test_record_gemms_sees_forward_and_backward() -> None:
    a = torch.rand(2, 5, 3, requires_grad=True)
    b = torch.rand(2, 3, 4, requires_grad=True)
    calls = record_gemms(lambda: torch.bmm(a, b).sum())
    assert [(call.op, call.backward) for call in calls] == [("bmm", False), ("bmm", True), ("bmm", True)]
    assert calls[0].flops == 2 * 2 * 5 * 3 * 4


@pytest.mark.parametrize("faster", ["as_called", "transposed"])
def test_fresh_rate_takes_the_faster_orientation(monkeypatch: pytest.MonkeyPatch, faster: str) -> None:
    """``a @ b`` and ``(b^T a^T)^T`` are the same product: the fresh rate is the better of the two."""
    call = GemmCall("bmm", (torch.rand(2, 6, 5), torch.rand(2, 5, 3)), backward=False)
    timed: list[tuple[list[int], list[int]]] = []

    def fake_time(a: torch.Tensor, b: torch.Tensor, repeats: int = 5) -> float:
        timed.append((list(a.shape), list(b.shape)))
        as_called = list(a.shape) == [2, 6, 5]
        gflops = 40 if as_called == (faster == "as_called") else 10
        return call.flops / (gflops * 1e9)

    monkeypatch.setattr(attention_gemms, "time_gemm", fake_time)
    rate = fresh_rate(call)
    assert timed == [([2, 6, 5], [2, 5, 3]), ([2, 3, 5], [2, 5, 6])]
    assert rate == pytest.approx(40.0)
