"""Helpers the package and its bundle configs share: atomic file writes (:mod:`~dca_monai.utils.atomic_file`),
booleans from the bundle command line (:mod:`~dca_monai.utils.config_flags`) and the process group of
``torchrun`` / multi-node / SLURM runs (:mod:`~dca_monai.utils.distributed`)."""

from __future__ import annotations

from dca_monai.utils.atomic_file import atomic_path, write_bytes_atomic
from dca_monai.utils.config_flags import require_bool

__all__ = ["atomic_path", "require_bool", "write_bytes_atomic"]
