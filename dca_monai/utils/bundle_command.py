"""``python -m monai.bundle`` command lines as a user types them: the ``--config_file`` value, ``--id value``
overrides that MONAI's command line parses back to the same values, a run that stops a demo when it fails,
and a check that a ``model.pt`` trained earlier fits the network of a command's overrides."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["check_checkpoint", "config_file_arg", "override_args", "reused_checkpoints", "run_bundle_command"]


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


def check_checkpoint(
    config_file: str | os.PathLike, overrides: Mapping[str, object], ckpt_path: str | os.PathLike
) -> None:
    """Check that the state dict in ``ckpt_path`` loads strictly into the config's ``network_def`` with ``overrides``.

    A bundle's ``CheckpointLoader`` finds a ``model.pt`` of other settings (``filters``,
    ``network_def#dca``, ``num_classes``, ...) only after its data are loaded, with every key in the
    message; this names the file and the first keys that differ, before anything runs.

    Args:
        config_file: a config file of the bundle that defines ``network_def`` (``configs/inference.json``).
        overrides: the ``--id value`` overrides of the command that would load the weights.
        ckpt_path: a ``torch.save``-d state dict, such as the ``models/model.pt`` of a training run.

    Raises:
        FileNotFoundError: when ``ckpt_path`` is not a file.
        ValueError: when it holds no state dict, or keys or shapes differ from the network's.
    """
    import torch
    from monai.bundle import ConfigParser

    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"{ckpt_path} does not exist")
    parser = ConfigParser()
    parser.read_config(str(config_file))
    parser.update({key: str(value) if isinstance(value, os.PathLike) else value for key, value in overrides.items()})
    expected = parser.get_parsed_content("network_def").state_dict()
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        what = f"a dict with keys {sorted(map(str, state))[:5]}" if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(f"{ckpt_path} holds {what}, not a state dict of tensors (the models/model.pt of a training)")
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} has shape {tuple(state[key].shape)} but the network's is {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    if problems:
        settings = ", ".join(f"{key}={value}" for key, value in overrides.items() if not isinstance(value, os.PathLike))
        raise ValueError(
            f"{ckpt_path} does not fit network_def of {config_file} with {settings}: {len(problems)} difference(s), "
            + "; ".join(problems[:3])
        )


def reused_checkpoints(
    parser: argparse.ArgumentParser,
    config_file: str | os.PathLike,
    overrides: Mapping[str, object],
    ckpt_dirs: Mapping[str, Path | None],
) -> dict[bool, Path]:
    """The ``ckpt_dir`` of earlier runs that a demo reuses, checked with :func:`check_checkpoint`.

    Args:
        parser: the demo's argument parser; a checkpoint that does not fit stops it with
            ``parser.error`` naming the option and the file.
        config_file: the bundle's config that defines ``network_def`` (``configs/inference.json``).
        overrides: the network settings of the demo's commands, without ``network_def#dca``.
        ckpt_dirs: ``{"--dca-ckpt-dir": dir or None, "--parent-ckpt-dir": dir or None}``: the first
            option is the DCA run, the second the ``dca=false`` one.

    Returns:
        ``{dca: resolved ckpt_dir}`` for the options that were given.
    """
    reused: dict[bool, Path] = {}
    for (option, ckpt_dir), dca in zip(ckpt_dirs.items(), (True, False)):
        if ckpt_dir is None:
            continue
        try:
            check_checkpoint(config_file, {**overrides, "network_def#dca": dca}, ckpt_dir / "model.pt")
        except (FileNotFoundError, ValueError) as error:
            parser.error(f"{option} {ckpt_dir}: {error}")
        reused[dca] = ckpt_dir.resolve()
    return reused
