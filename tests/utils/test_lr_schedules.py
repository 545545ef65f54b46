from __future__ import annotations

import pytest
import torch

from dca_monai.utils.lr_schedules import polynomial_decay


def test_the_curve_is_torchs_polynomial_lr() -> None:
    weights = [torch.nn.Parameter(torch.zeros(1))]
    ours = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(weights, lr=0.1), polynomial_decay(5, 0.9))
    torchs = torch.optim.lr_scheduler.PolynomialLR(torch.optim.SGD(weights, lr=0.1), total_iters=5, power=0.9)
    for _ in range(7):
        assert ours.get_last_lr()[0] == pytest.approx(torchs.get_last_lr()[0], abs=1e-12)
        ours.optimizer.step(), torchs.optimizer.step()
        ours.step(), torchs.step()


def test_a_resumed_run_follows_the_new_length() -> None:
    weights = [torch.nn.Parameter(torch.zeros(1))]
    first = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(weights, lr=1.0), polynomial_decay(2, 1.0))
    first.optimizer.step()
    first.step()
    resumed = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(weights, lr=1.0), polynomial_decay(4, 1.0))
    resumed.load_state_dict(first.state_dict())
    resumed.optimizer.step()
    resumed.step()
    assert resumed.get_last_lr()[0] == pytest.approx(0.5)  # epoch 2 of 4, not the end of the old 2-epoch run


def test_no_epochs_is_refused() -> None:
    with pytest.raises(ValueError, match="epochs=0"):
        polynomial_decay(0, 0.9)
