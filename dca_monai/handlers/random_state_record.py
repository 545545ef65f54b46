"""The random state of every rank (Python, NumPy, torch, CUDA, random transforms) as a checkpoint item."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from monai.transforms import Randomizable

__all__ = ["RandomStateRecord"]


class RandomStateRecord:
    """A ``state_dict``/``load_state_dict`` object holding the random number generators of all ranks.

    Put it into the ``save_dict`` of the resume checkpoint and into the ``load_dict`` of the
    :class:`~monai.handlers.CheckpointLoader`: a resumed run then draws the same shuffles, crops and
    augmentations as a run that was never interrupted.

    :meth:`state_dict` captures, per rank, the global Python, NumPy and torch generators, the current
    CUDA device's generator, and the ``R`` generator of every :class:`~monai.transforms.Randomizable`
    reachable from ``transform`` (``Compose`` lists and transforms nested in attributes, e.g.
    ``RandAffined.rand_affine``). In a distributed run every rank must call it (ignite's ``Checkpoint``
    does); the states are gathered so that rank 0's file holds them all. :meth:`load_state_dict`
    restores each rank from its own entry.

    The transforms' generators are those of this process: with DataLoader workers the augmentations
    run in the workers, which MONAI's ``worker_init_fn`` reseeds from the restored torch generator
    when they start (persistent workers: once per run), so a resumed run with workers is reproducible
    but not identical to an uninterrupted one.

    Everything is stored as tensors, ints, floats and lists, so the checkpoint loads with
    ``torch.load(..., weights_only=True)``.

    Args:
        transform: the training pipeline (a ``Compose`` or any transform); ``None`` records only the
            global generators.

    Example::

        record = RandomStateRecord(train_ds.transform)
        save_dict = {"network": net, "optimizer": opt, "trainer": trainer, "random_state": record}
    """

    def __init__(self, transform: Any | None = None) -> None:
        self.transform = transform

    def randomizable_transforms(self) -> list[Randomizable]:
        """The randomizable transforms of ``transform``, depth first, each once."""
        return list(_walk(self.transform, set()))

    def state_dict(self) -> dict[str, Any]:
        """``{"ranks": [state of rank 0, state of rank 1, ...]}``; one entry without a process group."""
        local = self._local_state()
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return {"ranks": [local]}
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, local)
        return {"ranks": gathered}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore this rank's generators from its entry of :meth:`state_dict`.

        A rank without an entry (the run restarted with more processes) keeps its seeded state and warns.

        Raises:
            ValueError: when the entry has another number of transform states than ``transform`` has
                randomizable transforms (the pipeline changed since the checkpoint).
        """
        ranks = state_dict["ranks"]
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        if rank >= len(ranks):
            warnings.warn(
                f"random_state has {len(ranks)} rank(s) but this is rank {rank}: "
                "its generators keep their seeded state",
                stacklevel=2,
            )
            return
        state = ranks[rank]
        transforms = self.randomizable_transforms()
        if len(state["transforms"]) != len(transforms):
            raise ValueError(
                f"random_state['ranks'][{rank}]['transforms'] has {len(state['transforms'])} states but the "
                f"training transform has {len(transforms)} randomizable transforms: the pipeline changed since "
                "the checkpoint"
            )
        random.setstate(_python_state_from(state["python"]))
        np.random.set_state(_numpy_state_from(state["numpy"]))
        torch.set_rng_state(state["torch"])
        if state["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"])
        for transform, transform_state in zip(transforms, state["transforms"]):
            transform.R.set_state(_numpy_state_from(transform_state))

    def _local_state(self) -> dict[str, Any]:
        return {
            "python": _python_state_to(random.getstate()),
            "numpy": _numpy_state_to(np.random.get_state()),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
            "transforms": [_numpy_state_to(transform.R.get_state()) for transform in self.randomizable_transforms()],
        }


def _walk(node: Any, seen: set[int]) -> Iterator[Randomizable]:
    """Randomizable objects under ``node``: itself, items of lists/tuples, attributes that are transforms."""
    if node is None or id(node) in seen:
        return
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item, seen)
        return
    if not callable(node) or not hasattr(node, "__dict__"):
        return
    seen.add(id(node))
    if isinstance(node, Randomizable):
        yield node
    for value in vars(node).values():
        if isinstance(value, (list, tuple)) or _is_transform(value):
            yield from _walk(value, seen)


def _is_transform(value: Any) -> bool:
    from monai.transforms import Transform

    return isinstance(value, (Transform, Randomizable))


def _python_state_to(state: tuple) -> list[Any]:
    version, internal, gauss = state
    return [version, torch.tensor(internal, dtype=torch.int64), gauss]


def _python_state_from(state: list[Any]) -> tuple:
    version, internal, gauss = state
    return (version, tuple(int(value) for value in internal.tolist()), gauss)


def _numpy_state_to(state: tuple) -> list[Any]:
    name, keys, position, has_gauss, cached_gaussian = state
    return [
        name,
        torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        int(position),
        int(has_gauss),
        float(cached_gaussian),
    ]


def _numpy_state_from(state: list[Any]) -> tuple:
    name, keys, position, has_gauss, cached_gaussian = state
    return (name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian)
