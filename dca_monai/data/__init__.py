"""Data tools: the datalist check (:func:`check_datalist`; command line ``dca-monai-check-datalist``) and DICOM series
reading and checks. The embedded demo datasets live in :mod:`dca_monai.apps`."""

from __future__ import annotations

from dca_monai.data.bundle_inputs import image_inputs
from dca_monai.data.datalist_checks import SectionSummary, check_datalist
from dca_monai.data.datalist_errors import DatalistError, DatalistProblem, show_datalist_errors_first
from dca_monai.data.dicom_series import DicomSeries, DicomSeriesError, read_dicom_series, seg_reference_problem
from dca_monai.data.dicom_series_itk import ItkDicomSeries, itk_dicom_series

__all__ = [
    "DatalistError",
    "DatalistProblem",
    "DicomSeries",
    "DicomSeriesError",
    "ItkDicomSeries",
    "SectionSummary",
    "check_datalist",
    "image_inputs",
    "itk_dicom_series",
    "read_dicom_series",
    "seg_reference_problem",
    "show_datalist_errors_first",
]
