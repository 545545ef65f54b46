from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dca_monai.apps import colin27
from dca_monai.apps.colin27 import COLIN27_DIR_VARIABLE, colin27_path


def test_installed_files_are_the_1mm_scan_with_and_without_skull() -> None:
    with_skull, brain = nib.load(colin27_path("t1")), nib.load(colin27_path("brain"))
    assert with_skull.shape == brain.shape == (181, 217, 181)
    np.testing.assert_allclose(np.linalg.norm(brain.affine[:3, :3], axis=0), [1.0, 1.0, 1.0])
    mask = np.asanyarray(brain.dataobj) > 0
    assert 1.2e6 < np.count_nonzero(mask) < 2.0e6  # 1.2-2 L of brain
    assert np.count_nonzero(np.asanyarray(with_skull.dataobj) > 0) > 1.5 * np.count_nonzero(mask)


def test_environment_variable_folder_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ch2bet.nii.gz").write_bytes(b"")
    monkeypatch.setenv(COLIN27_DIR_VARIABLE, str(tmp_path))
    assert colin27_path("brain") == tmp_path / "ch2bet.nii.gz"


def test_missing_files_say_how_to_install_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(colin27, "COLIN27_SEARCH_DIRS", (tmp_path / "nowhere",))
    monkeypatch.delenv(COLIN27_DIR_VARIABLE, raising=False)
    with pytest.raises(FileNotFoundError, match=r"ch2\.nii\.gz not found in .*nowhere; expected Debian's mricron-data"):
        colin27_path("t1")
    with pytest.raises(ValueError, match=r"name='skull' but one of \['brain', 't1'\]"):
        colin27_path("skull")
