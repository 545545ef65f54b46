"""``python -m monai.bundle run`` as the demos call it: the ``--config_file`` value, and a run that stops the demo
when the command fails."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def config_file(bundle: Path, *names: str) -> str:
    """The ``--config_file`` value for one config of ``bundle``, or for a list merged in order.

    Example: ``"['a.json','b.json']"`` for two names.
    """
    paths = [str(bundle / "configs" / name) for name in names]
    return paths[0] if len(paths) == 1 else "[" + ",".join(f"'{p}'" for p in paths) + "]"


def bundle_run(config_file: str, overrides: dict[str, object]) -> float:
    """Run ``python -m monai.bundle run`` with overrides; return its wall time; stop the demo if it fails."""
    argv = [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_file]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value) if isinstance(value, (str, Path)) else repr(value)]
    print("\n$ " + shlex.join(argv[1:]), flush=True)
    start = time.perf_counter()
    completed = subprocess.run(argv, cwd=REPO_ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(f"demo stopped: the command above failed with exit status {completed.returncode}")
    return time.perf_counter() - start
