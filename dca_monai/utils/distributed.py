"""The distributed side of a bundle run launched by torchrun (one node, many nodes or SLURM): process group, device,
DDP module and data shards."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from monai.data import partition_dataset
from torch import nn

__all__ = [
    "check_elastic_environment",
    "exists_on_rank_zero",
    "init_distributed",
    "local_device",
    "log_info_on_rank_zero",
    "match_slurm_local_rank",
    "prepare_ddp_module",
    "rank_shard",
]

SHARE_STORE_VARIABLE = "TORCH_DISABLE_SHARE_RDZV_TCP_STORE"


def check_elastic_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Fail before training when torchrun may restart workers but they would share the rendezvous store.

    Since torch 2.4 the workers of a torchrun agent reuse the agent's c10d rendezvous store. After a
    restart (``--max-restarts`` > 0) that store still holds the addresses of the dead workers, and
    the new ``init_process_group`` fails with gloo/NCCL ``Connection refused`` most of the time.
    ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` gives every restart a store of its own.

    Args:
        environ: the worker's environment (torchrun sets ``TORCHELASTIC_MAX_RESTARTS``).

    Raises:
        RuntimeError: when ``TORCHELASTIC_MAX_RESTARTS`` is above 0 and
            ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE`` is not ``1``.
    """
    restarts = environ.get("TORCHELASTIC_MAX_RESTARTS", "0")
    if int(restarts or 0) > 0 and environ.get(SHARE_STORE_VARIABLE) != "1":
        raise RuntimeError(
            f"torchrun runs with --max-restarts={restarts} but {SHARE_STORE_VARIABLE}="
            f"{environ.get(SHARE_STORE_VARIABLE)!r} (expected '1'): restarted workers would reuse the "
            f"rendezvous store of the dead ones and fail in init_process_group with 'Connection refused'. "
            f"Start torchrun as `{SHARE_STORE_VARIABLE}=1 torchrun ...` (scripts/slurm_train.sh does)."
        )


def match_slurm_local_rank(environ: MutableMapping[str, str] = os.environ) -> None:
    """Under SLURM, make ``SLURM_LOCALID`` agree with torchrun's ``LOCAL_RANK``.

    With ``srun torchrun`` SLURM starts one task per node (``SLURM_LOCALID=0``) and torchrun starts
    the workers; ignite's distributed helpers read ``SLURM_LOCALID`` under SLURM and write it over
    ``LOCAL_RANK``, which would put every worker of a node on GPU 0.

    Args:
        environ: the environment to update (``os.environ`` by default).
    """
    if "SLURM_JOB_ID" in environ and "LOCAL_RANK" in environ:
        environ["SLURM_LOCALID"] = environ["LOCAL_RANK"]


def init_distributed(backend: str | None = None) -> None:
    """Check the launch environment, then start the default process group once (later calls do nothing).

    The rank, world size and rendezvous come from torchrun's environment (``env://``). On CUDA the
    worker's device becomes ``cuda:LOCAL_RANK``.

    Args:
        backend: ``"nccl"``, ``"gloo"``, ...; ``None`` picks nccl with CUDA, gloo without.

    Raises:
        RuntimeError: see :func:`check_elastic_environment`.
    """
    check_elastic_environment()
    match_slurm_local_rank()
    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend or ("nccl" if torch.cuda.is_available() else "gloo"))


def exists_on_rank_zero(path: str | os.PathLike) -> bool:
    """Whether ``path`` exists on rank 0, the same answer on every rank (broadcast).

    Only rank 0 writes checkpoints; deciding to resume from its view keeps all ranks in step (a rank
    that cannot read the file then fails in the checkpoint loader instead of training from scratch).

    Args:
        path: a file, e.g. the resume checkpoint.
    """
    found = [os.path.exists(path)]
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast_object_list(found, src=0)
    return bool(found[0])


class _RankZeroInfo(logging.Filter):
    """Drop records below WARNING outside rank 0."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not dist.is_initialized() or dist.get_rank() == 0


def log_info_on_rank_zero(logger: logging.Logger) -> logging.Logger:
    """Let ``logger`` pass info and debug records on rank 0 only; warnings and errors pass on every rank.

    MONAI's evaluator logs "Got new best metric" on every rank although only rank 0 saves the model.

    Args:
        logger: e.g. ``@validate#evaluator.logger``.

    Returns:
        ``logger``, with the filter added once.
    """
    if not any(isinstance(existing, _RankZeroInfo) for existing in logger.filters):
        logger.addFilter(_RankZeroInfo())
    return logger


def local_device(environ: Mapping[str, str] = os.environ) -> torch.device:
    """This worker's device: ``cuda:LOCAL_RANK`` with CUDA, else the CPU.

    Args:
        environ: the worker's environment (torchrun sets ``LOCAL_RANK``; 0 when absent).
    """
    if torch.cuda.is_available():
        return torch.device(f"cuda:{int(environ.get('LOCAL_RANK', '0'))}")
    return torch.device("cpu")


def prepare_ddp_module(network: nn.Module, device: torch.device | str, sync_batch_norm: bool) -> nn.Module:
    """The module to wrap in ``DistributedDataParallel``: batch norms made synchronous if asked, on ``device``.

    Args:
        network: the bundle's ``network_def``.
        device: this worker's device (:func:`local_device`).
        sync_batch_norm: convert every batch norm (the DCA block's included) to ``SyncBatchNorm``; a Python
            bool (checked with :func:`~dca_monai.utils.config_flags.require_bool`).
    """
    from dca_monai.utils.config_flags import require_bool

    if require_bool("sync_batch_norm", sync_batch_norm):
        network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
    return network.to(device)


def rank_shard(data: Sequence[Any], seed: int) -> list[Any]:
    """This rank's part of ``data``: disjoint shuffled shards of equal size (a few items repeat to even them out).

    Every rank caches and augments only its shard; the shuffle is the same on every rank (``seed``).

    Args:
        data: the training datalist.
        seed: the run's common seed (not the per-rank seed).
    """
    world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = dist.get_rank() if world_size > 1 else 0
    return partition_dataset(data, num_partitions=world_size, shuffle=True, even_divisible=True, seed=seed)[rank]
