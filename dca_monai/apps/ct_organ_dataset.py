"""A small multi-organ CT dataset of two real patients, built on disk from TotalSegmentator's example files.

Training and validation cases are seeded augmentations of one patient (the abdomen-pelvis CT
``example_ct.nii.gz``, 3 mm voxels); the test case is the OTHER patient's real CT DICOM series
(20 slices of 512 x 512, JPEG 2000 lossless) with its label map on the series' grid. So the test
score is on an unseen patient, from another scanner, read straight from DICOM; but it is one
patient and a 40 mm slab. The labels are TotalSegmentator's model outputs, not manual delineations:
Dice against them measures agreement with TotalSegmentator, not with an expert.

Classes (:data:`~dca_monai.apps.ct_organs.CT_ORGANS`): 0 background, 1 liver, 2 spleen,
3 stomach, 4 aorta, 5 inferior vena cava; every other TotalSegmentator structure is background.
Ids are looked up by name in ``class_map["total"]`` of the package's ``map_to_binary.py``.

Augmentation (per training/validation case, seeded as :mod:`dca_monai.apps.brain_dataset` does):
an elastic deformation with rotation, scaling and translation applied jointly to image (bilinear)
and label (nearest), then a small HU scale and Gaussian noise. Images are ``int16`` HU.

The DICOM files are copied unchanged but for their identifiers: the example files are anonymised
with empty Study, Series and SOP Instance UIDs, which DICOM readers and DICOM SEG need; the copy
fills them (SOP Instance and Class UIDs from the file meta, Study and Series UIDs derived from the
Frame of Reference UID, so they are the same on every build).

Layout under ``output_dir``::

    datalist.json                          "training", "validation", "test"; "labels" names the classes
    images/{train,val}_NNN.nii.gz          int16 HU
    labels/{train,val,test}_NNN.nii.gz     uint8 classes
    dicom/test_000/*.dcm                   the unseen patient's series

Files are written atomically and ``datalist.json`` last. Needs the files fetched by the set-up
(:mod:`dca_monai.apps.totalsegmentator_examples`); nothing is downloaded here.

Command line::

    python -m dca_monai.apps.ct_organ_dataset --output-dir DIR [--num-train 4] [--num-val 1] [--seed 0]
        [--overwrite]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Rand3DElasticd, RandGaussianNoised, RandScaleIntensityd
from pydicom.uid import generate_uid

from dca_monai.apps.ct_organs import CT_ORGANS, ct_class_names
from dca_monai.apps.label_grid import label_on_grid
from dca_monai.apps.nifti_bytes import nifti_gz_bytes
from dca_monai.apps.totalsegmentator_examples import SDIST_NAME, example_path, total_class_map
from dca_monai.data.dicom_series import read_dicom_series
from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = [
    "BUILD_FORMAT",
    "build_ct_organ_dataset",
    "copy_series_with_uids",
    "main",
    "remap_total_labels",
    "write_test_case",
]

DATALIST_NAME = "datalist.json"
BUILD_FORMAT = 1
"""Version of the build recipe, stored in the datalist: bump it when the output changes."""

_AIR_HU = -1024.0  # shifted to 0 while deforming, so that zero padding is air
_SPACING_MM = 3.0

logger = logging.getLogger(__name__)


def build_ct_organ_dataset(
    output_dir: str | os.PathLike,
    num_train: int = 4,
    num_val: int = 1,
    seed: int = 0,
    overwrite: bool = False,
    source_dir: str | os.PathLike | None = None,
) -> Path:
    """Write the dataset under ``output_dir`` and return the path of its datalist.

    When ``output_dir/datalist.json`` was built with the same arguments and all its files exist,
    nothing is rebuilt unless ``overwrite``.

    Args:
        output_dir: folder to write to; created when missing.
        num_train: augmented cases of the first patient in ``"training"``, at least 1.
        num_val: augmented cases of the first patient in ``"validation"``.
        seed: seed of the augmentations, a non-negative int.
        overwrite: rebuild even when a matching datalist exists.
        source_dir: the extracted example files; the set-up's folder by default.

    Returns:
        Path of ``datalist.json``; its paths are relative to its folder.

    Raises:
        ValueError: when a count or ``seed`` is out of range, or a source file is not as expected.
        TotalSegmentatorExamplesMissing: when the set-up did not fetch the example files.
    """
    for name, value, minimum in (("num_train", num_train, 1), ("num_val", num_val, 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name}={value!r} but an int >= {minimum} was expected")
    output_dir = Path(output_dir)
    datalist_path = output_dir / DATALIST_NAME
    build = {"format": BUILD_FORMAT, "source": SDIST_NAME, "num_train": num_train, "num_val": num_val, "seed": seed}
    if not overwrite and _is_built(datalist_path, build):
        logger.info("%s is up to date, not rebuilding", datalist_path)
        return datalist_path

    class_map = total_class_map(source_dir)
    datalist_path.unlink(missing_ok=True)
    for folder in ("images", "labels"):
        (output_dir / folder).mkdir(parents=True, exist_ok=True)

    base = _base_case(class_map, source_dir)
    augment = _case_augmentation()
    sections: dict[str, list[dict[str, str]]] = {"training": [], "validation": []}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # multi-threaded reductions round differently and would change the bytes
    try:
        for section_index, (section, prefix, count) in enumerate(
            (("training", "train", num_train), ("validation", "val", num_val))
        ):
            for case_index in range(count):
                case_seed = np.random.SeedSequence([seed, section_index, case_index]).generate_state(1)[0]
                augment.set_random_state(seed=int(case_seed))
                case = augment({"image": base["image"].clone(), "label": base["label"].clone()})
                name = f"{prefix}_{case_index:03d}.nii.gz"
                affine = case["image"].affine.numpy()
                image = np.rint(case["image"][0].numpy() + _AIR_HU).clip(-1024, 3071).astype(np.int16)
                write_bytes_atomic(output_dir / "images" / name, nifti_gz_bytes(image, affine))
                label = case["label"][0].numpy().astype(np.uint8)
                write_bytes_atomic(output_dir / "labels" / name, nifti_gz_bytes(label, affine))
                sections[section].append({"image": f"images/{name}", "label": f"labels/{name}"})
                logger.info("wrote %s case %d: %s", section, case_index, name)
    finally:
        torch.set_num_threads(previous)

    write_test_case(output_dir, source_dir)
    test = [{"image": "dicom/test_000", "label": "labels/test_000.nii.gz"}]

    datalist: dict[str, Any] = {
        "name": "TotalSegmentator example CTs: 5 abdominal organs",
        "description": (
            "Training/validation: seeded augmentations of TotalSegmentator's example_ct.nii.gz; test: another "
            "patient's CT DICOM series (example_ct_dicom). Labels are TotalSegmentator model outputs, not manual."
        ),
        "reference": "Wasserthal et al., TotalSegmentator, Radiology: Artificial Intelligence 2023; "
        f"files from the {SDIST_NAME} source distribution on PyPI",
        "licence": "Apache-2.0 (TotalSegmentator)",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {str(value): name for value, name in enumerate(ct_class_names())},
        "numTraining": num_train,
        "numValidation": num_val,
        "numTest": 1,
        "dca_monai_build": build,
        **sections,
        "test": test,
    }
    write_bytes_atomic(datalist_path, (json.dumps(datalist, indent=2) + "\n").encode())
    return datalist_path


def write_test_case(output_dir: str | os.PathLike, source_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write only the test case, the unseen patient: ``dicom/test_000/`` and ``labels/test_000.nii.gz``.

    The same files as :func:`build_ct_organ_dataset` writes for its ``"test"`` section, in seconds
    (no augmented training cases): the series with its UIDs filled, and its label map on the
    series' grid.

    Args:
        output_dir: folder to write to; created when missing.
        source_dir: the extracted example files; the set-up's folder by default.

    Returns:
        ``{"image": series folder, "label": label NIfTI}``, absolute paths.

    Raises:
        TotalSegmentatorExamplesMissing: when the set-up did not fetch the example files.
    """
    output_dir = Path(output_dir)
    class_map = total_class_map(source_dir)
    series_dir = copy_series_with_uids(example_path("dicom_series", source_dir), output_dir / "dicom" / "test_000")
    series = read_dicom_series(series_dir)
    source_label = nib.load(example_path("dicom_label", source_dir))
    label = label_on_grid(
        remap_total_labels(np.asanyarray(source_label.dataobj), class_map),
        source_label.affine,
        series.shape,
        series.affine,
    )
    label_path = output_dir / "labels" / "test_000.nii.gz"
    label_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(label_path, nifti_gz_bytes(label, series.affine))
    return {"image": series_dir.resolve(), "label": label_path.resolve()}


