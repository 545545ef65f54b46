"""Inferers MONAI lacks: CPU autocast around any inferer (the bundles' ``amp`` switch on CPU)."""

from __future__ import annotations

from dca_monai.inferers.cpu_autocast_inferer import CPUAutocastInferer

__all__ = ["CPUAutocastInferer"]
