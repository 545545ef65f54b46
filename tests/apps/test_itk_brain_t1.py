from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dca_monai.apps import itk_brain_t1
from dca_monai.apps.itk_brain_t1 import ITK_T1_DIR_VARIABLE, itk_t1_path, write_itk_t1_brain


def test_installed_files_are_the_coronal_2x2x3_mm_scan_and_its_mask() -> None:
    t1, mask = nib.load(itk_t1_path("t1")), nib.load(itk_t1_path("mask"))
    assert t1.shape == mask.shape == (128, 128, 62)
    np.testing.assert_allclose(np.linalg.norm(t1.affine[:3, :3], axis=0), [2.0, 2.0, 3.0])
    assert nib.aff2axcodes(t1.affine)[2] in ("A", "P"), "the slices are coronal"
    brain_ml = np.count_nonzero(np.asanyarray(mask.dataobj) > 0) * 12 / 1000
    assert 1200 < brain_ml < 2000


def test_skull_stripped_scan_is_the_t1_inside_the_mask(tmp_path: Path) -> None:
    path = write_itk_t1_brain(tmp_path / "new" / "itk_t1_brain.nii.gz")
    written, t1 = nib.load(path), nib.load(itk_t1_path("t1"))
    mask = np.asanyarray(nib.load(itk_t1_path("mask")).dataobj) > 0
    brain = np.asanyarray(written.dataobj)
    np.testing.assert_allclose(written.affine, t1.affine, atol=1e-4)
    assert brain.dtype == np.int16
    assert not brain[~mask].any()
    assert np.array_equal(brain[mask], np.asanyarray(t1.dataobj)[mask])
    assert not list(path.parent.glob(".*")), "written atomically: no temporary file left"


def test_environment_variable_folder_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "KmeansTest_T1RawSkullStrip.nii.gz").write_bytes(b"")
    monkeypatch.setenv(ITK_T1_DIR_VARIABLE, str(tmp_path))
    assert itk_t1_path("mask") == tmp_path / "KmeansTest_T1RawSkullStrip.nii.gz"


def test_missing_files_say_how_to_install_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(itk_brain_t1, "ITK_T1_SEARCH_DIRS", (tmp_path / "nowhere",))
    monkeypatch.delenv(ITK_T1_DIR_VARIABLE, raising=False)
    with pytest.raises(FileNotFoundError, match=r"UCharRaw\.nii\.gz not found in .*nowhere; expected Debian's insight"):
        itk_t1_path("t1")
    with pytest.raises(ValueError, match=r"name='brain' but one of \['mask', 't1'\]"):
        itk_t1_path("brain")
