from __future__ import annotations

import pytest
import torch

from dca_monai.transforms import RandClassIntensityShiftd


def sample() -> dict[str, torch.Tensor]:
    label = torch.zeros(1, 4, 4, 4, dtype=torch.uint8)
    label[0, :2] = 1
    label[0, 3, 3, 3] = 2
    label[0, 0, 0, 0] = 7  # a class beyond the offset table
    return {"image": torch.zeros(1, 4, 4, 4), "label": label}


def test_each_class_gets_one_offset_in_its_range_scaled() -> None:
    transform = RandClassIntensityShiftd("image", "label", [(0, 0), (10, 20), (-30, -30)], scale=0.5, prob=1.0)
    transform.set_random_state(0)
    data = sample()
    out = transform(data)
    image, label = out["image"][0], data["label"][0]
    liver = image[label == 1]
    assert torch.all(liver == liver[0]) and 5.0 <= float(liver[0]) <= 10.0
    assert torch.all(image[label == 2] == -15.0)
    assert torch.all(image[(label == 0) | (label == 7)] == 0.0)
    assert torch.equal(out["label"], data["label"])


def test_offsets_are_drawn_anew_and_prob_zero_changes_nothing() -> None:
    transform = RandClassIntensityShiftd("image", "label", [(0, 0), (0, 100)], prob=1.0)
    transform.set_random_state(1)
    first, second = (float(transform(sample())["image"][0, 0, 1, 1]) for _ in range(2))
    assert first != second
    unchanged = RandClassIntensityShiftd("image", "label", [(0, 0), (0, 100)], prob=0.0)(sample())
    assert torch.equal(unchanged["image"], sample()["image"])


def test_bad_range_and_grid_are_refused() -> None:
    with pytest.raises(ValueError, match=r"offsets\[1\]=\(5, 1\) but a \(low, high\) pair"):
        RandClassIntensityShiftd("image", "label", [(0, 0), (5, 1)])
    data = sample()
    data["image"] = torch.zeros(1, 4, 4, 3)
    with pytest.raises(ValueError, match=r"'image' has spatial shape \(4, 4, 3\) but label 'label' has \(4, 4, 4\)"):
        RandClassIntensityShiftd("image", "label", [(0, 0), (1, 2)], prob=1.0)(data)
