"""Ignite handlers that MONAI lacks: atomic checkpoints with a resumable best record, best/worst case figures."""

from __future__ import annotations

from dca_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from dca_monai.handlers.best_worst_overlay_saver import BestWorstOverlaySaver

__all__ = ["AtomicCheckpointSaver", "BestWorstOverlaySaver"]
