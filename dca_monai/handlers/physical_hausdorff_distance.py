"""Ignite handler: Hausdorff distance in the images' physical units (mm), voxel spacing read from each affine."""

from __future__ import annotations

from collections.abc import Callable

from monai.handlers import IgniteMetricHandler
from monai.utils import MetricReduction

from dca_monai.metrics.physical_hausdorff_distance import PhysicalHausdorffDistanceMetric

__all__ = ["PhysicalHausdorffDistance"]


class PhysicalHausdorffDistance(IgniteMetricHandler):
    """:class:`~monai.handlers.HausdorffDistance` in physical units: every case's spacing from its affine.

    A drop-in replacement of MONAI's handler (same arguments, same ``engine.state.metrics`` and
    ``metric_details`` entries, so ``MetricsSaver`` writes it per case) whose distances are in the
    units of the affine, mm for NIfTI and DICOM, on whatever grid the evaluator compares. See
    :class:`dca_monai.metrics.PhysicalHausdorffDistanceMetric`.

    Args:
        include_background, distance_metric, percentile, directed, reduction, output_transform,
            save_details: as :class:`~monai.handlers.HausdorffDistance`.

    Example (bundle config)::

        {"_target_": "dca_monai.handlers.physical_hausdorff_distance.PhysicalHausdorffDistance",
         "percentile": 95, "output_transform": "$monai.handlers.from_engine(['pred', 'label'])"}
    """

    def __init__(
        self,
        include_background: bool = False,
        distance_metric: str = "euclidean",
        percentile: float | None = None,
        directed: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        metric_fn = PhysicalHausdorffDistanceMetric(
            include_background=include_background,
            distance_metric=distance_metric,
            percentile=percentile,
            directed=directed,
            reduction=reduction,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
