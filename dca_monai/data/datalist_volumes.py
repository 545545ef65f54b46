"""Read what a datalist check needs of one file: spatial shape, affine, channels, and a verdict on its values.

A file is a NIfTI file (read by nibabel, from its header alone unless its voxels are needed), a
folder holding one DICOM series, or any other file MONAI's ``LoadImage`` reads. A DICOM folder is
first split into series as MONAI's ``ITKReader`` splits it (:mod:`dca_monai.data.dicom_series_itk`)
and its slices checked (:func:`~dca_monai.data.dicom_series.read_dicom_series`), because the reader
would silently read one series of several, or stack uneven slices.

Both affines are in MONAI's RAS convention: nibabel's affine for NIfTI, MONAI's default
``LoadImage`` reader's (ITK) for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from dca_monai.data.dicom_series_itk import ITK_SERIES_TAGS, ItkDicomSeries, itk_dicom_series
from dca_monai.data.volume_problems import image_value_problem, label_value_problem, present_label_values

__all__ = ["CheckedVolume", "VolumeReadError", "read_volume"]

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class CheckedVolume:
    """What the datalist check needs of a file; voxels are reduced to verdicts and a label's values.

    Attributes:
        spatial_shape: up to 3 spatial sizes, as MONAI's reader gives them.
        affine: ``(4, 4)`` voxel-to-world matrix, RAS millimetres.
        channels: number of channels (1 for a 3D volume, the last axis of a 4D NIfTI).
        label_problem: for a label, why its values are not classes; ``None`` when they are.
        label_values: for a clean label, the values present, sorted.
        value_problem: for an image read with its values, why it cannot be segmented; ``None`` otherwise.
    """

    spatial_shape: tuple[int, ...]
    affine: np.ndarray
    channels: int
    label_problem: str | None = None
    label_values: tuple[int, ...] = ()
    value_problem: str | None = None


class VolumeReadError(Exception):
    """A file that cannot be checked; its message says why and what was expected."""


def read_volume(path: Path, num_classes: int | None, with_values: bool = False) -> CheckedVolume:
    """Geometry of a NIfTI file, a DICOM series folder or another image file; a label's values too.

    Args:
        path: the file or folder.
        num_classes: for a label, the number of classes its values are checked against;
            ``None`` for an image, whose NIfTI voxels are then not read unless ``with_values``.
        with_values: for an image, read its voxels and check that they are finite and not constant.

    Raises:
        VolumeReadError: when the file is missing, cannot be read, or is a folder that is not one
            well-formed DICOM series.
    """
    if not path.exists():
        raise VolumeReadError("file not found")
    try:
        if path.is_dir():
            _check_single_itk_series(path)
            _check_dicom_slices(path)
            spatial, affine, channels, values = _read_with_monai(path)
        elif path.name.lower().endswith(_NIFTI_SUFFIXES):
            spatial, affine, channels, values = _read_nifti(path, with_values=num_classes is not None or with_values)
        else:
            spatial, affine, channels, values = _read_with_monai(path)
        if num_classes is None:
            value_problem = image_value_problem(values) if with_values else None
            return CheckedVolume(spatial, affine, channels, value_problem=value_problem)
        problem = label_value_problem(values, num_classes)
        present = () if problem else present_label_values(values, num_classes)
        return CheckedVolume(spatial, affine, channels, problem, present)
    except VolumeReadError:
        raise
    except Exception as error:  # any reader failure means the training pipeline would fail on this file
        raise VolumeReadError(f"cannot be read ({type(error).__name__}: {error})") from None


def _read_nifti(path: Path, with_values: bool) -> tuple[tuple[int, ...], np.ndarray, int, np.ndarray | None]:
    image = nib.load(path)
    shape = tuple(int(size) for size in image.shape)
    # as MONAI's NibabelReader: up to 3 spatial axes, the remaining axes hold channels
    spatial, rest = shape[:3], shape[3:]
    values = np.asanyarray(image.dataobj) if with_values else None
    return spatial, np.asarray(image.affine, dtype=np.float64), int(np.prod(rest)) if rest else 1, values


def _read_with_monai(path: Path) -> tuple[tuple[int, ...], np.ndarray, int, np.ndarray]:
    # MONAI's transforms take seconds to import; NIfTI-only datalists never need them
    from monai.transforms import LoadImage

    image = LoadImage(image_only=True)(str(path))
    meta = image.meta
    spatial = tuple(int(size) for size in meta["spatial_shape"])
    channel_dim = meta.get("original_channel_dim", "no_channel")
    has_channels = isinstance(channel_dim, int) or (isinstance(channel_dim, float) and not np.isnan(channel_dim))
    channels = int(image.shape[int(channel_dim)]) if has_channels else 1
    return spatial, np.asarray(meta["affine"], dtype=np.float64), channels, np.asarray(image)


def _check_single_itk_series(folder: Path) -> None:
    """Raise unless MONAI's ``ITKReader`` finds exactly one DICOM series directly in ``folder``."""
    series = itk_dicom_series(folder)
    if not series:
        raise VolumeReadError(
            "folder holds no DICOM series (only files directly in the folder are read); expected one series"
        )
    if len(series) > 1:
        raise VolumeReadError(_several_series_problem(series))


def _several_series_problem(series: Sequence[ItkDicomSeries]) -> str:
    """Name each series (with the tags that split one SeriesInstanceUID) and the one the reader would keep."""
    names = []
    for one in series:
        namesakes = [other for other in series if other.series_uid == one.series_uid]
        differing = [tag for tag in ITK_SERIES_TAGS if len({other.tags[tag] for other in namesakes}) > 1]
        details = ", ".join(f"{tag}={one.tags[tag] or '<absent>'}" for tag in differing)
        count = f"{len(one.files)} file{'' if len(one.files) == 1 else 's'}"
        names.append(f"{one.series_uid}{f' with {details}' if details else ''} ({count})")
    split_by = ""
    if len({one.series_uid for one in series}) < len(series):
        split_by = f" (series told apart by {', '.join(ITK_SERIES_TAGS)}, as ITK does)"
    return (
        f"folder holds {len(series)} DICOM series{split_by}: {', '.join(names)}; MONAI's ITKReader would ignore "
        f"all but {names[0]}; expected exactly one series per folder"
    )


def _check_dicom_slices(folder: Path) -> None:
    """Raise unless the series in ``folder`` has distinct, evenly spaced slices and decodable pixel data."""
    from dca_monai.data.dicom_series import DicomSeriesError, read_dicom_series

    try:
        read_dicom_series(folder)
    except DicomSeriesError as error:
        raise VolumeReadError(str(error).removeprefix(f"{folder}: ")) from None
