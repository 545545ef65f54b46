"""Metrics MONAI lacks: Hausdorff distance in mm, and scores of a segmentation of a real scan without manual labels."""

from __future__ import annotations

from dca_monai.metrics.intensity_tissue_classes import intensity_tissue_classes
from dca_monai.metrics.label_map_scores import LabelMapScores, score_label_maps
from dca_monai.metrics.physical_hausdorff_distance import PhysicalHausdorffDistanceMetric, batch_spacing
from dca_monai.metrics.real_scan_agreement import RealScanAgreement, real_scan_agreement

__all__ = [
    "LabelMapScores",
    "PhysicalHausdorffDistanceMetric",
    "RealScanAgreement",
    "batch_spacing",
    "intensity_tissue_classes",
    "real_scan_agreement",
    "score_label_maps",
]
