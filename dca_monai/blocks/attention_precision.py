"""Where DCA's attention keeps float32 under autocast, and a softmax that yields no subnormal numbers."""

from __future__ import annotations

import torch

__all__ = ["LOGIT_RANGE", "autocast_device", "softmax_without_subnormals"]

# logits further than this below their row's maximum are raised to it: exp(-30) = 9.4e-14, a weight no float32
# sum can see next to the row's largest (>= 1 / row length), and far above float32's smallest normal number (1.2e-38)
LOGIT_RANGE = 30.0


def softmax_without_subnormals(logits: torch.Tensor, dim: int = -1, logit_range: float = LOGIT_RANGE) -> torch.Tensor:
    """``softmax(logits, dim)`` in float32 whose probabilities and gradients are never subnormal.

    The channel cross-attention's logits sum over all ``N`` tokens, so they spread over hundreds
    of units (up to +-200 seen at 2D 224^2 with random weights): ``softmax`` then returns
    probabilities below float32's smallest normal number (6-8% of them there), and its backward
    gradients too. CPUs without flush-to-zero handle subnormal GEMM operands in microcode (Intel:
    tens of times slower, the 3 GFLOP/s backward GEMMs of issue 20); some (AMD Zen) do not slow
    down. Raising every logit to at least ``row max - LOGIT_RANGE`` bounds the probabilities
    below by ``exp(-logit_range) / row length`` and gives those entries exactly zero gradient: the result
    differs from ``softmax`` by less than ``row length * exp(-30)`` (4.5e-11 for 480 channels).

    Args:
        logits: ``(..., K)`` scores, any float dtype.
        dim: the axis to normalise.
        logit_range: how far below its row's maximum a logit may lie (default :data:`LOGIT_RANGE`).

    Returns:
        Probabilities of the shape of ``logits``, float32 (float64 for float64 logits).
    """
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    logits = logits.to(dtype)
    floor = logits.amax(dim, keepdim=True).detach() - logit_range
    return torch.softmax(torch.maximum(logits, floor), dim)


def autocast_device(x: torch.Tensor) -> str | None:
    """The device type whose autocast is active for ``x`` (``"cuda"``, ``"cpu"``, ...), else ``None``."""
    device_type = x.device.type
    return device_type if torch.is_autocast_enabled(device_type) else None
