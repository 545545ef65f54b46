from __future__ import annotations

import importlib
import types

import dca_monai.data


def test_every_exported_name_resolves_to_its_object_not_a_module() -> None:
    # importing the submodules first sets them as package attributes: an export named like its module would break
    for module in (
        "brain_dataset",
        "colin27",
        "mni152",
        "tissue_labels",
        "ct_organ_dataset",
        "ct_organs",
        "dicom_series",
        "dicom_series_itk",
        "datalist_checks",
        "datalist_errors",
        "check_datalist_cli",
    ):
        importlib.import_module(f"dca_monai.data.{module}")
    for name in dca_monai.data.__all__:
        assert not isinstance(getattr(dca_monai.data, name), types.ModuleType), name
    assert set(dca_monai.data.__all__) <= set(dir(dca_monai.data))
