"""An inferer that runs another inferer under CPU autocast (bfloat16), for the bundles' ``amp`` switch on CPU."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["CPUAutocastInferer"]


def _to_float32(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() else output
    if isinstance(output, (list, tuple)):
        return type(output)(_to_float32(item) for item in output)
    if isinstance(output, dict):
        return {key: _to_float32(value) for key, value in output.items()}
    return output


class CPUAutocastInferer(Inferer):
    """Run ``inferer`` under ``torch.autocast("cpu", dtype)``; floating outputs come back as float32.

    MONAI's engines implement ``amp`` with ``torch.autocast("cuda")`` only, which does nothing on a
    CPU. Wrapping the engine's inferer gives the CPU the same switch: convolutions and GEMMs run in
    bfloat16 (fast on CPUs with AVX-512 BF16 or AMX), while the DCA block keeps its LayerNorm
    statistics, channel attention and softmax in float32. Outputs are cast to float32 so losses,
    metrics and post-processing see what they see without autocast. Gradients flow through.

    Args:
        inferer: the inferer to wrap (``SimpleInferer``, ``SlidingWindowInferer``, ...).
        enabled: whether to autocast (a bundle passes ``$@amp and @device.type == 'cpu'``).
        dtype: the autocast dtype, ``torch.bfloat16`` (default) or ``torch.float16``.

    Raises:
        TypeError: when ``enabled`` is not a bool or ``inferer`` is not callable.
    """

    def __init__(self, inferer: Inferer, enabled: bool = True, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled={enabled!r} ({type(enabled).__name__}) but a bool was expected")
        if not callable(inferer):
            raise TypeError(f"inferer={inferer!r} is not callable; a monai.inferers.Inferer was expected")
        self.inferer = inferer
        self.enabled = enabled
        self.dtype = dtype

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> Any:
        """``inferer(inputs, network, *args, **kwargs)`` under CPU autocast when enabled."""
        if not self.enabled:
            return self.inferer(inputs, network, *args, **kwargs)
        with torch.autocast("cpu", dtype=self.dtype):
            output = self.inferer(inputs, network, *args, **kwargs)
        return _to_float32(output)
