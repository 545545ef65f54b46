"""How a bundle shows a failed datalist check (:mod:`dca_monai.data.datalist_errors`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

HOOKED_FAILURE = """
import sys
from dca_monai.data.datalist_errors import DatalistError, DatalistProblem, show_datalist_errors_first
show_datalist_errors_first()
show_datalist_errors_first()  # idempotent
try:
    if sys.argv[1] == "datalist":
        raise DatalistError("<mapping>", [DatalistProblem("test", 0, "image", "/data/a.nii.gz", "image is constant")])
    raise KeyError("other")
except Exception as error:
    raise RuntimeError("Failed to evaluate a long config expression") from error
"""


@pytest.mark.parametrize(("failure", "traceback_variable"), [("datalist", ""), ("datalist", "1"), ("other", "")])
def test_show_datalist_errors_first_prints_the_problems_alone(failure: str, traceback_variable: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", HOOKED_FAILURE, failure],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DCA_MONAI_TRACEBACK": traceback_variable},
        cwd=REPO_ROOT,
    )
    assert completed.returncode == 1
    problem = "DatalistError: datalist <mapping> has 1 problem(s):\n  - test[0].image (/data/a.nii.gz): "
    if failure == "datalist" and not traceback_variable:
        assert completed.stderr.startswith(problem + "image is constant\n")
        assert "Traceback" not in completed.stderr
    else:
        assert completed.stderr.startswith("Traceback")
        assert "RuntimeError: Failed to evaluate" in completed.stderr
