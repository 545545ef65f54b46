"""MONAI's CheckpointSaver with atomic writes, a fixed name for the interval checkpoint and a resumable best record."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import ignite.distributed as idist
from ignite.engine import Engine
from ignite.handlers import DiskSaver
from monai.handlers import CheckpointSaver

__all__ = ["AtomicCheckpointSaver"]


class _AtomicDiskSaver(DiskSaver):
    """Ignite's ``DiskSaver`` in atomic mode (temporary file in ``dirname``, then ``os.replace``).

    With a fixed ``filename`` every checkpoint goes to that name, and ``remove`` keeps the old file:
    ignite removes the checkpoint it replaces *before* writing the new one, which would leave no
    file at all if the process died in between; the atomic replace makes the removal unnecessary.
    """

    def __init__(self, dirname: str | os.PathLike, filename: str | None = None) -> None:
        super().__init__(dirname=dirname, atomic=True, create_dir=True, require_empty=False)
        self.filename = filename

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        super().__call__(checkpoint, self.filename or filename, metadata)

    def remove(self, filename: str) -> None:
        if self.filename is None:
            super().remove(filename)


class AtomicCheckpointSaver(CheckpointSaver):
    """:class:`~monai.handlers.CheckpointSaver` whose files are never seen half-written.

    MONAI's saver writes straight into the final file (ignite's ``DiskSaver`` with ``atomic=False``)
    and, for a fixed file name, deletes the previous file before writing the next one, so an
    interruption can leave a truncated checkpoint or none. This saver writes every checkpoint to a
    temporary file in ``save_dir`` and renames it over the target (``os.replace``); a fixed-name
    file stays in place until its replacement is complete. Only rank 0 writes in a distributed run
    (ignite's ``DiskSaver``) and only rank 0 logs "Saved checkpoint"; every rank still collects the
    ``state_dict`` of each item, so items may gather state from all ranks.

    It also adds:

    - ``interval_filename``: a fixed name for the checkpoint saved every ``save_interval`` epochs or
      iterations (MONAI names it ``checkpoint_epoch=N.pt``), so that a run resumes from a known
      path such as ``last.pt``.
    - :meth:`state_dict`: the best-metric record (scores and file names of the ``key_metric_n_saved``
      best checkpoints). Put this saver into the ``save_dict`` of a resume checkpoint and into the
      ``load_dict`` of the :class:`~monai.handlers.CheckpointLoader` that resumes, and a resumed run
      only replaces the best model when it beats the best score of the interrupted run.
      :meth:`~monai.handlers.CheckpointSaver.load_state_dict` is MONAI's.

    Args:
        save_dir, save_dict, name, file_prefix, save_final, final_filename, save_key_metric,
            key_metric_name, key_metric_n_saved, key_metric_filename, key_metric_save_state,
            key_metric_greater_or_equal, key_metric_negative_sign, epoch_level, save_interval,
            n_saved: as :class:`~monai.handlers.CheckpointSaver`.
        interval_filename: fixed file name of the interval checkpoint; requires ``n_saved=1``.
            ``None`` keeps MONAI's names.

    Raises:
        ValueError: when ``interval_filename`` is given with ``n_saved`` other than 1, and as
            :class:`~monai.handlers.CheckpointSaver`.

    Example::

        saver = AtomicCheckpointSaver(
            "models", {"network": net, "optimizer": opt, "trainer": trainer},
            save_interval=1, n_saved=1, interval_filename="last.pt",
        )
        saver.attach(trainer)
    """

    def __init__(
        self,
        save_dir: str,
        save_dict: dict,
        name: str | None = None,
        file_prefix: str = "",
        save_final: bool = False,
        final_filename: str | None = None,
        save_key_metric: bool = False,
        key_metric_name: str | None = None,
        key_metric_n_saved: int = 1,
        key_metric_filename: str | None = None,
        key_metric_save_state: bool = False,
        key_metric_greater_or_equal: bool = False,
        key_metric_negative_sign: bool = False,
        epoch_level: bool = True,
        save_interval: int = 0,
        n_saved: int | None = None,
        interval_filename: str | None = None,
    ) -> None:
        if interval_filename is not None and n_saved != 1:
            raise ValueError(
                f"n_saved={n_saved!r} but 1 is required with interval_filename={interval_filename!r}: "
                "a fixed file name holds one checkpoint"
            )
        super().__init__(
            save_dir=save_dir,
            save_dict=save_dict,
            name=name,
            file_prefix=file_prefix,
            save_final=save_final,
            final_filename=final_filename,
            save_key_metric=save_key_metric,
            key_metric_name=key_metric_name,
            key_metric_n_saved=key_metric_n_saved,
            key_metric_filename=key_metric_filename,
            key_metric_save_state=key_metric_save_state,
            key_metric_greater_or_equal=key_metric_greater_or_equal,
            key_metric_negative_sign=key_metric_negative_sign,
            epoch_level=epoch_level,
            save_interval=save_interval,
            n_saved=n_saved,
        )
        # MONAI builds one ignite Checkpoint per trigger, each with a non-atomic saver: swap the savers
        for checkpoint, filename in (
            (self._final_checkpoint, final_filename),
            (self._key_metric_checkpoint, key_metric_filename),
            (self._interval_checkpoint, interval_filename),
        ):
            if checkpoint is not None:
                checkpoint.save_handler = _AtomicDiskSaver(save_dir, filename)

    def interval_completed(self, engine: Engine) -> None:
        """Save the interval checkpoint; the log line comes from rank 0, the one that wrote the file."""
        if idist.get_rank() == 0:
            super().interval_completed(engine)
        elif callable(self._interval_checkpoint):
            self._interval_checkpoint(engine)

    def state_dict(self) -> dict[str, Any]:
        """The best-metric record: ``{key: [(score, filename), ...]}``, empty without ``save_key_metric``.

        ``key`` is the one the installed ignite reads back: ``"_saved"`` from pytorch-ignite 0.5,
        ``"saved"`` in 0.4.11 (which ``monai[ignite]==1.5.2`` pins). Scores are plain floats so that
        the record loads with ``torch.load(..., weights_only=True)``.
        """
        key = _ignite_saved_key()
        if self._key_metric_checkpoint is None:
            return {key: []}
        saved = self._key_metric_checkpoint.state_dict()[key]
        return {key: [(float(score), str(filename)) for score, filename in saved]}


def _ignite_saved_key() -> str:
    """The key of ignite's ``Checkpoint.state_dict``: ``"_saved"`` (ignite >= 0.5) or ``"saved"`` (0.4.x)."""
    from ignite.handlers import Checkpoint

    return getattr(Checkpoint, "_state_dict_all_req_keys", ("saved",))[0]
