"""Ignite handlers MONAI lacks: atomic checkpoints with a resumable best record, random state, overlays, HD95 in mm."""

from __future__ import annotations

from dca_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from dca_monai.handlers.best_worst_overlay_saver import BestWorstOverlaySaver
from dca_monai.handlers.physical_hausdorff_distance import PhysicalHausdorffDistance
from dca_monai.handlers.random_state_record import RandomStateRecord

__all__ = ["AtomicCheckpointSaver", "BestWorstOverlaySaver", "PhysicalHausdorffDistance", "RandomStateRecord"]
