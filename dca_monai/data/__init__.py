"""Embedded demo data: the MNI152 templates packaged with nilearn and a brain tissue dataset built from them, the
Colin27 real scan installed by Debian's mricron-data, the TotalSegmentator CT organ dataset, DICOM series checks,
and the datalist check (:func:`check_datalist`; command line ``dca-monai-check-datalist``).

Names are imported on first use, so that ``import dca_monai.data`` stays light (no MONAI transforms)
and ``python -m dca_monai.data.brain_dataset`` runs its module only once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dca_monai.data.brain_dataset import BUILD_FORMAT, DATALIST_NAME, build_brain_dataset
    from dca_monai.data.colin27 import COLIN27_FILES, colin27_path
    from dca_monai.data.ct_organ_dataset import build_ct_organ_dataset
    from dca_monai.data.ct_organs import CT_ORGANS, CTOrgan
    from dca_monai.data.datalist_checks import SectionSummary, check_datalist
    from dca_monai.data.datalist_errors import DatalistError, DatalistProblem, show_datalist_errors_first
    from dca_monai.data.dicom_series import DicomSeries, DicomSeriesError, read_dicom_series
    from dca_monai.data.dicom_series_itk import ItkDicomSeries, itk_dicom_series
    from dca_monai.data.label_grid import label_on_grid
    from dca_monai.data.mni152 import (
        MNI152_TEMPLATE_FILES,
        MNI152Templates,
        load_mni152_templates,
        mni152_template_path,
    )
    from dca_monai.data.tissue_labels import TISSUE_CLASSES, derive_tissue_labels

_MODULE_OF = {
    "BUILD_FORMAT": "dca_monai.data.brain_dataset",
    "DATALIST_NAME": "dca_monai.data.brain_dataset",
    "build_brain_dataset": "dca_monai.data.brain_dataset",
    "COLIN27_FILES": "dca_monai.data.colin27",
    "colin27_path": "dca_monai.data.colin27",
    "build_ct_organ_dataset": "dca_monai.data.ct_organ_dataset",
    "CT_ORGANS": "dca_monai.data.ct_organs",
    "CTOrgan": "dca_monai.data.ct_organs",
    "SectionSummary": "dca_monai.data.datalist_checks",
    "check_datalist": "dca_monai.data.datalist_checks",
    "DatalistError": "dca_monai.data.datalist_errors",
    "DatalistProblem": "dca_monai.data.datalist_errors",
    "show_datalist_errors_first": "dca_monai.data.datalist_errors",
    "DicomSeries": "dca_monai.data.dicom_series",
    "DicomSeriesError": "dca_monai.data.dicom_series",
    "read_dicom_series": "dca_monai.data.dicom_series",
    "ItkDicomSeries": "dca_monai.data.dicom_series_itk",
    "itk_dicom_series": "dca_monai.data.dicom_series_itk",
    "label_on_grid": "dca_monai.data.label_grid",
    "MNI152_TEMPLATE_FILES": "dca_monai.data.mni152",
    "MNI152Templates": "dca_monai.data.mni152",
    "load_mni152_templates": "dca_monai.data.mni152",
    "mni152_template_path": "dca_monai.data.mni152",
    "TISSUE_CLASSES": "dca_monai.data.tissue_labels",
    "derive_tissue_labels": "dca_monai.data.tissue_labels",
}

__all__ = [
    "BUILD_FORMAT",
    "COLIN27_FILES",
    "CT_ORGANS",
    "DATALIST_NAME",
    "MNI152_TEMPLATE_FILES",
    "TISSUE_CLASSES",
    "CTOrgan",
    "DatalistError",
    "DatalistProblem",
    "DicomSeries",
    "DicomSeriesError",
    "ItkDicomSeries",
    "MNI152Templates",
    "SectionSummary",
    "build_brain_dataset",
    "build_ct_organ_dataset",
    "check_datalist",
    "colin27_path",
    "derive_tissue_labels",
    "itk_dicom_series",
    "label_on_grid",
    "load_mni152_templates",
    "mni152_template_path",
    "read_dicom_series",
    "show_datalist_errors_first",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
