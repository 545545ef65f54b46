"""dca_monai: Dual Cross-Attention (DCA) blocks and DCA-enhanced networks for MONAI."""

from __future__ import annotations

from dca_monai.blocks import DCA, DualCrossAttention

__version__ = "0.1.0"

__all__ = ["DCA", "DualCrossAttention", "__version__"]
