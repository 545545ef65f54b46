"""A small labelled brain MRI dataset, built on disk from the MNI152 templates that nilearn ships.

It demonstrates the training, validation and inference pipeline on real anatomy (a T1-weighted
average of 152 adult brains and its tissue maps) without downloading anything. It is NOT a
clinical benchmark: every case is the same template brain under a different random deformation
and intensity change, so scores on it say that the pipeline works, not how well a network
segments real patients.

Each case is a brain-extracted T1 image (``int16``, arbitrary scanner-like units) and a label map
(``uint8``): 0 background, 1 CSF, 2 grey matter, 3 white matter; see
:func:`~dca_monai.apps.tissue_labels.derive_tissue_labels` for how labels come from the templates.
The template is cropped to the brain with a 22 mm margin and resampled to ``spacing`` mm (2 mm
gives 95 x 113 x 100 voxels). Per case, seeded:

1. more CSF than the template's own mask and maps hold
   (:func:`~dca_monai.apps.tissue_synthesis.extend_csf`): a shell of 0-6 mm of extra-cerebral CSF
   outside the template's mask, as a real brain mask that keeps the CSF around the brain has (none in
   ``shell_free_fraction`` of the cases: a tight mask), and the grey-matter voxels darker than a point
   drawn in ``sulcal_weight_range`` (default 35-65%) of the way from the CSF to the grey-matter median
   intensity (sulcal CSF that averaging 152 brains blurred into grey matter);
2. the image: in ``synthetic_fraction`` of the training cases one drawn from the labels alone with
   random per-class intensities, contrasts and blur, in the manner of SynthSeg
   (:func:`~dca_monai.apps.tissue_synthesis.synthetic_tissue_image`), so that labels follow
   anatomy rather than one template's intensities; otherwise (and always for validation and test)
   the template's T1, its new CSF shell filled with CSF-like values;
3. MONAI augmentations: an elastic deformation with rotation, scaling and translation applied
   jointly to image (bilinear) and label (nearest), then a gamma contrast change, a smooth bias
   field, Gaussian noise and a global intensity scale on the image.

Last, the image is set to exactly zero outside the brain (label 0), as a skull-stripped scan is:
the noise floor stays inside the brain only, so training cases and real brain-extracted scans share
the same background.

Layout under ``output_dir``::

    datalist.json                      Decathlon-style: "training", "validation", "test"
    images/{train,val,test}_NNN.nii.gz
    labels/{train,val,test}_NNN.nii.gz

Every file is written atomically and ``datalist.json`` last, so a folder without a datalist is an
unfinished build. The same arguments give byte-identical files on a given machine and library
versions, whatever the number of threads (torch runs on one thread while building); a case depends
only on ``seed``, its section and its index, so asking for more training cases leaves the others
unchanged.

Command line::

    python -m dca_monai.apps.brain_dataset --output-dir DIR [--num-train 6] [--num-val 2]
        [--num-test 2] [--spacing 2.0] [--seed 0] [--synthetic-fraction 0.5] [--shell-free-fraction 0]
        [--sulcal-weight-range 0.35 0.65] [--overwrite]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    CropForegroundd,
    Lambdad,
    Rand3DElasticd,
    RandAdjustContrastd,
    RandBiasFieldd,
    RandGaussianNoised,
    RandScaleIntensityd,
    Spacingd,
)
from scipy import ndimage

from dca_monai.apps.mni152 import MNI152_TEMPLATE_FILES, load_mni152_templates
from dca_monai.apps.nifti_bytes import nifti_gz_bytes
from dca_monai.apps.tissue_labels import TISSUE_CLASSES, derive_tissue_labels
from dca_monai.apps.tissue_synthesis import extend_csf, fill_csf_shell, synthetic_tissue_image
from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = ["BUILD_FORMAT", "DATALIST_NAME", "build_brain_dataset", "main"]

DATALIST_NAME = "datalist.json"
BUILD_FORMAT = 3
"""Version of the build recipe, stored in the datalist: bump it when the output changes."""

_SECTIONS = (("training", "train"), ("validation", "val"), ("test", "test"))
_MARGIN_MM = 22
_CSF_MARGIN_MM = (0.0, 6.0)  # extra-cerebral CSF shell grown outside the template mask
_SULCAL_WEIGHT = (0.35, 0.65)  # grey matter darker than this point between CSF and grey matter becomes CSF
_SCANNER_UNITS = 1000.0  # image intensities are stored as int16 with the template's white matter near 850
_REFERENCE_SPACING = 2.0

logger = logging.getLogger(__name__)


def build_brain_dataset(
    output_dir: str | os.PathLike,
    num_train: int = 6,
    num_val: int = 2,
    num_test: int = 2,
    spacing: float = 2.0,
    seed: int = 0,
    overwrite: bool = False,
    synthetic_fraction: float = 0.5,
    shell_free_fraction: float = 0.0,
    sulcal_weight_range: Sequence[float] = (0.35, 0.65),
) -> Path:
    """Write the demo dataset under ``output_dir`` and return the path of its datalist.

    When ``output_dir/datalist.json`` exists, was built with the same arguments (stored under its
    ``"dca_monai_build"`` key) and all its files exist, nothing is rebuilt unless ``overwrite``.

    Args:
        output_dir: folder to write to; created when missing.
        num_train: cases in the ``"training"`` section, at least 1.
        num_val: cases in the ``"validation"`` section.
        num_test: cases in the ``"test"`` section (with labels, to score inference).
        spacing: isotropic voxel size in mm, in ``[1.5, 8]``. The build peaks near 2 GB of memory
            at 2 mm (MONAI's elastic smoothing convolves the whole grid); finer grids need much more.
        seed: seed of all augmentations, a non-negative int.
        overwrite: rebuild even when a matching datalist exists.
        synthetic_fraction: share of the training cases whose image is drawn from their labels
            with random per-class intensities (:func:`~dca_monai.apps.tissue_synthesis.synthetic_tissue_image`)
            instead of the template's, in ``[0, 1]``; validation and test cases keep the template's.
        shell_free_fraction: share of all cases that get no extra-cerebral CSF shell (a tight brain
            mask, as ``bet`` or Colin27's ``ch2bet`` gives), in ``[0, 1]``: with a shell in every case a
            network learns that the outermost voxels are CSF, whatever their intensity.
        sulcal_weight_range: ``(low, high)`` with ``0 <= low <= high <= 1``: per case, the grey matter
            darker than a point drawn in this range of the way from the CSF to the grey-matter median
            intensity becomes CSF (:func:`~dca_monai.apps.tissue_synthesis.extend_csf`).

    Returns:
        Path of ``datalist.json``; its image and label paths are relative to its folder.

    Raises:
        ValueError: when a count, ``spacing`` or ``seed`` is out of range.
        ImportError: when nilearn, which holds the templates, is not installed.
    """
    _check_int("num_train", num_train, minimum=1)
    _check_int("num_val", num_val, minimum=0)
    _check_int("num_test", num_test, minimum=0)
    _check_int("seed", seed, minimum=0)
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)) or not 1.5 <= spacing <= 8.0:
        raise ValueError(f"spacing={spacing!r} but a value in [1.5, 8] mm was expected")
    if isinstance(synthetic_fraction, bool) or not isinstance(synthetic_fraction, (int, float)):
        raise ValueError(f"synthetic_fraction={synthetic_fraction!r} but a number in [0, 1] was expected")
    if not 0.0 <= synthetic_fraction <= 1.0:
        raise ValueError(f"synthetic_fraction={synthetic_fraction!r} but a number in [0, 1] was expected")
    if isinstance(shell_free_fraction, bool) or not isinstance(shell_free_fraction, (int, float)):
        raise ValueError(f"shell_free_fraction={shell_free_fraction!r} but a number in [0, 1] was expected")
    if not 0.0 <= shell_free_fraction <= 1.0:
        raise ValueError(f"shell_free_fraction={shell_free_fraction!r} but a number in [0, 1] was expected")
    sulcal = _check_range("sulcal_weight_range", sulcal_weight_range)

    output_dir = Path(output_dir)
    datalist_path = output_dir / DATALIST_NAME
    build = {
        "format": BUILD_FORMAT,
        "source": sorted(MNI152_TEMPLATE_FILES.values()),
        "num_train": num_train,
        "num_val": num_val,
        "num_test": num_test,
        "spacing": float(spacing),
        "seed": seed,
        "synthetic_fraction": float(synthetic_fraction),
    }
    if shell_free_fraction or sulcal != _SULCAL_WEIGHT:  # format 3 datalists stay valid for the old recipe
        build["shell_free_fraction"] = float(shell_free_fraction)
        build["sulcal_weight_range"] = list(sulcal)
    if not overwrite and _is_built(datalist_path, build):
        logger.info("%s is up to date, not rebuilding", datalist_path)
        return datalist_path

    # the old datalist goes first: while files are rewritten no datalist may describe them
    datalist_path.unlink(missing_ok=True)
    for folder in ("images", "labels"):
        (output_dir / folder).mkdir(parents=True, exist_ok=True)

    counts = {"training": num_train, "validation": num_val, "test": num_test}
    sections: dict[str, list[dict[str, str]]] = {}
    with _one_torch_thread():
        base = _base_case(float(spacing))
        augment = _case_augmentation(float(spacing))
        for section_index, (section, prefix) in enumerate(_SECTIONS):
            sections[section] = []
            for case_index in range(counts[section]):
                case_seed = np.random.SeedSequence([seed, section_index, case_index]).generate_state(1)[0]
                augment.set_random_state(seed=int(case_seed))
                rng = np.random.default_rng(case_seed)
                synthetic = bool(rng.random() < synthetic_fraction) and section == "training"
                case = augment(_case_tissues(base, rng, synthetic, float(shell_free_fraction), sulcal))
                name = f"{prefix}_{case_index:03d}.nii.gz"
                image = np.clip(np.rint(case["image"][0].numpy() * _SCANNER_UNITS), 0, np.iinfo(np.int16).max)
                label = case["label"][0].numpy().astype(np.uint8)
                image[label == 0] = 0  # skull-stripped like a real input: exact zero outside the brain
                affine = case["image"].affine.numpy()
                write_bytes_atomic(output_dir / "images" / name, nifti_gz_bytes(image.astype(np.int16), affine))
                write_bytes_atomic(output_dir / "labels" / name, nifti_gz_bytes(label, affine))
                sections[section].append({"image": f"images/{name}", "label": f"labels/{name}"})
                logger.info("wrote %s case %d: %s", section, case_index, name)

    datalist: dict[str, Any] = {
        "name": "MNI152 brain tissue demo",
        "description": (
            "Seeded augmentations of the MNI ICBM152 2009a symmetric T1 template and tissue labels derived from its "
            "probability maps. Demonstrates the pipeline on real anatomy; not a clinical benchmark."
        ),
        "reference": "Fonov et al., NeuroImage 2009 and 2011; http://www.bic.mni.mcgill.ca/ServicesAtlases/ICBM152NLin2009",
        "licence": "the terms of the MNI ICBM152 2009 templates apply (see the reference)",
        "tensorImageSize": "3D",
        "modality": {"0": "T1"},
        "labels": {str(value): name for value, name in enumerate(TISSUE_CLASSES)},
        "numTraining": num_train,
        "numValidation": num_val,
        "numTest": num_test,
        "dca_monai_build": build,
        **sections,
    }
    write_bytes_atomic(datalist_path, (json.dumps(datalist, indent=2) + "\n").encode())
    return datalist_path


def _check_range(name: str, value: object) -> tuple[float, float]:
    """``value`` as ``(low, high)`` with ``0 <= low <= high <= 1``, else a ``ValueError`` naming ``name``."""
    try:
        low, high = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        low, high = -1.0, -1.0
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"{name}={value!r} but (low, high) with 0 <= low <= high <= 1 was expected")
    return low, high


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} but an int >= {minimum} was expected")


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: multi-threaded reductions round differently and would change the bytes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _is_built(datalist_path: Path, build: dict[str, Any]) -> bool:
    try:
        datalist = json.loads(datalist_path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(datalist, dict) or datalist.get("dca_monai_build") != build:
        return False
    try:
        entries = [entry for section, _ in _SECTIONS for entry in datalist[section]]
        return all((datalist_path.parent / entry[key]).is_file() for entry in entries for key in ("image", "label"))
    except (KeyError, TypeError):  # a datalist edited by hand: rebuild it
        return False


def _base_case(spacing: float) -> dict[str, Any]:
    """The template cropped to the brain and resampled: image ``(1, *S)`` float, label ``(1, *S)`` uint8.

    ``"outside_mm"`` holds each voxel's distance in mm to the brain, ``S``.
    """
    templates = load_mni152_templates()
    labels = derive_tissue_labels(templates.t1, templates.gm, templates.wm)
    affine = torch.as_tensor(templates.affine)
    one_hot = np.stack([labels == value for value in range(len(TISSUE_CLASSES))]).astype(np.float32)
    keys = ("image", "label")
    voxel_mm = np.linalg.norm(templates.affine[:3, :3], axis=0)
    resample = Compose(
        [
            CropForegroundd(keys, source_key="image", margin=[round(_MARGIN_MM / size) for size in voxel_mm]),
            # resampling the one-hot labels then taking the argmax gives each coarse voxel its majority class
            Spacingd(keys, pixdim=spacing, mode="bilinear", dtype=np.float32),
        ]
    )
    base = resample(
        {"image": MetaTensor(templates.t1[None], affine=affine), "label": MetaTensor(one_hot, affine=affine)}
    )
    base["label"] = MetaTensor(
        torch.argmax(base["label"].as_tensor(), dim=0, keepdim=True).to(torch.uint8), affine=base["image"].affine
    )
    base["outside_mm"] = ndimage.distance_transform_edt(base["label"][0].numpy() == 0, sampling=spacing)
    return base


def _case_tissues(
    base: dict[str, MetaTensor],
    rng: np.random.Generator,
    synthetic: bool,
    shell_free_fraction: float,
    sulcal_weight_range: tuple[float, float],
) -> dict[str, MetaTensor]:
    """The case's labels with more CSF (shell and sulci) and its image: the template's or a synthetic one."""
    t1, labels = base["image"][0].numpy(), base["label"][0].numpy()
    margin_mm, sulcal_weight = rng.uniform(*_CSF_MARGIN_MM), rng.uniform(*sulcal_weight_range)
    if shell_free_fraction > 0 and rng.random() < shell_free_fraction:  # no draw at 0: format 3 cases unchanged
        margin_mm = 0.0
    extended = extend_csf(labels, t1, base["outside_mm"], margin_mm, sulcal_weight)
    image = synthetic_tissue_image(extended, rng) if synthetic else fill_csf_shell(t1, labels, extended, rng)
    affine = base["image"].affine
    return {
        "image": MetaTensor(torch.from_numpy(image)[None], affine=affine),
        "label": MetaTensor(torch.from_numpy(extended)[None], affine=affine),
    }


def _case_augmentation(spacing: float) -> Compose:
    """Joint spatial and image-only intensity augmentations, with sizes in mm whatever ``spacing``."""
    keys = ("image", "label")
    # smoothed white noise shrinks as sigma**-1.5 (in voxels): this keeps displacements near 1.5 mm mean, 7 mm max
    magnitude_scale = (_REFERENCE_SPACING / spacing) ** 2.5
    return Compose(
        [
            Rand3DElasticd(
                keys,
                sigma_range=(12.0 / spacing, 18.0 / spacing),
                magnitude_range=(80.0 * magnitude_scale, 200.0 * magnitude_scale),
                prob=1.0,
                rotate_range=(0.15, 0.15, 0.15),
                scale_range=(0.07, 0.07, 0.07),
                translate_range=(4.0 / spacing,) * 3,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            ),
            RandAdjustContrastd("image", gamma=(0.75, 1.35), prob=1.0),
            RandBiasFieldd("image", degree=3, coeff_range=(0.0, 0.15), prob=1.0),
            RandGaussianNoised("image", std=0.04, prob=1.0),
            # a magnitude image is non-negative: |noise| is its noise floor outside the brain
            Lambdad("image", torch.abs),
            RandScaleIntensityd("image", factors=(-0.2, 0.2), prob=1.0),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the dataset and print the datalist path."""
    parser = argparse.ArgumentParser(
        prog="python -m dca_monai.apps.brain_dataset",
        description="Build the MNI152 brain tissue demo dataset (a pipeline demo, not a clinical benchmark).",
    )
    parser.add_argument("--output-dir", required=True, type=Path, help="folder to write the dataset to")
    parser.add_argument("--num-train", type=int, default=6, help="training cases (default 6)")
    parser.add_argument("--num-val", type=int, default=2, help="validation cases (default 2)")
    parser.add_argument("--num-test", type=int, default=2, help="test cases (default 2)")
    parser.add_argument("--spacing", type=float, default=2.0, help="voxel size in mm (default 2.0)")
    parser.add_argument("--seed", type=int, default=0, help="augmentation seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild even if a matching datalist exists")
    parser.add_argument(
        "--synthetic-fraction", type=float, default=0.5, help="share of training cases with synthetic intensities"
    )
    parser.add_argument(
        "--shell-free-fraction", type=float, default=0.0, help="share of cases without an extra-cerebral CSF shell"
    )
    parser.add_argument(
        "--sulcal-weight-range",
        type=float,
        nargs=2,
        default=(0.35, 0.65),
        help="range of the sulcal CSF threshold, from CSF (0) to grey matter (1)",
    )
    args = parser.parse_args(argv)
    try:
        datalist = build_brain_dataset(
            args.output_dir,
            args.num_train,
            args.num_val,
            args.num_test,
            args.spacing,
            args.seed,
            args.overwrite,
            args.synthetic_fraction,
            args.shell_free_fraction,
            args.sulcal_weight_range,
        )
    except ValueError as error:
        parser.error(str(error))
    print(datalist)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
