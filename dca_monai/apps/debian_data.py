"""Find a data file that a Debian package installs (the held-out real scans), or say how to install it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["find_debian_data_file"]


def find_debian_data_file(
    name: str,
    files: Mapping[str, str],
    search_dirs: Sequence[Path],
    dir_variable: str,
    description: str,
    package: str,
) -> Path:
    """Path of ``files[name]`` in ``$dir_variable`` (when set) or else the first of ``search_dirs`` that holds it.

    Args:
        name: a key of ``files``.
        files: file names by key, e.g. ``{"t1": "ch2.nii.gz", "brain": "ch2bet.nii.gz"}``.
        search_dirs: the folders the Debian package installs the files into, searched in order.
        dir_variable: the environment variable naming another folder, searched first.
        description: what the files are, for the error (``"Colin27"``).
        package: the Debian package that installs them (``"mricron-data"``).

    Raises:
        ValueError: when ``name`` is not a key of ``files``.
        FileNotFoundError: when no searched folder holds the file, saying how to install it.
    """
    if name not in files:
        raise ValueError(f"name={name!r} but one of {sorted(files)} was expected")
    folders = list(search_dirs)
    if os.environ.get(dir_variable):
        folders.insert(0, Path(os.environ[dir_variable]))
    for folder in folders:
        if (folder / files[name]).is_file():
            return folder / files[name]
    searched = ", ".join(str(folder) for folder in folders)
    raise FileNotFoundError(
        f"{description} {files[name]} not found in {searched}; expected Debian's {package} package "
        f"(`apt-get install {package}`, which scripts/setup_env.sh runs) or ${dir_variable} set to a folder "
        f"holding {' and '.join(files.values())}"
    )
