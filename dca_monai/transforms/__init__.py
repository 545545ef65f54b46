"""Transform-side pieces MONAI lacks: an atomic NIfTI writer, a DICOM SEG writer, foreground normalisation, per-class
intensity shifts (contrast phases) and a skull-stripping check."""

from __future__ import annotations

from dca_monai.transforms.atomic_nibabel_writer import AtomicNibabelWriter
from dca_monai.transforms.class_intensity_shift import RandClassIntensityShiftd
from dca_monai.transforms.dicom_seg_writer import DicomSegWriteError, SaveDicomSegd, segment_code, write_dicom_seg
from dca_monai.transforms.normalize_foreground import BACKGROUND_VALUE, NormalizeForeground, NormalizeForegroundd
from dca_monai.transforms.skull_strip_check import MAX_BRAIN_ML, SkullStripCheckd, bright_volume_ml

__all__ = [
    "BACKGROUND_VALUE",
    "MAX_BRAIN_ML",
    "AtomicNibabelWriter",
    "DicomSegWriteError",
    "NormalizeForeground",
    "NormalizeForegroundd",
    "RandClassIntensityShiftd",
    "SaveDicomSegd",
    "SkullStripCheckd",
    "bright_volume_ml",
    "segment_code",
    "write_dicom_seg",
]
