from __future__ import annotations

import pytest
from ignite.engine import Engine
from monai.data import MetaTensor
from monai.handlers import HausdorffDistance

from dca_monai.handlers import PhysicalHausdorffDistance
from tests.metrics.test_physical_hausdorff_distance import boxes


def predictions_and_labels(cases: list[tuple[MetaTensor, MetaTensor]]) -> tuple[list[MetaTensor], list[MetaTensor]]:
    return [prediction for prediction, _ in cases], [label for _, label in cases]


def run_evaluation(handler: HausdorffDistance | PhysicalHausdorffDistance, cases: list) -> Engine:
    engine = Engine(lambda engine, batch: batch)
    handler.attach(engine, "hd95")
    engine.run([cases], max_epochs=1)
    return engine


def test_handler_reports_mean_and_per_case_details_in_mm() -> None:
    cases = [boxes(2, (1.0, 1.0, 3.0)), boxes(1, (2.0, 2.0, 2.0))]
    ours = run_evaluation(PhysicalHausdorffDistance(percentile=95, output_transform=predictions_and_labels), cases)
    monai = run_evaluation(HausdorffDistance(percentile=95, output_transform=predictions_and_labels), cases)

    details = ours.state.metric_details["hd95"].flatten().tolist()
    assert details == pytest.approx([6.0, 2.0])
    assert ours.state.metrics["hd95"] == pytest.approx(4.0)
    assert monai.state.metric_details["hd95"].flatten().tolist() == pytest.approx([2.0, 1.0])  # voxels
