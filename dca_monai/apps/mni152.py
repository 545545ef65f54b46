"""Locate and load the MNI ICBM152 2009a symmetric templates that nilearn ships in its package.

nilearn installs three 1 mm templates (197 x 233 x 189 voxels, ``uint8``) inside its wheel, under
``nilearn/datasets/data/``: the brain-extracted T1 and the grey- and white-matter probability
maps. They are found on disk from nilearn's package folder, without importing nilearn and
without any fetcher, so nothing is ever downloaded.

Source: the ICBM 2009a nonlinear symmetric average of 152 adults (Fonov et al., NeuroImage 2009
and 2011; Collins et al., 1999), http://www.bic.mni.mcgill.ca/ServicesAtlases/ICBM152NLin2009.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

__all__ = ["MNI152_TEMPLATE_FILES", "MNI152Templates", "load_mni152_templates", "mni152_template_path"]

MNI152_TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


def mni152_template_path(name: str) -> Path:
    """Path of one template file inside the installed nilearn package.

    Args:
        name: ``"t1"``, ``"gm"`` or ``"wm"``.

    Raises:
        ValueError: when ``name`` is not a key of :data:`MNI152_TEMPLATE_FILES`.
        ImportError: when nilearn is not installed (``pip install 'dca-monai[demo]'``).
        FileNotFoundError: when the installed nilearn lacks the file.
    """
    if name not in MNI152_TEMPLATE_FILES:
        raise ValueError(f"name={name!r} but one of {sorted(MNI152_TEMPLATE_FILES)} was expected")
    # find_spec on a top-level package locates it without running its __init__
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "nilearn is not installed; the MNI152 templates come from its package "
            "(install it with `pip install 'dca-monai[demo]'`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / MNI152_TEMPLATE_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"MNI152 template {name!r} not found at {path}; expected nilearn's packaged file")
    return path


@dataclass(frozen=True)
class MNI152Templates:
    """The three templates on their common 1 mm grid, intensities scaled to ``[0, 1]``.

    Attributes:
        t1: T1-weighted average, brain-extracted (zero outside the brain), shape ``(X, Y, Z)``.
        gm: grey-matter probability, shape ``(X, Y, Z)``.
        wm: white-matter probability, shape ``(X, Y, Z)``.
        affine: voxel to MNI (RAS, mm) affine, shape ``(4, 4)``.
    """

    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    affine: np.ndarray


def load_mni152_templates() -> MNI152Templates:
    """Load the T1, GM and WM templates as ``float32`` arrays in ``[0, 1]``.

    The packaged files are ``uint8``: values are divided by 255.

    Raises:
        ImportError, FileNotFoundError: as :func:`mni152_template_path`.
        ValueError: when a file is not ``uint8`` or its grid differs from the T1's.
    """
    arrays = {}
    reference: nib.Nifti1Image | None = None
    for name in MNI152_TEMPLATE_FILES:
        path = mni152_template_path(name)
        image = nib.load(path)
        if image.get_data_dtype() != np.uint8:
            raise ValueError(f"{path} stores {image.get_data_dtype()} but uint8 was expected")
        if reference is None:
            reference = image
        elif image.shape != reference.shape or not np.allclose(image.affine, reference.affine):
            raise ValueError(
                f"{path} has shape {image.shape} and affine {image.affine.tolist()} but the T1 template's "
                f"grid {reference.shape}, {reference.affine.tolist()} was expected"
            )
        arrays[name] = np.asarray(image.dataobj, dtype=np.float32) / np.float32(255)
    return MNI152Templates(affine=np.asarray(reference.affine, dtype=np.float64), **arrays)
