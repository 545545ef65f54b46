"""Scores of a segmentation of a real scan that has no manual labels: brain mask and intensity-class agreement."""

from __future__ import annotations

from dca_monai.metrics.intensity_tissue_classes import intensity_tissue_classes
from dca_monai.metrics.real_scan_agreement import RealScanAgreement, real_scan_agreement

__all__ = ["RealScanAgreement", "intensity_tissue_classes", "real_scan_agreement"]
