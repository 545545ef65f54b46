from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Engine, Events
from monai.data import MetaTensor
from monai.handlers import MeanDice
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


def run_engine(saver: BestWorstOverlaySaver, batches: list[list[dict]], max_epochs: int = 1) -> Engine:
    """Run ``batches`` through an engine scored by MONAI's ``MeanDice`` (``val_mean_dice``) and ``saver``."""
    engine = Engine(lambda engine, batch: batch)
    saver.attach(engine)  # attached before the metric: the figures must still use this epoch's details
    MeanDice(include_background=False, output_transform=labels_and_predictions).attach(engine, "val_mean_dice")
    engine.run(batches, max_epochs=max_epochs)
    return engine


def labels_and_predictions(items: list[dict]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    return [item["pred"] for item in items], [item["label"] for item in items]


class PresetDetails:
    """Stands in for a metric handler: sets ``metric_details[name]`` to ``rows`` when the epoch completes."""

    def __init__(self, name: str, rows: list[list[float]]) -> None:
        self.name, self.rows = name, rows

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.set)

    def set(self, engine: Engine) -> None:
        if not hasattr(engine.state, "metric_details"):  # as MONAI's metric handlers do when attached
            engine.state.metric_details = {}
        engine.state.metric_details[self.name] = torch.tensor(self.rows)


def run_with_details(saver: BestWorstOverlaySaver, items: list[dict], details: PresetDetails | None) -> Engine:
    engine = Engine(lambda engine, batch: batch)
    saver.attach(engine)
    if details is not None:
        details.attach(engine)
    engine.run([items], max_epochs=1)
    return engine


def panels(path: Path) -> list[np.ndarray]:
    """The three panels of a saved figure (title strip dropped), as RGB arrays."""
    figure = np.asarray(Image.open(path).convert("RGB"))
    width = (figure.shape[1] - 2 * 4) // 3  # panels are 4 pixels apart
    body = figure[14:]  # below the 14-pixel title strip
    return [body[:, index * (width + 4) : index * (width + 4) + width] for index in range(3)]


def three_cases() -> list[dict]:
    perfect = case("perfect", label_map(0), label_map(0))
    wrong = label_map(0).clone()
    wrong[:, :6] = 2
    poor = case("poor", label_map(0), wrong)
    middling = case("middling", label_map(0), label_map(1))
    return [middling, poor, perfect]


def test_best_and_worst_cases_are_drawn(tmp_path: Path) -> None:
    middling, poor, perfect = three_cases()
    saver = BestWorstOverlaySaver(tmp_path, metric_name="val_mean_dice")

    engine = run_engine(saver, [[middling, poor], [perfect]])

    assert engine.state.metric_details["val_mean_dice"].shape == (3, NUM_CLASSES - 1)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["overlay_best.png", "overlay_worst.png"]
    best_image, best_label, best_pred = panels(tmp_path / "overlay_best.png")
    _, worst_label, worst_pred = panels(tmp_path / "overlay_worst.png")
    assert np.array_equal(best_label, best_pred)  # the perfect case: prediction panel equals label panel
    assert not np.array_equal(worst_label, worst_pred)
    assert not np.array_equal(best_image, best_label)


def test_cases_are_ranked_by_the_metric_details_not_recomputed(tmp_path: Path, caplog) -> None:
    middling, poor, perfect = three_cases()
    # details that contradict the images: the perfect case scored worst, the poor case best
    details = PresetDetails("score", [[0.5, 0.5], [0.9, float("nan")], [0.1, 0.2]])
    saver = BestWorstOverlaySaver(tmp_path, metric_name="score", name="overlay_test")

    with caplog.at_level("INFO", logger="overlay_test"):
        run_with_details(saver, [middling, poor, perfect], details)

    assert "best case poor.nii.gz (score 0.9000)" in caplog.text  # nan classes are left out of the mean
    assert "worst case perfect.nii.gz (score 0.1500)" in caplog.text
    _, worst_label, worst_pred = panels(tmp_path / "overlay_worst.png")
    assert np.array_equal(worst_label, worst_pred)


