"""Check a Decathlon-style datalist before training: every file, DICOM series, geometry, channel and label.

A datalist is a JSON file ``{"training": [{"image": ..., "label": ...}, ...], "validation": [...]}``
whose paths are relative to ``data_dir`` (by default the datalist's folder); it is read with MONAI's
:func:`~monai.data.load_decathlon_datalist`, as the bundles read it
(:mod:`dca_monai.data.datalist_sections`). An image is a NIfTI file, a folder holding one DICOM
series, any other file MONAI's ``LoadImage`` reads, or a list of such files stacked as channels.
All problems are collected and raised together as one :class:`DatalistError`, each naming its
section, entry index, key and file:

- a file that is missing or cannot be read;
- a DICOM folder holding no series, or several as MONAI's ``ITKReader`` splits them (it would read
  only the first), or a series with missing, duplicated or unevenly spaced slices;
- an image whose channel count is not ``in_channels`` (a 3D volume has 1 channel, a 4D NIfTI its
  last axis) or a label with more than one channel;
- an image and label whose spatial shapes differ or whose affines differ by more than
  ``affine_tolerance``; both affines are in MONAI's RAS convention;
- an image or label that is not a 3-D volume (a 2-D slice, a single-slice volume);
- label values that are not integers in ``[0, num_classes)``;
- with ``check_values``, images holding NaN or infinite values, or one constant value;
- with ``dicom_seg``, a DICOM series image that a DICOM SEG cannot reference (empty Study, Series,
  SOP Instance, SOP Class or Frame of Reference UIDs, shared SOP Instance UIDs), see
  :func:`~dca_monai.data.dicom_series.seg_reference_problem`;
- a missing or empty ``"training"`` section, a missing requested section, an entry without
  image, or without label outside the ``"test"`` section.

NIfTI images are checked from their header alone unless ``check_values`` (the inference configs set
it); labels are read in full for their values. Files are read by
:mod:`dca_monai.data.datalist_volumes`, once per file and role.

This module is the library's face: bundle configs ``$import dca_monai.data.datalist_checks`` and
call :func:`check_datalist` and :func:`show_datalist_errors_first` from it. The command line is
:mod:`dca_monai.data.check_datalist_cli` (``dca-monai-check-datalist``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dca_monai.data import datalist_volumes
from dca_monai.data.datalist_errors import DatalistError, DatalistProblem, show_datalist_errors_first
from dca_monai.data.datalist_sections import load_datalist_sections
from dca_monai.data.datalist_volumes import CheckedVolume, VolumeReadError
from dca_monai.data.dicom_series import DicomSeriesError, read_dicom_series, seg_reference_problem
from dca_monai.data.volume_problems import format_shape, rank_problem
from dca_monai.utils.config_flags import require_bool

__all__ = ["DatalistError", "DatalistProblem", "SectionSummary", "check_datalist", "show_datalist_errors_first"]

_UNLABELLED_SECTIONS = ("test",)


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
        shapes = ", ".join(format_shape(shape) for shape in self.spatial_shapes) or "-"
        channels = ", ".join(map(str, self.channels)) or "-"
        labels = ", ".join(map(str, self.label_values)) or "none"
        return (
            f"{self.section}: {self.num_entries} entries, spatial shapes {shapes}, "
            f"image channels {channels}, label values {labels}"
        )


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
    dicom_seg: bool = False,
    dicom_seg_off: str = "",
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
        dicom_seg: a DICOM SEG will be written for every DICOM series image: refuse series it cannot
            reference (checked from the headers, after the series reads as a volume).
        dicom_seg_off: how the caller writes the label map without a SEG (e.g. ``"--save_dicom_seg False"``),
            added to that problem's message when given.

    Returns:
        One :class:`SectionSummary` per requested section present, in order.

    Raises:
        DatalistError: listing every problem found.
        ValueError: when an argument is out of range.
        TypeError: when ``dicom_seg`` is not a bool.
    """
    dicom_seg = require_bool("dicom_seg", dicom_seg)
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} but an int >= 1 was expected")
    if isinstance(sections, str) or not sections:
        raise ValueError(f"sections={sections!r} but a non-empty sequence of section names was expected")

    loaded = load_datalist_sections(datalist, data_dir, sections, image_key, label_key)
    checker = _EntryChecker(
        num_classes,
        in_channels,
        image_key,
        label_key,
        affine_tolerance,
        check_values,
        dicom_seg_off if dicom_seg else None,
    )
    summaries = [checker.check_section(section, loaded.entries[section]) for section in loaded.entries]
    if loaded.problems or checker.problems:
        # by section; within one, its own problem (missing, empty) before its entries' in reading order
        order = {section: position for position, section in enumerate(sections)}
        problems = sorted([*loaded.problems, *checker.problems], key=lambda problem: order[problem.section])
        raise DatalistError(loaded.name, problems)
    return summaries


