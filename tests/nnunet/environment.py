"""Where the nnU-Net environment lives and how the slow nnU-Net tests run its commands.

``.venv-nnunet`` (``DCA_MONAI_NNUNET_VENV`` moves it) is built by the ``nnunet_venv`` fixture
(``conftest.py``) with ``scripts/setup_nnunet.sh``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NNUNET_VENV = Path(os.environ.get("DCA_MONAI_NNUNET_VENV", REPO_ROOT / ".venv-nnunet"))


def run_in_venv(env: dict[str, str], *command: str, timeout: float = 900, cwd: Path | None = None) -> str:
    """Run ``command[0]`` from the nnU-Net environment's ``bin`` with ``command[1:]``; its stdout and stderr.

    Raises:
        AssertionError: when it exits with an error; the message shows the end of its output.
    """
    executable = str(NNUNET_VENV / "bin" / command[0])
    done = subprocess.run(
        [executable, *command[1:]], env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{output[-6000:]}"
    return output
