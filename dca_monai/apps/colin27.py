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

from pathlib import Path

from dca_monai.apps.debian_data import find_debian_data_file

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
    return find_debian_data_file(
        name, COLIN27_FILES, COLIN27_SEARCH_DIRS, COLIN27_DIR_VARIABLE, "Colin27", "mricron-data"
    )