class _EntryChecker:
    """Checks entries one by one, collecting problems; reads each file once per role."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        image_key: str,
        label_key: str,
        affine_tolerance: float,
        check_values: bool,
        dicom_seg_off: str | None,
    ) -> None:
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_key = image_key
        self.label_key = label_key
        self.affine_tolerance = affine_tolerance
        self.check_values = check_values
        self.dicom_seg_off = dicom_seg_off  # not None: DICOM SEGs will be written; how to do without one
        self.problems: list[DatalistProblem] = []
        self._volumes: dict[tuple[Path, bool], CheckedVolume | VolumeReadError] = {}

    def report(self, section: str, index: int | None, key: str | None, path: Path | None, message: str) -> None:
        self.problems.append(DatalistProblem(section, index, key, None if path is None else str(path), message))

    def check_section(self, section: str, entries: list[Any]) -> SectionSummary:
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

    def check_entry(self, section: str, index: int, entry: object) -> tuple[CheckedVolume | None, CheckedVolume | None]:
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

    def check_image(self, section: str, index: int, value: object) -> CheckedVolume | None:
        """Read one image, or a list of images stacked as channels; check the channel count."""
        files = value if isinstance(value, list) and value else [value]
        keys = [f"{self.image_key}[{i}]" for i in range(len(files))] if isinstance(value, list) else [self.image_key]
        volumes = [self.read(section, index, key, file, is_label=False) for key, file in zip(keys, files)]
        if any(volume is None for volume in volumes):
            return None
        for key, file, volume in zip(keys, files, volumes):
            problem = rank_problem(volume.spatial_shape, "image") or volume.value_problem
            if problem is None and self.dicom_seg_off is not None:
                problem = self.seg_problem(_path(file))
            if problem is not None:
                self.report(section, index, key, _path(file), problem)
                return None
        first = volumes[0]
        for key, file, volume in zip(keys[1:], files[1:], volumes[1:]):
            if volume.spatial_shape != first.spatial_shape or not self._same_affine(volume.affine, first.affine):
                self.report(
                    section,
                    index,
                    key,
                    _path(file),
                    f"spatial shape {format_shape(volume.spatial_shape)} or affine differs from {keys[0]} "
                    f"({format_shape(first.spatial_shape)}); expected channels on one grid",
                )
                return None
        image = CheckedVolume(first.spatial_shape, first.affine, sum(volume.channels for volume in volumes))
        if image.channels != self.in_channels:
            where = _path(files[0]) if len(files) == 1 else None
            self.report(
                section,
                index,
                self.image_key,
                where,
                f"image has {image.channels} channel(s) but in_channels={self.in_channels} "
                "(a 3D volume has 1, a 4D NIfTI the size of its last axis, a list of files the sum)",
            )
        return image

    def seg_problem(self, path: Path) -> str | None:
        """For a DICOM series folder, why a DICOM SEG cannot reference it (with the way to do without one)."""
        if not path.is_dir():
            return None
        try:
            problem = seg_reference_problem(read_dicom_series(path, decode=False))
        except DicomSeriesError as error:  # changed since it was read
            problem = str(error).removeprefix(f"{path}: ")
        if problem is not None and self.dicom_seg_off:
            problem += f"; to write the label map without a DICOM SEG: {self.dicom_seg_off}"
        return problem

    def check_label(self, section: str, index: int, value: object) -> CheckedVolume | None:
        label = self.read(section, index, self.label_key, value, is_label=True)
        if label is None:
            return None
        path = _path(value)
        problem = rank_problem(label.spatial_shape, "label")
        if problem is not None:
            self.report(section, index, self.label_key, path, problem)
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

    def check_geometry(
        self, section: str, index: int, label_value: object, image: CheckedVolume, label: CheckedVolume
    ) -> None:
        path = _path(label_value)
        if image.spatial_shape != label.spatial_shape:
            self.report(
                section,
                index,
                self.label_key,
                path,
                f"label spatial shape {format_shape(label.spatial_shape)} but the image's "
                f"{format_shape(image.spatial_shape)} was expected",
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

    def read(self, section: str, index: int, key: str, value: object, is_label: bool) -> CheckedVolume | None:
        """Read the file of one entry key, once per file and role; report and return ``None`` on failure."""
        path = _path(value)
        if path is None:
            self.report(section, index, key, None, f"value {value!r}; expected a non-empty path string")
            return None
        cache_key = (path, is_label)
        if cache_key not in self._volumes:
            try:
                self._volumes[cache_key] = datalist_volumes.read_volume(
                    path, self.num_classes if is_label else None, with_values=self.check_values and not is_label
                )
            except VolumeReadError as error:
                self._volumes[cache_key] = error
        volume = self._volumes[cache_key]
        if isinstance(volume, VolumeReadError):
            self.report(section, index, key, path, str(volume))
            return None
        return volume


def _path(value: object) -> Path | None:
    """An entry's path, already resolved by :func:`~dca_monai.data.datalist_sections.load_datalist_sections`."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        return None
    return Path(value)
