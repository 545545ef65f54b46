"""Check a Decathlon-style datalist before training: every file, DICOM series, geometry, channel and label.

A datalist is a JSON file ``{"training": [{"image": ..., "label": ...}, ...], "validation": [...]}``
whose paths are relative to ``data_dir`` (by default the datalist's folder), as MONAI's
:func:`~monai.data.load_decathlon_datalist` reads it. An image is a NIfTI file, a folder holding
one DICOM series, any other file MONAI's ``LoadImage`` reads, or a list of such files stacked as
channels. All problems are collected and raised together, each naming its section, entry index,
key and file:

- a file that is missing or cannot be read;
- a DICOM folder holding no series, or several (MONAI's readers would silently pick one);
- an image whose channel count is not ``in_channels`` (a 3D volume has 1 channel, a 4D NIfTI its
  last axis) or a label with more than one channel;
- an image and label whose spatial shapes differ or whose affines differ by more than
  ``affine_tolerance``; both affines are in MONAI's RAS convention (nibabel's affine for NIfTI,
  MONAI's default ``LoadImage`` reader, ITK, for the rest);
- an image or label that is not a 3-D volume (a 2-D slice, a single-slice volume);
- label values that are not integers in ``[0, num_classes)``;
- with ``check_values``, images holding NaN or infinite values, or one constant value;
- a missing or empty ``"training"`` section, a missing requested section, an entry without
  image, or without label outside the ``"test"`` section.

NIfTI images are checked from their header alone unless ``check_values`` (the inference configs set
it); labels are read in full for their values.

In a bundle config, :func:`show_datalist_errors_first` makes a failed check print its problems as
the whole output of ``python -m monai.bundle run`` instead of the end of the config parser's
traceback.

Command line (exit status 0 when clean, 2 with the problems printed on stderr)::

    python -m dca_monai.check_datalist --datalist FILE [--data-dir DIR] --num-classes N
        [--in-channels 1] [--sections training validation] [--image-key image] [--label-key label]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

__all__ = ["DatalistError", "DatalistProblem", "SectionSummary", "check_datalist", "main", "show_datalist_errors_first"]

_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_UNLABELLED_SECTIONS = ("test",)
_MAX_LISTED_VALUES = 8
_SPATIAL_DIMS = 3
_TRACEBACK_VARIABLE = "DCA_MONAI_TRACEBACK"


@dataclass(frozen=True)
class DatalistProblem:
    """One problem of a datalist.

    Attributes:
        section: section name, ``None`` for a problem of the whole datalist.
        index: entry index in the section, ``None`` for a problem of the whole section.
        key: entry key (``"image"``, ``"label"``, ``"image[1]"`` for the second file of a list).
        path: the file or folder concerned, as resolved on disk.
        message: what is wrong and what was expected.
    """

    section: str | None
    index: int | None
    key: str | None
    path: str | None
    message: str

    @property
    def where(self) -> str:
        if self.section is None:
            return "datalist"
        where = self.section if self.index is None else f"{self.section}[{self.index}]"
        return where if self.key is None else f"{where}.{self.key}"

    def __str__(self) -> str:
        return f"{self.where} ({self.path}): {self.message}" if self.path else f"{self.where}: {self.message}"


class DatalistError(ValueError):
    """Every problem found in one datalist; ``problems`` holds them as :class:`DatalistProblem`."""

    def __init__(self, datalist: str, problems: Sequence[DatalistProblem]) -> None:
        self.datalist = datalist
        self.problems = tuple(problems)
        lines = [f"datalist {datalist} has {len(self.problems)} problem(s):"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class SectionSummary:
    """What a clean section holds.

    Attributes:
        section: section name.
        num_entries: number of entries.
        spatial_shapes: the distinct image spatial shapes, sorted.
        channels: the distinct image channel counts, sorted.
        label_values: the label values found over the section, sorted; empty without labels.
    """

    section: str
    num_entries: int
    spatial_shapes: tuple[tuple[int, ...], ...]
    channels: tuple[int, ...]
    label_values: tuple[int, ...]

    def __str__(self) -> str:
        shapes = ", ".join("x".join(map(str, shape)) for shape in self.spatial_shapes) or "-"
        channels = ", ".join(map(str, self.channels)) or "-"
        labels = ", ".join(map(str, self.label_values)) or "none"
        return (
            f"{self.section}: {self.num_entries} entries, spatial shapes {shapes}, "
            f"image channels {channels}, label values {labels}"
        )


@dataclass(frozen=True)
class _Volume:
    """What the checks need of a file; a label's voxels are reduced to a verdict and its values."""

    spatial_shape: tuple[int, ...]
    affine: np.ndarray
    channels: int
    label_problem: str | None = None
    label_values: tuple[int, ...] = ()
    value_problem: str | None = None


