from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.metrics import compute_hausdorff_distance
from monai.networks.utils import one_hot

from dca_monai.metrics.physical_hausdorff_distance import PhysicalHausdorffDistanceMetric, batch_spacing


def boxes(shift: int, spacing: tuple[float, float, float]) -> tuple[MetaTensor, MetaTensor]:
    """One-hot ``(2, 12, 12, 12)`` prediction and label of a 4^3 box, the prediction's shifted along axis 2."""
    label = torch.zeros(1, 1, 12, 12, 12)
    label[..., 4:8, 4:8, 4:8] = 1
    prediction = torch.roll(label, shift, dims=-1)
    affine = torch.diag(torch.tensor([*spacing, 1.0], dtype=torch.float64))
    affine[:3, 3] = torch.tensor([-10.0, 5.0, 30.0], dtype=torch.float64)
    return (
        MetaTensor(one_hot(prediction, 2)[0], affine=affine),
        MetaTensor(one_hot(label, 2)[0], affine=affine),
    )


def test_distance_is_measured_with_each_items_spacing() -> None:
    first = boxes(2, (1.0, 1.0, 3.0))  # 2 voxels along the 3 mm axis: 6 mm
    second = boxes(2, (0.5, 0.5, 0.5))  # 2 voxels of 0.5 mm: 1 mm
    metric = PhysicalHausdorffDistanceMetric(reduction="none")

    distances = metric([first[0], second[0]], [first[1], second[1]])

    assert torch.as_tensor(distances).flatten().tolist() == pytest.approx([6.0, 1.0])


def test_metric_matches_monai_with_the_spacing_given_explicitly() -> None:
    prediction, label = boxes(3, (0.8, 1.2, 2.5))
    expected = compute_hausdorff_distance(prediction[None], label[None], percentile=95, spacing=[0.8, 1.2, 2.5])

    ours = PhysicalHausdorffDistanceMetric(percentile=95)(prediction[None], label[None])
    explicit = PhysicalHausdorffDistanceMetric(percentile=95)(prediction[None], label[None], spacing=1.0)

    torch.testing.assert_close(torch.as_tensor(ours), torch.as_tensor(expected))
    assert float(explicit[0, 0]) == pytest.approx(3.0)  # an explicit spacing wins over the affine


def test_batch_spacing_of_a_collated_batch_and_of_one_item() -> None:
    affine = torch.tensor(np.diag([-1.5, 1.5, 2.0, 1.0]))
    item = MetaTensor(torch.zeros(1, 2, 4, 4, 4), affine=affine)
    batch = MetaTensor(torch.zeros(2, 2, 4, 4, 4), affine=torch.stack([affine, 2 * affine]))
    batch.is_batch = True

    assert batch_spacing(item, 3) == [[1.5, 1.5, 2.0]]
    assert batch_spacing(batch, 3) == [[1.5, 1.5, 2.0], [3.0, 3.0, 4.0]]


def test_plain_tensors_are_rejected_with_the_reason() -> None:
    with pytest.raises(ValueError, match="y and y_pred are Tensors but a MetaTensor with an affine was expected"):
        PhysicalHausdorffDistanceMetric()(torch.zeros(1, 2, 4, 4, 4), torch.zeros(1, 2, 4, 4, 4))
