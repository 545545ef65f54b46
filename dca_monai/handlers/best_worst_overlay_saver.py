"""Ignite handler: PNG overlays of the best and the worst case of an evaluation, ranked by mean Dice."""

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
from monai.metrics import compute_dice
from monai.networks.utils import one_hot
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
    """One evaluated case: its mean Dice and the 2D slices shown for it."""

    name: str
    dice: float
    image: np.ndarray
    label: np.ndarray
    prediction: np.ndarray


class BestWorstOverlaySaver:
    """Save ``overlay_best.png`` and ``overlay_worst.png``: image, label and prediction of two cases.

    During an evaluator's epoch it computes, for every case of ``engine.state.output`` (the
    decollated, post-processed items of MONAI's evaluators), the mean Dice over the classes and
    keeps the middle slice across ``slice_axis`` of its image, label and prediction. When the
    epoch completes it writes a :func:`~dca_monai.visualize.save_label_overlay` figure of the case
    with the highest and of the case with the lowest mean Dice (the same case twice when there
    is one). Cases whose Dice is undefined (no class present in label or prediction) are not
    ranked. Files are written atomically, by rank 0 only; in a distributed evaluation rank 0 ranks
    its own share of the cases.

    Labels and predictions may be one-hot ``(C, *S)`` or label maps ``(1, *S)``.

    Args:
        output_dir: folder of the figures, created when missing.
        num_classes: number of classes including background.
        include_background: count class 0 in the mean Dice.
        slice_axis: spatial axis (0, 1 or 2) across which the middle slice is taken; for RAS-oriented
            volumes 2 gives an axial slice, 1 coronal, 0 sagittal.
        image_key: key of the image in each output item.
        label_key: key of the label in each output item.
        pred_key: key of the prediction in each output item.
        name: logger name; ``None`` uses the engine's logger.

    Raises:
        ValueError: for ``num_classes < 2`` or a ``slice_axis`` outside 0-2.

    Example::

        BestWorstOverlaySaver("eval", num_classes=4).attach(evaluator)
    """

    best_filename = "overlay_best.png"
    worst_filename = "overlay_worst.png"

    def __init__(
        self,
        output_dir: str | os.PathLike,
        num_classes: int,
        include_background: bool = False,
        slice_axis: int = 2,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        name: str | None = None,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes={num_classes!r} but an int >= 2 (background included) was expected")
        if slice_axis not in (0, 1, 2):
            raise ValueError(f"slice_axis={slice_axis!r} but 0, 1 or 2 was expected")
        self.output_dir = Path(output_dir)
        self.num_classes = num_classes
        self.include_background = include_background
        self.slice_axis = slice_axis
        self.image_key = image_key
        self.label_key = label_key
        self.pred_key = pred_key
        self.logger = logging.getLogger(name)
        self._name = name
        self._cases: list[_CaseSlice] = []

    def attach(self, engine: Engine) -> None:
        """Collect cases at every iteration of ``engine`` and write the figures when its epoch completes."""
        if self._name is None:
            self.logger = engine.logger
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)

    def reset(self, engine: Engine | None = None) -> None:
        """Forget the cases collected so far."""
        self._cases = []

    def collect(self, engine: Engine) -> None:
        """Score and slice every case of ``engine.state.output``."""
        output = engine.state.output
        items = output if isinstance(output, Sequence) else decollate_batch(output)
        for item in items:
            self._cases.append(self.case_slice(item, default_name=f"case {len(self._cases)}"))

    def case_slice(self, item: Mapping[str, Any], default_name: str) -> _CaseSlice:
        """The mean Dice and the middle slices of one output item."""
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
        dice = compute_dice(
            one_hot(prediction[None, None], self.num_classes),
            one_hot(label[None, None], self.num_classes),
            include_background=self.include_background,
            ignore_empty=True,
        )
        present = dice[~torch.isnan(dice)]
        mean_dice = float(present.mean()) if present.numel() else math.nan
        middle = image.shape[1 + self.slice_axis] // 2
        return _CaseSlice(
            name=_case_name(item[self.image_key], default_name),
            dice=mean_dice,
            image=image[0].select(self.slice_axis, middle).float().numpy(),
            label=label.select(self.slice_axis, middle).numpy(),
            prediction=prediction.select(self.slice_axis, middle).numpy(),
        )

    def save(self, engine: Engine | None = None) -> list[Path]:
        """Write the figures of the best and the worst case; return their paths (none on other ranks)."""
        if idist.get_rank() != 0:
            return []
        ranked = sorted((case for case in self._cases if not math.isnan(case.dice)), key=lambda case: case.dice)
        if not ranked:
            self.logger.warning(f"{type(self).__name__}: no case with a defined Dice, no figure written")
            return []
        paths = []
        for tag, filename, case in (
            ("best", self.best_filename, ranked[-1]),
            ("worst", self.worst_filename, ranked[0]),
        ):
            title = f"{tag}: {case.name}  mean Dice {case.dice:.3f}  (image | label | prediction)"
            paths.append(
                save_label_overlay(self.output_dir / filename, case.image, case.label, case.prediction, title=title)
            )
            self.logger.info(
                f"{type(self).__name__}: {tag} case {case.name} (mean Dice {case.dice:.4f}) -> {paths[-1]}"
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
