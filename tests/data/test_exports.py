from __future__ import annotations

import importlib
import types

import dca_monai.data
import dca_monai.utils


def test_every_exported_name_resolves_to_its_object_not_a_module() -> None:
    # importing the submodules first sets them as package attributes: an export named like its module would break
    for module in ("dicom_series", "dicom_series_itk", "datalist_checks", "datalist_errors", "check_datalist_cli"):
        importlib.import_module(f"dca_monai.data.{module}")
    for package in (dca_monai.data, dca_monai.utils):
        for name in package.__all__:
            assert not isinstance(getattr(package, name), types.ModuleType), name


def test_importing_data_tools_does_not_import_the_demo_datasets() -> None:
    # the datalist check runs where nilearn and the demo builders are absent (MONAI Label's app)
    code = "import sys, dca_monai.data; print(any(m.startswith('dca_monai.apps') for m in sys.modules))"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
