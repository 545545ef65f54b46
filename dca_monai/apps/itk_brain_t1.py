"""Locate ITK's example brain T1, a second real scan, as Debian's ``insighttoolkit5-examples`` installs it.

The Insight Toolkit's examples ship a T1-weighted head scan (``KmeansTest_T1UCharRaw.nii.gz``,
128 x 128 x 62 voxels of 2 x 2 x 3 mm, coronal slices, intensities 0-255) and a brain mask for it
(``KmeansTest_T1RawSkullStrip.nii.gz``, non-zero inside the brain, which keeps the extra-cerebral
CSF). Another scanner, resolution and slice direction than Colin27's: the project uses it as a
second held-out real scan that no model trains on. Its k-means labels
(``KmeansTest_T1KmeansPrelimSegmentation.nii.gz``) are not a usable tissue reference and are not
used. Debian installs the files (Apache 2.0, as the rest of ITK: see the package's copyright file) under
``/usr/share/doc/insighttoolkit5-examples/examples/Data``; ``scripts/setup_env.sh`` runs
``apt-get install insighttoolkit5-examples``, so nothing is downloaded at test or demo time.
``DCA_MONAI_ITK_T1_DIR`` points at another folder holding the two files.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np

from dca_monai.apps.debian_data import find_debian_data_file
from dca_monai.apps.nifti_bytes import nifti_gz_bytes
from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = ["ITK_T1_DIR_VARIABLE", "ITK_T1_FILES", "ITK_T1_SEARCH_DIRS", "itk_t1_path", "write_itk_t1_brain"]

ITK_T1_FILES = {"t1": "KmeansTest_T1UCharRaw.nii.gz", "mask": "KmeansTest_T1RawSkullStrip.nii.gz"}
"""``"t1"``: the head scan with skull; ``"mask"``: its brain mask (non-zero inside, values 4-6)."""

ITK_T1_SEARCH_DIRS = (Path("/usr/share/doc/insighttoolkit5-examples/examples/Data"),)
"""Folders searched in order, after ``$DCA_MONAI_ITK_T1_DIR``."""

ITK_T1_DIR_VARIABLE = "DCA_MONAI_ITK_T1_DIR"


def itk_t1_path(name: str = "t1") -> Path:
    """Path of one file of ITK's example T1.

    Args:
        name: ``"t1"`` (the scan, ``KmeansTest_T1UCharRaw.nii.gz``) or ``"mask"`` (its brain mask,
            ``KmeansTest_T1RawSkullStrip.nii.gz``).

    Raises:
        ValueError: when ``name`` is not a key of :data:`ITK_T1_FILES`.
        FileNotFoundError: when no searched folder holds the file, saying how to install it.
    """
    return find_debian_data_file(
        name, ITK_T1_FILES, ITK_T1_SEARCH_DIRS, ITK_T1_DIR_VARIABLE, "ITK example T1", "insighttoolkit5-examples"
    )


def write_itk_t1_brain(path: str | os.PathLike) -> Path:
    """Write the skull-stripped scan: the T1 inside its brain mask, 0 outside, ``int16`` on the T1's grid.

    This is what the brain bundle expects as input (a brain-extracted T1), as Colin27's ``ch2bet``.

    Args:
        path: the NIfTI file to write (``.nii.gz``), atomically; missing parent folders are created.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: as :func:`itk_t1_path`.
        ValueError: when the mask's grid differs from the scan's, naming both files.
    """
    t1_path, mask_path = itk_t1_path("t1"), itk_t1_path("mask")
    t1, mask = nib.load(t1_path), nib.load(mask_path)
    if t1.shape != mask.shape or not np.allclose(t1.affine, mask.affine, atol=1e-3):
        raise ValueError(
            f"{mask_path} has shape {mask.shape} and affine {mask.affine.tolist()} but the grid of {t1_path}, "
            f"{t1.shape} and {t1.affine.tolist()}, was expected"
        )
    brain = np.where(np.asanyarray(mask.dataobj) > 0, np.asanyarray(t1.dataobj), 0).astype(np.int16)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, nifti_gz_bytes(brain, t1.affine))
    return path