class _ReadError(Exception):
    """A file that cannot be checked; its message says why."""


def check_datalist(
    datalist: str | os.PathLike | Mapping[str, Any],
    data_dir: str | os.PathLike | None = None,
    *,
    num_classes: int,
    in_channels: int = 1,
    sections: Sequence[str] = ("training", "validation"),
    image_key: str = "image",
    label_key: str = "label",
    affine_tolerance: float = 1e-3,
    check_values: bool = False,
) -> list[SectionSummary]:
    """Check every entry of the requested sections and summarise them.

    Args:
        datalist: path of the JSON datalist, or its already loaded content.
        data_dir: folder that relative paths start from; by default the datalist's folder
            (required when ``datalist`` is a mapping).
        num_classes: number of classes including background: label values must lie in
            ``[0, num_classes)``.
        in_channels: channels every image must have.
        sections: sections to check; ``"training"`` must be present and non-empty.
        image_key: entry key of the image.
        label_key: entry key of the label; optional in the ``"test"`` section only.
        affine_tolerance: largest absolute difference allowed between image and label affines.
        check_values: also read every image's voxels and refuse NaN or infinite values and
            constant images (a scan the network cannot segment).

    Returns:
        One :class:`SectionSummary` per requested section, in order.

    Raises:
        DatalistError: listing every problem found.
        ValueError: when an argument is out of range.
    """
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} but an int >= 1 was expected")
    if isinstance(sections, str) or not sections:
        raise ValueError(f"sections={sections!r} but a non-empty sequence of section names was expected")

    if isinstance(datalist, Mapping):
        if data_dir is None:
            raise ValueError("data_dir=None but a folder is required when datalist is a mapping, not a file")
        name, content = "<mapping>", datalist
    else:
        name = str(datalist)
        content = _load_json(Path(datalist))
        data_dir = Path(datalist).parent if data_dir is None else data_dir
    checker = _Checker(Path(data_dir), num_classes, in_channels, image_key, label_key, affine_tolerance, check_values)
    summaries = [checker.check_section(content, section) for section in sections]
    if checker.problems:
        raise DatalistError(name, checker.problems)
    return [summary for summary in summaries if summary is not None]


