from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

from dca_monai.utils.bundle_command import check_checkpoint, config_file_arg, override_args, run_bundle_command


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


BRAIN_INFERENCE = Path(__file__).resolve().parents[2] / "bundles" / "brain_mri_dca_segmentation" / "configs"
SMALL = {"filters": [4, 4, 8, 8, 8]}


def save_network(path: Path, **overrides: object) -> Path:
    """The brain bundle's ``network_def`` with ``overrides``, its state dict saved at ``path``."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BRAIN_INFERENCE / "inference.json"))
    parser.update(overrides)
    torch.save(parser.get_parsed_content("network_def").state_dict(), path)
    return path


def test_check_checkpoint_accepts_the_weights_of_the_same_settings(tmp_path: Path) -> None:
    for dca in (True, False):
        path = save_network(tmp_path / f"dca_{dca}.pt", **SMALL, **{"network_def#dca": dca})
        check_checkpoint(BRAIN_INFERENCE / "inference.json", {**SMALL, "network_def#dca": dca, "out": tmp_path}, path)


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        ({"network_def#dca": False}, "difference(s), missing dca."),
        ({"filters": [4, 4, 8, 8, 16]}, "has shape (16, 8, 3, 3, 3) but the network's is (8, 8, 3, 3, 3)"),
    ],
)
def test_check_checkpoint_names_the_file_and_the_first_differences(
    saved: dict[str, object], expected: str, tmp_path: Path
) -> None:
    path = save_network(tmp_path / "model.pt", **{**SMALL, **saved})

    with pytest.raises(ValueError) as raised:
        check_checkpoint(BRAIN_INFERENCE / "inference.json", {**SMALL, "out": tmp_path}, path)

    assert str(raised.value).startswith(f"{path} does not fit network_def of {BRAIN_INFERENCE / 'inference.json'}")
    assert "with filters=[4, 4, 8, 8, 8]: " in str(raised.value)  # the settings; paths (out) left out
    assert "out=" not in str(raised.value)
    assert expected in str(raised.value)


def test_check_checkpoint_refuses_a_missing_file_and_a_training_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'model.pt'} does not exist")):
        check_checkpoint(BRAIN_INFERENCE / "inference.json", SMALL, tmp_path / "model.pt")
    torch.save({"network": {}, "trainer": {"epoch": 2}}, tmp_path / "last.pt")
    with pytest.raises(
        ValueError,
        match=re.escape(f"{tmp_path / 'last.pt'} holds a dict with keys ['network', 'trainer'], not a state"),
    ):
        check_checkpoint(BRAIN_INFERENCE / "inference.json", SMALL, tmp_path / "last.pt")
