"""``python -m monai.bundle`` command lines as a user types them: the ``--config_file`` value, ``--id value``
overrides that MONAI's command line parses back to the same values, and a run that stops a demo when it fails."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["config_file_arg", "override_args", "run_bundle_command"]


def config_file_arg(bundle: str | os.PathLike, *names: str) -> str:
    """The ``--config_file`` value for one config of the bundle folder ``bundle``, or for a list merged in order.

    Example: ``"['b/configs/train.json','b/configs/evaluate.json']"`` for two names.
    """
    paths = [str(Path(bundle) / "configs" / name) for name in names]
    return paths[0] if len(paths) == 1 else "[" + ",".join(f"'{path}'" for path in paths) + "]"


def override_args(overrides: Mapping[str, object]) -> list[str]:
    """``--id value`` pairs written so that MONAI's command line (python-fire) parses them back to the values.

    Lists, numbers, booleans and ``None`` are written as Python literals (``[4, 8]``, ``False``); strings
    and paths as they are.
    """
    args: list[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", str(value) if isinstance(value, (str, os.PathLike)) else repr(value)]
    return args


def run_bundle_command(
    config_file: str, overrides: Mapping[str, object], cwd: str | os.PathLike | None = None
) -> float:
    """Print and run ``python -m monai.bundle run --config_file ... --id value ...``; return its wall time.

    Raises:
        SystemExit: naming the exit status, when the command fails (the command is printed above it).
    """
    argv = [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_file, *override_args(overrides)]
    print("\n$ " + shlex.join(argv[1:]), flush=True)
    start = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"stopped: the command above failed with exit status {completed.returncode}")
    return time.perf_counter() - start
