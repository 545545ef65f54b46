"""Run ``python -m monai.bundle ...`` in a subprocess, as a user types it, and keep its output for assertions."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dca_monai.nets import DCADynUNet
from dca_monai.utils.bundle_command import config_file_arg, override_args

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLES = REPO_ROOT / "bundles"
SCHEMA = BUNDLES / "schema" / "meta_schema_20240725.json"
TORCHRUN = Path(sys.executable).with_name("torchrun")


@dataclass(frozen=True)
class BundleRun:
    """A finished command: its arguments, exit status, merged stdout and stderr, and duration."""

    argv: tuple[str, ...]
    returncode: int
    output: str
    seconds: float

    def check(self) -> BundleRun:
        """Return ``self`` when the command succeeded, else fail with its command line and output tail."""
        if self.returncode != 0:
            raise AssertionError(
                f"exit status {self.returncode} for {' '.join(self.argv)}\n--- output tail ---\n{self.output[-6000:]}"
            )
        return self


def config_files(bundle: str, *names: str) -> str:
    """The ``--config_file`` value for configs of the bundle named ``bundle`` (see :func:`config_file_arg`)."""
    return config_file_arg(BUNDLES / bundle, *names)


def run_bundle(
    command: str,
    *args: str,
    overrides: Mapping[str, object] | None = None,
    launcher: Sequence[str] = (),
    timeout: float = 600,
    cwd: Path = REPO_ROOT,
) -> BundleRun:
    """Run ``[launcher...] python -m monai.bundle COMMAND ARGS... --id value ...`` and return the result.

    Args:
        command: the ``monai.bundle`` sub-command (``run``, ``verify_metadata``, ``ckpt_export``, ...).
        args: arguments after the sub-command (positional ids, ``--config_file``, ...).
        overrides: config ids and values, see :func:`override_args`.
        launcher: a prefix replacing ``python``, e.g. ``(torchrun, "--standalone", "--nproc_per_node=2")``
            (it then runs ``-m monai.bundle``).
        timeout: seconds before the command is killed (the test then fails).
        cwd: working folder.
    """
    prefix = [*launcher] if launcher else [sys.executable]
    return _run((*prefix, "-m", "monai.bundle", command, *args, *override_args(overrides or {})), timeout, cwd)


def run_python(script: str, *args: object, timeout: float = 600) -> BundleRun:
    """Run ``python -c SCRIPT ARGS...`` in a fresh interpreter."""
    return _run((sys.executable, "-c", script, *map(str, args)), timeout, REPO_ROOT)


def _run(argv: tuple[str, ...], timeout: float, cwd: Path) -> BundleRun:
    start = time.perf_counter()
    completed = subprocess.run(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
    )
    return BundleRun(argv, completed.returncode, completed.stdout, time.perf_counter() - start)


def file_times(folder: Path) -> dict[Path, int]:
    """Every file under ``folder`` and its modification time (ns), to show that a run wrote nothing there."""
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def bundle_network(out_channels: int, filters: Sequence[int], dca: bool = True) -> DCADynUNet:
    """The ``network_def`` both bundles build (5 levels, 3x3x3 kernels, strides 1-2-2-2-2, instance norm)."""
    return DCADynUNet(
        3, 1, out_channels, [3] * 5, [1, 2, 2, 2, 2], [2, 2, 2, 2], filters=filters, norm_name="instance", dca=dca
    )
