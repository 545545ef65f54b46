"""Locate Colin27, a real single-subject T1 scan, as Debian's ``mricron-data`` package installs it.

Colin27 (Holmes et al., 1998) is the average of 27 1 mm T1 scans of one adult, in MNI space.
Debian's ``mricron-data`` package (BSD licence) ships it with skull (``ch2.nii.gz``) and
skull-stripped (``ch2bet.nii.gz``), 181 x 217 x 181 voxels of 1 mm, under
``/usr/share/mricron/templates``. The project uses it as a held-out real scan that no model
trains on. ``scripts/setup_env.sh`` installs the package (``apt-get install mricron-data``);
nothing is downloaded at test or demo time. ``DCA_MONAI_COLIN27_DIR`` points at another folder
holding the two files.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["COLIN27_DIR_VARIABLE", "COLIN27_FILES", "COLIN27_SEARCH_DIRS", "colin27_path"]

COLIN27_FILES = {"t1": "ch2.nii.gz", "brain": "ch2bet.nii.gz"}
"""``"t1"``: the T1 with skull and scalp; ``"brain"``: the same scan skull-stripped (zero outside the brain)."""

COLIN27_SEARCH_DIRS = (Path("/usr/share/mricron/templates"),)
"""Folders searched in order, after ``$DCA_MONAI_COLIN27_DIR``."""

COLIN27_DIR_VARIABLE = "DCA_MONAI_COLIN27_DIR"


def colin27_path(name: str = "brain") -> Path:
    """Path of one Colin27 file.

    Args:
        name: ``"brain"`` (skull-stripped, ``ch2bet.nii.gz``) or ``"t1"`` (with skull, ``ch2.nii.gz``).

    Raises:
        ValueError: when ``name`` is not a key of :data:`COLIN27_FILES`.
        FileNotFoundError: when no searched folder holds the file, saying how to install it.
    """
    if name not in COLIN27_FILES:
        raise ValueError(f"name={name!r} but one of {sorted(COLIN27_FILES)} was expected")
    folders = list(COLIN27_SEARCH_DIRS)
    if os.environ.get(COLIN27_DIR_VARIABLE):
        folders.insert(0, Path(os.environ[COLIN27_DIR_VARIABLE]))
    for folder in folders:
        if (folder / COLIN27_FILES[name]).is_file():
            return folder / COLIN27_FILES[name]
    searched = ", ".join(str(folder) for folder in folders)
    raise FileNotFoundError(
        f"Colin27 {COLIN27_FILES[name]} not found in {searched}; expected Debian's mricron-data package "
        f"(`apt-get install mricron-data`, which scripts/setup_env.sh runs) or ${COLIN27_DIR_VARIABLE} "
        "set to a folder holding ch2.nii.gz and ch2bet.nii.gz"
    )
