"""What only ``bundles/ct_dca_segmentation`` promises, run through ``python -m monai.bundle``, CI-sized.

The contracts both bundles share run in ``test_bundle_contract.py``; this module reuses their CI
setup (:data:`~tests.bundles.bundle_cases.CT`: NIfTI and DICOM cases made from pydicom's real CT
files, 3 mm voxels, filters ``[4, 4, 8, 8, 8]``, 32^3 patches, 1 epoch) and the session's trained
bundle root. A CT input may be a DICOM series folder: one holding two series is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles.bundle_cases import (
    CT,
    CT2_SLICES,
    CT5N_SERIES,
    BundleCase,
    absolute_datalist,
    assert_fails_before_training,
    copy_series,
)
from tests.bundles.bundle_runner import BundleRun, run_bundle


@pytest.fixture(scope="module")
def case() -> BundleCase:
    return CT


def two_series_folder(tmp_path: Path) -> Path:
    """A folder holding the 3 slices of ``CT2`` and the 5 of ``CT5N``: two DICOM series."""
    return copy_series(CT2_SLICES + sorted(CT5N_SERIES.iterdir()), tmp_path / "two_series")


@pytest.mark.slow
def test_inference_refuses_a_folder_with_two_series(
    case: BundleCase, trained: tuple[Path, BundleRun], tmp_path: Path
) -> None:
    bundle_root, _ = trained
    two = two_series_folder(tmp_path)
    overrides = case.overrides(bundle_root, input_path=two, output_dir=tmp_path / "out")
    result = run_bundle("run", "--config_file", case.configs("inference.json"), overrides=overrides)

    assert result.returncode != 0
    assert f"test[0].image ({two}): folder holds 2 DICOM series: " in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_training_case_folder_with_two_series_fails_before_training(
    case: BundleCase, dataset_dir: Path, tmp_path: Path
) -> None:
    datalist = absolute_datalist(dataset_dir)
    two = two_series_folder(tmp_path)
    datalist["training"][2]["image"] = str(two)  # the DICOM training case
    expected = f"training[2].image ({two}): folder holds 2 DICOM series: "
    assert_fails_before_training(case, dataset_dir, tmp_path, datalist, expected)