def _load_json(path: Path) -> Mapping[str, Any]:
    def fail(message: str) -> DatalistError:
        return DatalistError(str(path), [DatalistProblem(None, None, None, str(path), message)])

    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise fail("file not found; expected a JSON datalist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise fail(f"cannot be read as JSON ({error})") from None
    if not isinstance(content, dict):
        raise fail(f"holds a JSON {type(content).__name__}; expected an object with sections")
    return content


class _Checker:
    """Collects problems over sections; reads each file once."""

    def __init__(
        self,
        data_dir: Path,
        num_classes: int,
        in_channels: int,
        image_key: str,
        label_key: str,
        affine_tolerance: float,
        check_values: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.check_values = check_values
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_key = image_key
        self.label_key = label_key
        self.affine_tolerance = affine_tolerance
        self.problems: list[DatalistProblem] = []
        self._volumes: dict[tuple[Path, bool], _Volume | _ReadError] = {}

    def report(self, section: str, index: int | None, key: str | None, path: Path | None, message: str) -> None:
        self.problems.append(DatalistProblem(section, index, key, None if path is None else str(path), message))

    def check_section(self, content: Mapping[str, Any], section: str) -> SectionSummary | None:
        if section not in content:
            expected = "a non-empty list of entries" if section == "training" else "a list of entries"
            self.report(section, None, None, None, f"section is missing; expected {expected}")
            return None
        entries = content[section]
        if not isinstance(entries, list):
            self.report(
                section, None, None, None, f"section is a JSON {type(entries).__name__}; expected a list of entries"
            )
            return None
        if section == "training" and not entries:
            self.report(section, None, None, None, "section is empty; expected at least one entry")
        shapes: set[tuple[int, ...]] = set()
        channels: set[int] = set()
        label_values: set[int] = set()
        for index, entry in enumerate(entries):
            image, label = self.check_entry(section, index, entry)
            if image is not None:
                shapes.add(image.spatial_shape)
                channels.add(image.channels)
            if label is not None:
                label_values.update(label.label_values)
        return SectionSummary(
            section, len(entries), tuple(sorted(shapes)), tuple(sorted(channels)), tuple(sorted(label_values))
        )

    def check_entry(self, section: str, index: int, entry: object) -> tuple[_Volume | None, _Volume | None]:
        if isinstance(entry, str):
            entry = {self.image_key: entry}
        if not isinstance(entry, Mapping):
            self.report(section, index, None, None, f"entry is a JSON {type(entry).__name__}; expected an object")
            return None, None
        image = None
        if self.image_key not in entry:
            self.report(
                section, index, self.image_key, None, f"key missing; expected the image path under {self.image_key!r}"
            )
        else:
            image = self.check_image(section, index, entry[self.image_key])
        if self.label_key not in entry:
            if section not in _UNLABELLED_SECTIONS:
                self.report(
                    section,
                    index,
                    self.label_key,
                    None,
                    f"key missing; expected the label path under {self.label_key!r}",
                )
            return image, None
        label = self.check_label(section, index, entry[self.label_key])
        if image is not None and label is not None:
            self.check_geometry(section, index, entry[self.label_key], image, label)
        return image, label

    def check_image(self, section: str, index: int, value: object) -> _Volume | None:
        """Read one image, or a list of images stacked as channels; check the channel count."""
        files = value if isinstance(value, list) and value else [value]
        keys = [f"{self.image_key}[{i}]" for i in range(len(files))] if isinstance(value, list) else [self.image_key]
        volumes = [self.read(section, index, key, file, is_label=False) for key, file in zip(keys, files)]
        if any(volume is None for volume in volumes):
            return None
        for key, file, volume in zip(keys, files, volumes):
            problem = _rank_problem(volume, "image") or volume.value_problem
            if problem is not None:
                self.report(section, index, key, self.resolve(file), problem)
                return None
        first = volumes[0]
        for key, file, volume in zip(keys[1:], files[1:], volumes[1:]):
            if volume.spatial_shape != first.spatial_shape or not self._same_affine(volume.affine, first.affine):
                self.report(
                    section,
                    index,
                    key,
                    self.resolve(file),
                    f"spatial shape {_shape(volume.spatial_shape)} or affine differs from {keys[0]} "
                    f"({_shape(first.spatial_shape)}); expected channels on one grid",
                )
                return None
        image = _Volume(first.spatial_shape, first.affine, sum(volume.channels for volume in volumes))
        if image.channels != self.in_channels:
            where = self.resolve(files[0]) if len(files) == 1 else None
            self.report(
                section,
                index,
                self.image_key,
                where,
                f"image has {image.channels} channel(s) but in_channels={self.in_channels} "
                "(a 3D volume has 1, a 4D NIfTI the size of its last axis, a list of files the sum)",
            )
        return image

    def check_label(self, section: str, index: int, value: object) -> _Volume | None:
        label = self.read(section, index, self.label_key, value, is_label=True)
        if label is None:
            return None
        path = self.resolve(value)
        rank_problem = _rank_problem(label, "label")
        if rank_problem is not None:
            self.report(section, index, self.label_key, path, rank_problem)
            return None
        if label.channels != 1:
            self.report(
                section,
                index,
                self.label_key,
                path,
                f"label has {label.channels} channels; expected a single-channel label map",
            )
        if label.label_problem is not None:
            self.report(section, index, self.label_key, path, label.label_problem)
        return label

    def check_geometry(self, section: str, index: int, label_value: object, image: _Volume, label: _Volume) -> None:
        path = self.resolve(label_value)
        if image.spatial_shape != label.spatial_shape:
            self.report(
                section,
                index,
                self.label_key,
                path,
                f"label spatial shape {_shape(label.spatial_shape)} but the image's {_shape(image.spatial_shape)} "
                "was expected",
            )
        elif not self._same_affine(image.affine, label.affine):
            difference = float(np.max(np.abs(image.affine - label.affine)))
            self.report(
                section,
                index,
                self.label_key,
                path,
                f"label affine {np.round(label.affine, 4).tolist()} differs from the image affine "
                f"{np.round(image.affine, 4).tolist()} by up to {difference:.4g}; expected at most "
                f"{self.affine_tolerance:g}",
            )

    def _same_affine(self, first: np.ndarray, second: np.ndarray) -> bool:
        return first.shape == second.shape and bool(np.all(np.abs(first - second) <= self.affine_tolerance))

    def resolve(self, value: object) -> Path | None:
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.data_dir / path

    def read(self, section: str, index: int, key: str, value: object, is_label: bool) -> _Volume | None:
        """Read the file of one entry key, once per file and role; report and return ``None`` on failure."""
        path = self.resolve(value)
        if path is None:
            self.report(section, index, key, None, f"value {value!r}; expected a non-empty path string")
            return None
        cache_key = (path, is_label)
        if cache_key not in self._volumes:
            try:
                self._volumes[cache_key] = _read_volume(
                    path, self.num_classes if is_label else None, with_values=self.check_values and not is_label
                )
            except _ReadError as error:
                self._volumes[cache_key] = error
        volume = self._volumes[cache_key]
        if isinstance(volume, _ReadError):
            self.report(section, index, key, path, str(volume))
            return None
        return volume


def _read_volume(path: Path, num_classes: int | None, with_values: bool = False) -> _Volume:
    """Geometry of a NIfTI file, a DICOM series folder or another image file; a label's values too.

    Args:
        path: the file or folder.
        num_classes: for a label, the number of classes its values are checked against;
            ``None`` for an image, whose NIfTI voxels are then not read unless ``with_values``.
        with_values: for an image, read its voxels and check that they are finite and not constant.
    """
    if not path.exists():
        raise _ReadError("file not found")
    try:
        if path.is_dir():
            _check_single_dicom_series(path)
            _check_dicom_geometry(path)
            spatial, affine, channels, values = _read_with_monai(path)
        elif path.name.lower().endswith(_NIFTI_SUFFIXES):
            spatial, affine, channels, values = _read_nifti(path, with_values=num_classes is not None or with_values)
        else:
            spatial, affine, channels, values = _read_with_monai(path)
        if num_classes is None:
            value_problem = _image_value_problem(values) if with_values else None
            return _Volume(spatial, affine, channels, value_problem=value_problem)
        problem = _label_value_problem(values, num_classes)
        present = () if problem else _present_values(values, num_classes)
        return _Volume(spatial, affine, channels, problem, present)
    except _ReadError:
        raise
    except Exception as error:  # any reader failure means the training pipeline would fail on this file
        raise _ReadError(f"cannot be read ({type(error).__name__}: {error})") from None


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


def _check_single_dicom_series(folder: Path) -> None:
    """Raise unless the files directly in ``folder`` hold exactly one DICOM series."""
    series: dict[str, int] = {}
    for file in sorted(folder.iterdir()):
        if not file.is_file():
            continue
        try:
            dataset = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError):
            continue  # not DICOM: ITK's series scan skips it too
        uid = dataset.get("SeriesInstanceUID")
        if uid:
            series[str(uid)] = series.get(str(uid), 0) + 1
    if not series:
        raise _ReadError(
            "folder holds no DICOM series (only files directly in the folder are read); expected one series"
        )
    if len(series) > 1:
        listed = ", ".join(f"{uid} ({count} file{'' if count == 1 else 's'})" for uid, count in sorted(series.items()))
        raise _ReadError(f"folder holds {len(series)} DICOM series: {listed}; expected exactly one series per folder")


def _rank_problem(volume: _Volume, role: str) -> str | None:
    """Why ``volume`` is not a 3-D volume (a 2-D image, a single slice), or ``None`` when it is."""
    shape = volume.spatial_shape
    expected = "expected a 3-D volume (X, Y, Z), or a 4-D one whose last axis holds the channels"
    if len(shape) != _SPATIAL_DIMS:
        return f"{role} has {len(shape)} spatial dimension(s) (shape {_shape(shape)}); {expected}"
    if min(shape) < 2:
        return f"{role} is a single slice (spatial shape {_shape(shape)}); {expected} with at least 2 voxels per axis"
    return None


def _image_value_problem(values: np.ndarray) -> str | None:
    """Why image ``values`` cannot be segmented (NaN or infinite values, one constant value), or ``None``."""
    if values.size == 0:
        return "image holds no voxel; expected a scan"
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        return f"image has dtype {values.dtype}; expected real-valued intensities"
    if np.issubdtype(values.dtype, np.floating):
        nan, inf = int(np.count_nonzero(np.isnan(values))), int(np.count_nonzero(np.isinf(values)))
        if nan or inf:
            return (
                f"image holds {nan} NaN and {inf} infinite value(s) among {values.size} voxels; "
                "expected finite intensities"
            )
    low, high = values.min(), values.max()
    if low == high:
        return f"image is constant (every voxel {float(low):g}); expected a scan with varying intensities"
    return None


def _check_dicom_geometry(folder: Path) -> None:
    """Raise unless the series in ``folder`` has distinct, evenly spaced slices and decodable pixel data."""
    from dca_monai.data.dicom_series import DicomSeriesError, read_dicom_series

    try:
        read_dicom_series(folder)
    except DicomSeriesError as error:
        raise _ReadError(str(error).removeprefix(f"{folder}: ")) from None


def _label_value_problem(values: np.ndarray, num_classes: int) -> str | None:
    """Why ``values`` are not integers in ``[0, num_classes)``, or ``None`` when they are."""
    expected = f"expected integers in [0, {num_classes}) (num_classes={num_classes})"
    if values.size == 0:
        return f"label is empty; {expected}"
    if np.issubdtype(values.dtype, np.floating):
        if not np.all(np.isfinite(values)):
            return f"label holds NaN or infinite values; {expected}"
        fractional = values != np.round(values)
        if fractional.any():
            return f"label holds non-integer values {_list_values(values[fractional])}; {expected}"
    elif not np.issubdtype(values.dtype, np.integer) and values.dtype != np.bool_:
        return f"label has dtype {values.dtype}; {expected}"
    outside = (values < 0) | (values >= num_classes)
    if outside.any():
        return f"label holds values {_list_values(values[outside])}; {expected}"
    return None


def _list_values(values: np.ndarray) -> str:
    unique = np.unique(values)
    listed = ", ".join(f"{value:g}" for value in unique[:_MAX_LISTED_VALUES].tolist())
    return listed + (f", ... ({unique.size} distinct)" if unique.size > _MAX_LISTED_VALUES else "")


def _present_values(values: np.ndarray, num_classes: int) -> tuple[int, ...]:
    """Label values present, for a label already checked to hold integers in ``[0, num_classes)``."""
    counts = np.bincount(values.astype(np.int64, copy=False).ravel(), minlength=num_classes)
    return tuple(np.flatnonzero(counts).tolist())


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def show_datalist_errors_first() -> None:
    """Print a :class:`DatalistError` that ends the process as its problems alone, not as a traceback.

    ``python -m monai.bundle run`` reports a failed config expression as a long traceback of the
    config parser with the error in its middle. A bundle's ``initialize`` calls this before its
    input check: when the process then dies of an uncaught exception caused by a
    :class:`DatalistError`, stderr shows ``DatalistError: ...`` with every problem, and how to see
    the full traceback (set the environment variable ``DCA_MONAI_TRACEBACK=1``). Any other
    exception is printed as before.
    """
    previous = sys.excepthook
    if getattr(previous, "_dca_monai_datalist_hook", False):
        return

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        cause = _datalist_error_in_chain(error)
        if cause is None or os.environ.get(_TRACEBACK_VARIABLE, "") not in ("", "0"):
            previous(kind, error, trace)
            return
        print(f"{type(cause).__name__}: {cause}", file=sys.stderr)
        print(f"(the input check stopped the command; set {_TRACEBACK_VARIABLE}=1 for the traceback)", file=sys.stderr)

    hook._dca_monai_datalist_hook = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _datalist_error_in_chain(error: BaseException | None) -> DatalistError | None:
    """The first :class:`DatalistError` among ``error``, its causes and contexts."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DatalistError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print one summary line per section (exit 0) or the problems (exit 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m dca_monai.check_datalist", description="Check a Decathlon-style datalist before training."
    )
    parser.add_argument("--datalist", required=True, type=Path, help="JSON datalist")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="folder of relative paths (default: the datalist's)"
    )
    parser.add_argument("--num-classes", required=True, type=int, help="classes including background")
    parser.add_argument("--in-channels", type=int, default=1, help="channels every image must have (default 1)")
    parser.add_argument("--sections", nargs="+", default=["training", "validation"], help="sections to check")
    parser.add_argument("--image-key", default="image", help="entry key of the image (default 'image')")
    parser.add_argument("--label-key", default="label", help="entry key of the label (default 'label')")
    args = parser.parse_args(argv)
    try:
        summaries = check_datalist(
            args.datalist,
            args.data_dir,
            num_classes=args.num_classes,
            in_channels=args.in_channels,
            sections=args.sections,
            image_key=args.image_key,
            label_key=args.label_key,
        )
    except DatalistError as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        parser.error(str(error))
    for summary in summaries:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
