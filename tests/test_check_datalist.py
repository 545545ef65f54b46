"""The deprecated alias ``dca_monai.check_datalist``: it warns, names the new modules, and still works."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import dca_monai
import dca_monai.data.check_datalist_cli as cli
import dca_monai.data.datalist_checks as checks
from tests.data.datalist_files import save, write_clean_datalist

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_import_warns_and_re_exports_the_public_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "dca_monai.check_datalist", raising=False)
    monkeypatch.delattr(dca_monai, "check_datalist", raising=False)
    deprecation = r"dca_monai\.check_datalist is deprecated.*dca_monai\.data\.datalist_checks"
    with pytest.warns(FutureWarning, match=deprecation):
        alias = importlib.import_module("dca_monai.check_datalist")
    for name in ("DatalistError", "DatalistProblem", "SectionSummary", "check_datalist", "show_datalist_errors_first"):
        assert getattr(alias, name) is getattr(checks, name), name
    assert alias.main is cli.main
    summaries = alias.check_datalist(save(tmp_path, write_clean_datalist(tmp_path)), num_classes=3)
    assert [summary.section for summary in summaries] == ["training", "validation"]


def test_python_m_still_runs_the_command_with_a_warning(tmp_path: Path) -> None:
    datalist = str(save(tmp_path, write_clean_datalist(tmp_path)))
    for num_classes, status in (("3", 0), ("2", 2)):
        result = subprocess.run(
            [sys.executable, "-m", "dca_monai.check_datalist", "--datalist", datalist, "--num-classes", num_classes],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
        assert result.returncode == status, result.stderr
        assert "dca_monai.check_datalist is deprecated" in result.stderr
    assert "label holds values 2; expected integers in [0, 2) (num_classes=2)" in result.stderr
