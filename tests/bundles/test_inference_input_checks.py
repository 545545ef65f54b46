"""Both bundles' ``configs/inference.json`` refuse inputs that are not a usable scan, before any network runs.

Each bad input goes through ``python -m monai.bundle run`` as a user types it; the command must fail
with the input check's message (file, what is wrong, what was expected) as the first line of its
error output, not after the config parser's traceback, and write nothing.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.bundles.bundle_runner import config_files, run_bundle

BUNDLES = ("brain_mri_dca_segmentation", "ct_dca_segmentation")
EXPECTED_3D = "expected a 3-D volume (X, Y, Z), or a 4-D one whose last axis holds the channels"


def bad_inputs() -> dict[str, tuple[np.ndarray, str]]:
    """Name -> (voxels, the problem the check must report)."""
    rng = np.random.default_rng(0)
    return {
        "slice_2d": (
            rng.random((40, 48)).astype(np.float32),
            f"image has 2 spatial dimension(s) (shape 40x48); {EXPECTED_3D}",
        ),
        "nan_volume": (np.full((24, 24, 24), np.nan, np.float32), "image holds 13824 NaN and 0 infinite value(s)"),
        "constant": (np.zeros((24, 24, 24), np.int16), "image is constant (every voxel 0)"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("case", ["slice_2d", "nan_volume", "constant"])
def test_inference_refuses_an_unusable_scan_naming_the_file(bundle: str, case: str, tmp_path: Path) -> None:
    values, problem = bad_inputs()[case]
    path = tmp_path / f"{case}.nii.gz"
    nib.save(nib.Nifti1Image(values, np.diag([1.0, 1.0, 1.0, 1.0])), path)
    overrides = {"bundle_root": tmp_path / "bundle", "input_path": path, "output_dir": tmp_path / "out"}

    result = run_bundle("run", "--config_file", config_files(bundle, "inference.json"), overrides=overrides)

    assert result.returncode != 0
    error = result.output[result.output.index("DatalistError") :]
    assert error.startswith(
        f"DatalistError: datalist <mapping> has 1 problem(s):\n  - test[0].image ({path}): {problem}"
    )
    assert "Traceback" not in result.output  # the problem alone, not the config parser's traceback
    assert not (tmp_path / "out").exists()
