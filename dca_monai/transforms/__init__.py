"""Transform-side pieces MONAI lacks: an atomic NIfTI writer for ``SaveImage(d)``."""

from __future__ import annotations

from dca_monai.transforms.atomic_nibabel_writer import AtomicNibabelWriter

__all__ = ["AtomicNibabelWriter"]
