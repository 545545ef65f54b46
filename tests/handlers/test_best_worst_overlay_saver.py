from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor
from monai.networks.utils import one_hot
from PIL import Image

from dca_monai.handlers.best_worst_overlay_saver import BestWorstOverlaySaver

SHAPE = (12, 10, 8)
NUM_CLASSES = 3


def label_map(seed: int) -> torch.Tensor:
    """A ``(1, *SHAPE)`` map with classes 0, 1, 2 in slabs along the first axis, slab edges depending on ``seed``."""
    labels = torch.zeros(1, *SHAPE, dtype=torch.long)
    labels[:, 3 + seed % 2 :] = 1
    labels[:, 8:] = 2
    return labels


def case(name: str, label: torch.Tensor, prediction: torch.Tensor, as_one_hot: bool = True) -> dict:
    image = MetaTensor(torch.rand(1, *SHAPE), meta={"filename_or_obj": f"/data/{name}.nii.gz"})
    if as_one_hot:
        label, prediction = one_hot(label[None], NUM_CLASSES)[0], one_hot(prediction[None], NUM_CLASSES)[0]
    return {"image": image, "label": label, "pred": prediction}


def run_engine(saver: BestWorstOverlaySaver, batches: list[list[dict]]) -> Engine:
    engine = Engine(lambda engine, batch: batch)
    saver.attach(engine)
    engine.run(batches, max_epochs=1)
    return engine


def panels(path: Path) -> list[np.ndarray]:
    """The three panels of a saved figure (title strip dropped), as RGB arrays."""
    figure = np.asarray(Image.open(path).convert("RGB"))
    width = (figure.shape[1] - 2 * 4) // 3  # panels are 4 pixels apart
    body = figure[14:]  # below the 14-pixel title strip
    return [body[:, index * (width + 4) : index * (width + 4) + width] for index in range(3)]


def test_best_and_worst_cases_are_drawn(tmp_path: Path) -> None:
    perfect = case("perfect", label_map(0), label_map(0))
    wrong = label_map(0).clone()
    wrong[:, :6] = 2
    poor = case("poor", label_map(0), wrong)
    middling = case("middling", label_map(0), label_map(1))
    saver = BestWorstOverlaySaver(tmp_path, num_classes=NUM_CLASSES)

    run_engine(saver, [[middling, poor], [perfect]])

    assert sorted(path.name for path in tmp_path.iterdir()) == ["overlay_best.png", "overlay_worst.png"]
    best_image, best_label, best_pred = panels(tmp_path / "overlay_best.png")
    _, worst_label, worst_pred = panels(tmp_path / "overlay_worst.png")
    assert np.array_equal(best_label, best_pred)  # the perfect case: prediction panel equals label panel
    assert not np.array_equal(worst_label, worst_pred)
    assert not np.array_equal(best_image, best_label)


def test_case_slice_scores_and_slices(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, num_classes=NUM_CLASSES, slice_axis=1)
    wrong = label_map(0).clone()
    wrong[:, 8:] = 1  # class 2 entirely missed: Dice 0 for class 2, class 1 partly right
    scored = saver.case_slice(case("a", label_map(0), wrong), default_name="unused")

    overlap = 5 * SHAPE[1] * SHAPE[2]  # class 1 voxels in both
    dice_1 = 2 * overlap / (overlap + 9 * SHAPE[1] * SHAPE[2])
    assert scored.dice == pytest.approx((dice_1 + 0.0) / 2)
    assert scored.name == "a.nii.gz"
    assert scored.image.shape == (SHAPE[0], SHAPE[2])
    assert np.array_equal(scored.label, label_map(0)[0, :, SHAPE[1] // 2].numpy())


def test_label_maps_are_accepted(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, num_classes=NUM_CLASSES)
    scored = saver.case_slice(case("a", label_map(0), label_map(0), as_one_hot=False), default_name="unused")
    assert scored.dice == pytest.approx(1.0)


def test_cases_without_classes_are_not_ranked(tmp_path: Path) -> None:
    empty = torch.zeros(1, *SHAPE, dtype=torch.long)
    saver = BestWorstOverlaySaver(tmp_path, num_classes=NUM_CLASSES)
    assert math.isnan(saver.case_slice(case("empty", empty, empty), default_name="unused").dice)

    run_engine(saver, [[case("empty", empty, empty)]])
    assert list(tmp_path.iterdir()) == []

    run_engine(saver, [[case("empty", empty, empty), case("ok", label_map(0), label_map(0))]])
    assert len(list(tmp_path.iterdir())) == 2


def test_collected_cases_reset_every_epoch(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, num_classes=NUM_CLASSES)
    engine = Engine(lambda engine, batch: batch)
    saver.attach(engine)
    engine.run([[case("a", label_map(0), label_map(1))]], max_epochs=2)
    assert len(saver._cases) == 1


def test_missing_key_is_named(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, num_classes=NUM_CLASSES, pred_key="seg")
    with pytest.raises(KeyError, match="no key 'seg'"):
        saver.case_slice(case("a", label_map(0), label_map(0)), default_name="unused")


@pytest.mark.parametrize(
    "kwargs, message",
    [({"num_classes": 1}, "num_classes=1"), ({"num_classes": 3, "slice_axis": 3}, "slice_axis=3")],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BestWorstOverlaySaver(tmp_path, **kwargs)
