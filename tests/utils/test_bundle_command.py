from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dca_monai.utils.bundle_command import config_file_arg, override_args, run_bundle_command


def test_config_file_arg_is_one_path_or_a_python_list(tmp_path: Path) -> None:
    assert config_file_arg(tmp_path, "train.json") == str(tmp_path / "configs" / "train.json")
    merged = config_file_arg(tmp_path, "train.json", "evaluate.json")
    assert ast.literal_eval(merged) == [str(tmp_path / "configs" / n) for n in ("train.json", "evaluate.json")]


def test_override_args_write_literals_that_parse_back(tmp_path: Path) -> None:
    args = override_args({"epochs": 2, "roi_size": [32, 32], "network_def#dca": False, "out": tmp_path})
    assert args == ["--epochs", "2", "--roi_size", "[32, 32]", "--network_def#dca", "False", "--out", str(tmp_path)]
    assert override_args({"x": None}) == ["--x", "None"]


def test_a_failed_command_stops_with_its_exit_status(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="failed with exit status"):
        run_bundle_command(str(tmp_path / "missing.json"), {}, cwd=tmp_path)
