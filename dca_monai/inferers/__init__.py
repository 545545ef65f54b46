"""Inferers MONAI lacks: CPU autocast around any inferer (the ``amp`` switch on CPU); test-time flip averaging."""

from __future__ import annotations

from dca_monai.inferers.cpu_autocast_inferer import CPUAutocastInferer
from dca_monai.inferers.flip_averaged_inferer import FlipAveragedInferer

__all__ = ["CPUAutocastInferer", "FlipAveragedInferer"]