def remap_total_labels(label: np.ndarray, class_map: dict[int, str]) -> np.ndarray:
    """TotalSegmentator ``"total"`` ids to the dataset's classes (organ ``i`` of ``CT_ORGANS`` -> ``i + 1``).

    Args:
        label: label map of any shape holding TotalSegmentator ids.
        class_map: ``class_map["total"]`` (id -> name).

    Returns:
        ``uint8`` array of the same shape; structures other than the organs become 0.

    Raises:
        ValueError: when an organ name is not in ``class_map``.
    """
    ids = {name: key for key, name in class_map.items()}
    lookup = np.zeros(max(max(class_map), int(label.max(initial=0))) + 1, dtype=np.uint8)
    for index, organ in enumerate(CT_ORGANS, start=1):
        if organ.name not in ids:
            raise ValueError(f"class_map has no {organ.name!r}; expected TotalSegmentator's 'total' class names")
        lookup[ids[organ.name]] = index
    return lookup[np.asarray(label).astype(np.int64)]


def _is_built(datalist_path: Path, build: dict[str, Any]) -> bool:
    try:
        datalist = json.loads(datalist_path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(datalist, dict) or datalist.get("dca_monai_build") != build:
        return False
    try:
        entries = [entry for section in ("training", "validation", "test") for entry in datalist[section]]
        return all((datalist_path.parent / entry[key]).exists() for entry in entries for key in ("image", "label"))
    except (KeyError, TypeError):
        return False


def _base_case(class_map: dict[int, str], source_dir: str | os.PathLike | None) -> dict[str, MetaTensor]:
    """The first patient: image ``(1, X, Y, Z)`` in HU + 1024, label ``(1, X, Y, Z)`` of the dataset's classes."""
    image = nib.load(example_path("ct", source_dir))
    label = nib.load(example_path("ct_label", source_dir))
    if image.shape != label.shape or not np.allclose(image.affine, label.affine, atol=1e-3):
        raise ValueError(
            f"{example_path('ct_label', source_dir)}: shape {label.shape} or affine differs from the CT's {image.shape}"
        )
    affine = torch.as_tensor(image.affine, dtype=torch.float64)
    hu = np.asanyarray(image.dataobj).astype(np.float32) - _AIR_HU
    classes = remap_total_labels(np.asanyarray(label.dataobj), class_map)
    return {
        "image": MetaTensor(torch.from_numpy(hu.clip(0, None))[None], affine=affine),
        "label": MetaTensor(torch.from_numpy(classes)[None], affine=affine),
    }


def _case_augmentation() -> Compose:
    """Joint elastic/affine deformation (sizes in mm at 3 mm voxels), then a small HU scale and noise."""
    keys = ("image", "label")
    return Compose(
        [
            Rand3DElasticd(
                keys,
                sigma_range=(12.0 / _SPACING_MM, 18.0 / _SPACING_MM),
                magnitude_range=(30.0, 70.0),
                prob=1.0,
                rotate_range=(0.12, 0.12, 0.12),
                scale_range=(0.07, 0.07, 0.07),
                translate_range=(6.0 / _SPACING_MM,) * 3,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            ),
            RandScaleIntensityd("image", factors=0.03, prob=1.0),
            RandGaussianNoised("image", std=12.0, prob=1.0),
        ]
    )


def copy_series_with_uids(source: Path, target: Path) -> Path:
    """Copy every DICOM file of ``source`` into ``target`` (emptied first), filling empty identifying UIDs.

    Study and Series Instance UIDs are derived from the Frame of Reference UID (the same on every
    call), SOP Instance and Class UIDs taken from the file meta; the pixel data are copied as they are.
    Files are named ``<source name>.dcm``.
    """
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.iterdir():
        stale.unlink()
    for file in sorted(source.iterdir()):
        dataset = pydicom.dcmread(file)
        reference = str(dataset.get("FrameOfReferenceUID", "") or file.name)
        if not dataset.get("StudyInstanceUID"):
            dataset.StudyInstanceUID = generate_uid(entropy_srcs=[reference, "study"])
        if not dataset.get("SeriesInstanceUID"):
            dataset.SeriesInstanceUID = generate_uid(entropy_srcs=[reference, "series"])
        if not dataset.get("SOPInstanceUID"):
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
        if not dataset.get("SOPClassUID"):
            dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID
        if dataset.get("SeriesNumber") is None:
            dataset.SeriesNumber = 1
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        write_bytes_atomic(target / f"{file.name}.dcm", buffer.getvalue())
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the dataset and print the datalist path."""
    parser = argparse.ArgumentParser(
        prog="python -m dca_monai.apps.ct_organ_dataset",
        description="Build the 5-organ CT dataset from TotalSegmentator's example files (fetched by the set-up).",
    )
    parser.add_argument("--output-dir", required=True, type=Path, help="folder to write the dataset to")
    parser.add_argument("--num-train", type=int, default=4, help="training cases (default 4)")
    parser.add_argument("--num-val", type=int, default=1, help="validation cases (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="augmentation seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild even if a matching datalist exists")
    args = parser.parse_args(argv)
    try:
        datalist = build_ct_organ_dataset(args.output_dir, args.num_train, args.num_val, args.seed, args.overwrite)
    except ValueError as error:
        parser.error(str(error))
    print(datalist)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
