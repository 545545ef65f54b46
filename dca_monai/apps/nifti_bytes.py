"""Reproducible gzipped NIfTI bytes for the embedded datasets (written atomically by their builders)."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np

__all__ = ["nifti_gz_bytes"]


def nifti_gz_bytes(array: np.ndarray, affine: np.ndarray) -> bytes:
    """A gzipped NIfTI-1 file holding ``array`` ``(X, Y, Z)`` on ``affine`` ``(4, 4)``.

    qform and sform get code 1 ("scanner anatomical": augmented cases are no longer in a template
    space); ``mtime=0`` keeps the bytes reproducible, so a rebuilt dataset is byte-identical.
    """
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    return gzip.compress(image.to_bytes(), compresslevel=6, mtime=0)
