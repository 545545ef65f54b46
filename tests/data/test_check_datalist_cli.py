"""The datalist check's command line (:mod:`dca_monai.data.check_datalist_cli`, ``dca-monai-check-datalist``)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dca_monai.data.check_datalist_cli import main
from tests.data.datalist_files import save

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
CLEAN_SUMMARY = [
    "training: 2 entries, spatial shapes 8x9x10, image channels 1, label values 0, 1, 2",
    "validation: 1 entries, spatial shapes 8x9x10, image channels 1, label values 0, 1, 2",
]


def run_module(module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *arguments], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )


def test_main_exits_0_with_one_summary_per_section(
    tmp_path: Path, clean_datalist: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--datalist", str(save(tmp_path, clean_datalist)), "--num-classes", "3"]) == 0
    output = capsys.readouterr()
    assert output.out.splitlines() == CLEAN_SUMMARY
    assert output.err == ""


def test_main_exits_2_with_the_problems(
    tmp_path: Path, clean_datalist: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    datalist = save(tmp_path, clean_datalist)
    assert main(["--datalist", str(datalist), "--num-classes", "2", "--sections", "training"]) == 2
    output = capsys.readouterr()
    assert output.out == ""
    assert output.err.startswith(f"datalist {datalist} has 2 problem(s):")
    assert "training[0].label" in output.err and "training[1].label" in output.err
    assert "label holds values 2; expected integers in [0, 2) (num_classes=2)" in output.err


def test_main_reads_relative_paths_from_data_dir(
    tmp_path: Path, clean_datalist: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    datalist = save(lists, clean_datalist)
    assert main(["--datalist", str(datalist), "--num-classes", "3", "--sections", "training"]) == 2
    assert f"training[0].image ({lists / 'images' / 'training_0.nii.gz'}): file not found" in capsys.readouterr().err
    arguments = ["--datalist", str(datalist), "--data-dir", str(tmp_path), "--num-classes", "3"]
    assert main([*arguments, "--sections", "training"]) == 0
    assert capsys.readouterr().out.splitlines() == CLEAN_SUMMARY[:1]


def test_main_reports_invalid_arguments_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--datalist", str(tmp_path / "d.json"), "--num-classes", "0"])
    assert exit_info.value.code == 2
    assert "num_classes=0 but an int >= 1" in capsys.readouterr().err


def test_console_script_runs_main(
    tmp_path: Path, clean_datalist: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["dca-monai-check-datalist"].partition(":")
    entry = getattr(importlib.import_module(module), function)
    assert entry is main
    assert entry(["--datalist", str(save(tmp_path, clean_datalist)), "--num-classes", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == CLEAN_SUMMARY


def test_python_m_runs_the_command(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    datalist = str(save(tmp_path, clean_datalist))
    result = run_module("dca_monai.data.check_datalist_cli", "--datalist", datalist, "--num-classes", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == CLEAN_SUMMARY
    result = run_module(
        "dca_monai.data.check_datalist_cli", "--datalist", datalist, "--num-classes", "2", "--sections", "training"
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "has 2 problem(s)" in result.stderr
    assert "training[0].label" in result.stderr and "training[1].label" in result.stderr
    assert "label holds values 2; expected integers in [0, 2) (num_classes=2)" in result.stderr
