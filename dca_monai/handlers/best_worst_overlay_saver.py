"""Ignite handler: PNG overlays of the best and the worst case of an evaluation, ranked by per-case metric details."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from monai.data import decollate_batch
from monai.utils import IgniteInfo, min_version, optional_import

from dca_monai.visualize.label_overlay import save_label_overlay

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
idist, _ = optional_import("ignite", IgniteInfo.OPT_IMPORT_VERSION, min_version, "distributed")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["BestWorstOverlaySaver"]


@dataclass(frozen=True)
class _CaseSlice:
    """One evaluated case: its name and the 2D slices shown for it."""

    name: str
    image: np.ndarray
    label: np.ndarray
    prediction: np.ndarray


class BestWorstOverlaySaver:
    """Save ``overlay_best.png`` and ``overlay_worst.png``: image, label and prediction of two cases.

    During an evaluator's epoch it keeps, for every case of ``engine.state.output`` (the
    decollated, post-processed items of MONAI's evaluators), the middle slice across
    ``slice_axis`` of its image, label and prediction. When the run completes it ranks the cases
    by the per-case scores that a MONAI metric handler attached under ``metric_name`` left in
    ``engine.state.metric_details[metric_name]`` (``save_details=True``, the default of
    ``MeanDice``; a ``(N, C)`` tensor, one row per case in evaluation order, averaged over the
    classes that are not ``nan``) and writes a :func:`~dca_monai.visualize.save_label_overlay`
    figure of the best and of the worst case (the same case twice when there is one). Cases whose
    score is undefined (``nan`` for every class) are not ranked. Files are written atomically, by
    rank 0 only; in a distributed evaluation rank 0 ranks its own share of the cases (the first
    rows of the gathered details).

    Labels and predictions may be one-hot ``(C, *S)`` or label maps ``(1, *S)``.

    Args:
        output_dir: folder of the figures, created when missing.
        metric_name: name of the metric whose details rank the cases, e.g. ``"val_mean_dice"``
            (the key of the evaluator's ``key_val_metric`` or ``additional_metrics``).
        higher_is_better: ``True`` for scores such as Dice, ``False`` for distances such as HD95.
        slice_axis: spatial axis (0, 1 or 2) across which the middle slice is taken; for RAS-oriented
            volumes 2 gives an axial slice, 1 coronal, 0 sagittal.
        image_key: key of the image in each output item.
        label_key: key of the label in each output item.
        pred_key: key of the prediction in each output item.
        name: logger name; ``None`` uses the engine's logger.

    Raises:
        ValueError: for an empty ``metric_name`` or a ``slice_axis`` outside 0-2.
        KeyError: when the run completes and ``engine.state.metric_details`` has no ``metric_name``.
        ValueError: when the run completes and the details hold fewer rows (more, on one process)
            than the cases seen.

    Example::

        MeanDice(include_background=False, output_transform=from_engine(["pred", "label"])).attach(
            evaluator, "val_mean_dice"
        )
        BestWorstOverlaySaver("eval", metric_name="val_mean_dice").attach(evaluator)
    """

    best_filename = "overlay_best.png"
    worst_filename = "overlay_worst.png"

    def __init__(
        self,
        output_dir: str | os.PathLike,
        metric_name: str = "val_mean_dice",
        higher_is_better: bool = True,
        slice_axis: int = 2,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        name: str | None = None,
    ) -> None:
        if not isinstance(metric_name, str) or not metric_name:
            raise ValueError(f"metric_name={metric_name!r} but the name of an attached metric was expected")
        if slice_axis not in (0, 1, 2):
            raise ValueError(f"slice_axis={slice_axis!r} but 0, 1 or 2 was expected")
        self.output_dir = Path(output_dir)
        self.metric_name = metric_name
        self.higher_is_better = higher_is_better
        self.slice_axis = slice_axis
        self.image_key = image_key
        self.label_key = label_key
        self.pred_key = pred_key
        self.logger = logging.getLogger(name)
        self._name = name
        self._cases: list[_CaseSlice] = []

    def attach(self, engine: Engine) -> None:
        """Collect cases at every iteration of ``engine`` and write the figures when its run completes."""
        if self._name is None:
            self.logger = engine.logger
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        # COMPLETED comes after every EPOCH_COMPLETED handler, so the metric's details are this epoch's
        # whatever the order in which the handlers were attached
        engine.add_event_handler(Events.COMPLETED, self.save)

    def reset(self, engine: Engine | None = None) -> None:
        """Forget the cases collected so far."""
        self._cases = []

    def collect(self, engine: Engine) -> None:
        """Slice every case of ``engine.state.output``."""
        output = engine.state.output
        items = output if isinstance(output, Sequence) else decollate_batch(output)
        for item in items:
            self._cases.append(self.case_slice(item, default_name=f"case {len(self._cases)}"))

    def case_slice(self, item: Mapping[str, Any], default_name: str) -> _CaseSlice:
        """The middle slices of one output item."""
        for key in (self.image_key, self.label_key, self.pred_key):
            if key not in item:
                raise KeyError(
                    f"output item has no key {key!r} (keys: {sorted(item)}); set image_key/label_key/pred_key"
                )
        image = torch.as_tensor(item[self.image_key]).detach().cpu()
        label = self._label_map(item[self.label_key])
        prediction = self._label_map(item[self.pred_key])
        if label.shape != prediction.shape or label.shape != image.shape[1:]:
            raise ValueError(
                f"{self.label_key} map {tuple(label.shape)}, {self.pred_key} map {tuple(prediction.shape)} and "
                f"{self.image_key} {tuple(image.shape)} were expected to share their spatial shape"
            )
        middle = image.shape[1 + self.slice_axis] // 2
        return _CaseSlice(
            name=_case_name(item[self.image_key], default_name),
            image=image[0].select(self.slice_axis, middle).float().numpy(),
            label=label.select(self.slice_axis, middle).numpy(),
            prediction=prediction.select(self.slice_axis, middle).numpy(),
        )

    def case_scores(self, engine: Engine) -> list[float]:
        """One score per collected case: the mean over classes of its row of ``metric_details[metric_name]``.

        Raises:
            KeyError: when ``engine.state.metric_details`` has no ``metric_name``.
            ValueError: when the details are not one tensor with a row per case.
        """
        details_by_name = getattr(engine.state, "metric_details", None) or {}
        details = details_by_name.get(self.metric_name)
        if details is None:
            raise KeyError(
                f"engine.state.metric_details has no {self.metric_name!r} (keys: {sorted(details_by_name)}); "
                f"attach a metric named {self.metric_name!r} with save_details=True, or set metric_name"
            )
        try:
            scores = torch.as_tensor(details, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"engine.state.metric_details[{self.metric_name!r}] is a {type(details).__name__} but one "
                "tensor of per-case scores (N, C) was expected"
            ) from error
        seen = len(self._cases)
        rows = scores.shape[0] if scores.ndim else 1
        if rows < seen or (rows != seen and idist.get_world_size() == 1):
            raise ValueError(
                f"engine.state.metric_details[{self.metric_name!r}] has {rows} rows but {seen} cases were "
                "evaluated; one row per case, in evaluation order, was expected"
            )
        return torch.nanmean(scores.reshape(rows, -1)[:seen], dim=1).tolist()

    def save(self, engine: Engine) -> list[Path]:
        """Write the figures of the best and the worst case; return their paths (none on other ranks)."""
        if idist.get_rank() != 0:
            return []
        scored = [(score, case) for score, case in zip(self.case_scores(engine), self._cases) if not math.isnan(score)]
        if not scored:
            self.logger.warning(f"{type(self).__name__}: no case with a defined {self.metric_name}, no figure written")
            return []
        ranked = sorted(scored, key=lambda pair: pair[0], reverse=not self.higher_is_better)
        paths = []
        for tag, filename, (score, case) in (
            ("best", self.best_filename, ranked[-1]),
            ("worst", self.worst_filename, ranked[0]),
        ):
            title = f"{tag}: {case.name}  {self.metric_name} {score:.3f}  (image | label | prediction)"
            paths.append(
                save_label_overlay(self.output_dir / filename, case.image, case.label, case.prediction, title=title)
            )
            self.logger.info(
                f"{type(self).__name__}: {tag} case {case.name} ({self.metric_name} {score:.4f}) -> {paths[-1]}"
            )
        return paths

    def _label_map(self, value: Any) -> torch.Tensor:
        """A ``(*S)`` int64 label map from a one-hot ``(C, *S)`` or a ``(1, *S)`` map."""
        tensor = torch.as_tensor(value).detach().cpu()
        if tensor.shape[0] > 1:
            return tensor.argmax(0)
        return tensor[0].round().long()


def _case_name(image: Any, default: str) -> str:
    meta = getattr(image, "meta", None) or {}
    source = meta.get("filename_or_obj")
    if isinstance(source, (str, os.PathLike)) and str(source):
        return Path(source).name
    return default
