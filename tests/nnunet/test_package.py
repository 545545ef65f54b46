"""``dca_monai.nnunet`` imports without nnU-Net and points nnU-Net at its trainers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

import dca_monai.nnunet
from dca_monai.nnunet import trainer_search_path


def test_import_does_not_need_nnunetv2() -> None:
    code = "import sys, dca_monai.nnunet; print(any(m.startswith('nnunetv2') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_module_prints_the_trainer_search_path() -> None:
    done = subprocess.run([sys.executable, "-m", "dca_monai.nnunet"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(trainer_search_path())
    assert (trainer_search_path() / "dca_monai_trainers.py").is_file()


@pytest.mark.skipif(importlib.util.find_spec("nnunetv2") is not None, reason="nnunetv2 is installed here")
def test_trainer_without_nnunetv2_says_how_to_install() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"nnUNetTrainerDCA needs nnunetv2.*\[nnunet\]"):
        dca_monai.nnunet.nnUNetTrainerDCA  # noqa: B018


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nnUNetTrainerX'"):
        dca_monai.nnunet.nnUNetTrainerX  # noqa: B018