def test_lower_is_better_ranks_distances(tmp_path: Path, caplog) -> None:
    middling, poor, perfect = three_cases()
    details = PresetDetails("val_hd95", [[4.0], [9.0], [0.0]])
    saver = BestWorstOverlaySaver(tmp_path, metric_name="val_hd95", higher_is_better=False, name="overlay_test")

    with caplog.at_level("INFO", logger="overlay_test"):
        run_with_details(saver, [middling, poor, perfect], details)

    assert "best case perfect.nii.gz" in caplog.text
    assert "worst case poor.nii.gz" in caplog.text


def test_case_slice_slices(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, slice_axis=1)
    scored = saver.case_slice(case("a", label_map(0), label_map(1)), default_name="unused")

    assert scored.name == "a.nii.gz"
    assert scored.image.shape == (SHAPE[0], SHAPE[2])
    assert np.array_equal(scored.label, label_map(0)[0, :, SHAPE[1] // 2].numpy())
    assert np.array_equal(scored.prediction, label_map(1)[0, :, SHAPE[1] // 2].numpy())


def test_label_maps_are_accepted(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path)
    as_maps = saver.case_slice(case("a", label_map(0), label_map(1), as_one_hot=False), default_name="unused")
    as_one_hot = saver.case_slice(case("a", label_map(0), label_map(1)), default_name="unused")
    assert np.array_equal(as_maps.label, as_one_hot.label)
    assert np.array_equal(as_maps.prediction, as_one_hot.prediction)


def test_cases_without_a_score_are_not_ranked(tmp_path: Path) -> None:
    empty = torch.zeros(1, *SHAPE, dtype=torch.long)
    saver = BestWorstOverlaySaver(tmp_path)

    engine = run_engine(saver, [[case("empty", empty, empty)]])
    assert torch.isnan(engine.state.metric_details["val_mean_dice"]).all()
    assert list(tmp_path.iterdir()) == []

    run_engine(saver, [[case("empty", empty, empty), case("ok", label_map(0), label_map(0))]])
    assert len(list(tmp_path.iterdir())) == 2


def test_collected_cases_reset_every_epoch(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path)
    run_engine(saver, [[case("a", label_map(0), label_map(1))]], max_epochs=2)
    assert len(saver._cases) == 1
    assert len(list(tmp_path.iterdir())) == 2


def test_missing_details_name_the_metric_key(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, metric_name="val_dice")
    with pytest.raises(KeyError, match=r"metric_details has no 'val_dice' \(keys: \['score'\]\)"):
        run_with_details(saver, [case("a", label_map(0), label_map(0))], PresetDetails("score", [[1.0]]))
    with pytest.raises(KeyError, match=r"no 'val_dice'.*save_details=True"):
        run_with_details(saver, [case("a", label_map(0), label_map(0))], None)


def test_details_of_other_cases_are_refused(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, metric_name="score")
    items = [case("a", label_map(0), label_map(0)), case("b", label_map(0), label_map(1))]
    with pytest.raises(ValueError, match=r"metric_details\['score'\] has 3 rows but 2 cases were evaluated"):
        run_with_details(saver, items, PresetDetails("score", [[1.0], [0.5], [0.2]]))


def test_missing_key_is_named(tmp_path: Path) -> None:
    saver = BestWorstOverlaySaver(tmp_path, pred_key="seg")
    with pytest.raises(KeyError, match="no key 'seg'"):
        saver.case_slice(case("a", label_map(0), label_map(0)), default_name="unused")


@pytest.mark.parametrize(
    "kwargs, message",
    [({"metric_name": ""}, "metric_name=''"), ({"slice_axis": 3}, "slice_axis=3")],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BestWorstOverlaySaver(tmp_path, **kwargs)
