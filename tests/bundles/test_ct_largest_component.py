"""The CT bundle keeps each organ's largest connected component (``keep_largest_component``).

Every default CT class (liver, spleen, stomach, aorta, vena cava) is one connected structure, so
inference and validation drop the smaller islands of each label (MONAI's
``KeepLargestConnectedComponentd``); ``--keep_largest_component False`` keeps the network's raw argmax,
for classes of your own that have several components.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import KeepLargestConnectedComponentd

CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "ct_dca_segmentation" / "configs"
POSTPROCESSING = [("inference.json", "postprocessing"), ("train.json", "validate#postprocessing")]


def _component_steps(config: str, key: str, **overrides: object) -> list[KeepLargestConnectedComponentd]:
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / config))
    for name, value in overrides.items():
        parser[name] = value
    compose = parser.get_parsed_content(key)
    return [step for step in compose.transforms if isinstance(step, KeepLargestConnectedComponentd)]


def _label_map_with_islands(num_classes: int) -> torch.Tensor:
    """``(1, 12 * (num_classes - 1), 8, 8)``: for each organ a 3-voxel-wide slab and a one-voxel island apart."""
    label = torch.zeros(1, 12 * (num_classes - 1), 8, 8, dtype=torch.long)
    for organ in range(1, num_classes):
        start = 12 * (organ - 1)
        label[0, start : start + 3] = organ
        label[0, start + 8, 4, 4] = organ
    return label


@pytest.mark.parametrize(("config", "key"), POSTPROCESSING)
def test_each_organ_keeps_only_its_largest_component(config: str, key: str) -> None:
    (step,) = _component_steps(config, key)
    label = _label_map_with_islands(num_classes=6)

    kept = step({"pred": label.clone()})["pred"]

    for organ in range(1, 6):
        start = 12 * (organ - 1)
        assert (kept[0, start : start + 3] == organ).all()  # the organ itself stays
        assert kept[0, start + 8, 4, 4] == 0  # its island becomes background
    assert int((kept > 0).sum()) == int((label > 0).sum()) - 5


def test_validation_applies_it_to_the_one_hot_prediction() -> None:
    (step,) = _component_steps("train.json", "validate#postprocessing")
    one_hot = torch.nn.functional.one_hot(_label_map_with_islands(6)[0], 6).permute(3, 0, 1, 2).float()

    kept = step({"pred": one_hot.clone()})["pred"]

    assert kept[1:, 8, 4, 4].sum() == 0 and kept[1:, 20, 4, 4].sum() == 0  # liver's and spleen's islands removed
    assert torch.equal(kept[1:, :3], one_hot[1:, :3])


@pytest.mark.parametrize(("config", "key"), POSTPROCESSING)
def test_the_switch_turns_it_off_and_follows_num_classes(config: str, key: str) -> None:
    assert _component_steps(config, key, keep_largest_component=False) == []
    (step,) = _component_steps(config, key, num_classes=3)
    assert list(step.converter.applied_labels) == [1, 2]


def test_a_string_for_the_switch_is_refused_by_name() -> None:
    with pytest.raises(RuntimeError) as raised:  # MONAI wraps the expression's error; ours is its cause
        _component_steps("inference.json", "postprocessing", keep_largest_component="false")
    assert "keep_largest_component='false' but True or False was expected" in str(raised.value.__cause__)
