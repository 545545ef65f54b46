"""Transform-side pieces MONAI lacks: an atomic NIfTI writer for ``SaveImage(d)`` and a DICOM SEG writer."""

from __future__ import annotations

from dca_monai.transforms.atomic_nibabel_writer import AtomicNibabelWriter
from dca_monai.transforms.dicom_seg_writer import SaveDicomSegd, segment_code, write_dicom_seg

__all__ = ["AtomicNibabelWriter", "SaveDicomSegd", "segment_code", "write_dicom_seg"]
