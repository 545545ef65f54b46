"""The nnU-Net environment (``.venv-nnunet``) that the slow nnU-Net tests drive through subprocesses.

``nnunet_venv`` builds it once per session with ``scripts/setup_nnunet.sh`` (minutes the first time;
reused while ``scripts/nnunet-constraints.txt`` is unchanged). Set ``DCA_MONAI_SKIP_NNUNET=1`` only on a
machine where that environment cannot be built: the tests that need it are then skipped with that
reason; otherwise a failed build fails them. ``DCA_MONAI_NNUNET_VENV`` moves it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.nnunet.environment import NNUNET_VENV, REPO_ROOT


@pytest.fixture(scope="session")
def nnunet_venv() -> Path:
    """The built nnU-Net environment's folder (``bin/python``, ``bin/nnUNetv2_*``)."""
    if os.environ.get("DCA_MONAI_SKIP_NNUNET") == "1":
        pytest.skip("DCA_MONAI_SKIP_NNUNET=1: nnU-Net environment not built on this machine; NOT TESTED")
    setup = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "setup_nnunet.sh")],
        env={**os.environ, "DCA_MONAI_NNUNET_VENV": str(NNUNET_VENV)},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert setup.returncode == 0, f"scripts/setup_nnunet.sh failed:\n{setup.stdout[-3000:]}{setup.stderr[-5000:]}"
    return NNUNET_VENV
