"""Learning-rate schedules of the bundles that follow the config, not the checkpoint, when a run resumes."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["polynomial_decay"]


def polynomial_decay(epochs: int, power: float) -> Callable[[int], float]:
    """``lr_lambda`` of ``torch.optim.lr_scheduler.LambdaLR``: ``max(0, 1 - epoch / epochs) ** power``.

    The same curve as torch's ``PolynomialLR(total_iters=epochs, power=power)``, but a function: ``LambdaLR``
    does not save functions in its state dict, so a run resumed with a larger ``epochs`` follows the new length
    (``PolynomialLR`` would restore the old ``total_iters`` from the checkpoint and stay at 0 after it).

    Args:
        epochs: epochs of the whole run (the schedule reaches 0 there).
        power: the polynomial's power (1 is linear decay).

    Raises:
        ValueError: for ``epochs`` below 1.
    """
    if epochs < 1:
        raise ValueError(f"epochs={epochs!r} but a positive number of epochs was expected")

    def factor(epoch: int) -> float:
        return max(0.0, 1.0 - epoch / epochs) ** power

    return factor
