"""Helpers the package and its bundle configs share: atomic file writes (:mod:`~dca_monai.utils.atomic_file`),
booleans from the bundle command line (:mod:`~dca_monai.utils.config_flags`) and the process group of
``torchrun`` / multi-node / SLURM runs (:mod:`~dca_monai.utils.distributed`)."""

from __future__ import annotations

from dca_monai.utils.atomic_file import atomic_path, write_bytes_atomic
from dca_monai.utils.config_flags import require_bool
from dca_monai.utils.distributed import init_distributed, local_device, prepare_ddp_module, rank_shard

__all__ = [
    "atomic_path",
    "init_distributed",
    "local_device",
    "prepare_ddp_module",
    "rank_shard",
    "require_bool",
    "write_bytes_atomic",
]
