"""Read and check the headers of one DICOM series folder: one series, evenly spaced slices, decodable pixels.

MONAI's default reader for a folder (ITK with GDCM) silently picks one series of several, stacks
slices whatever the gaps between them and writes garbage or fails deep inside the pipeline on
pixel data it cannot decode. :func:`read_dicom_series` checks all this from the headers (and
decodes one slice) before anything runs, and gives the grid ITK builds for the series, so that
pixels can be mapped between the volume and the instances (DICOM SEG writing).
:func:`seg_reference_problem` says whether a DICOM SEG can reference the series at all: some
anonymisers empty its identifying UIDs (TotalSegmentator's example series ships so).

The grid is ITK's: voxel ``(i, j, k)`` is column ``i``, row ``j`` of the ``k``-th slice when slices
are sorted along the normal ``row direction x column direction``; its affine is in MONAI's RAS
convention, as ``monai.transforms.LoadImage`` returns for the folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

__all__ = ["SEG_REFERENCE_TAGS", "DicomSeries", "DicomSeriesError", "read_dicom_series", "seg_reference_problem"]

_GEOMETRY_TAGS = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns")
_POSITION_TOLERANCE_MM = 0.01
_RELATIVE_STEP_TOLERANCE = 0.01
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# what a DICOM SEG copies or references of its source instances (Study, Referenced Series and
# Instance Sequences, Frame of Reference); the SOP Class picks the source IOD's modules to copy
SEG_REFERENCE_TAGS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "FrameOfReferenceUID")


class DicomSeriesError(ValueError):
    """A folder that is not one evenly spaced, decodable DICOM series; the message names the folder."""


@dataclass(frozen=True)
class DicomSeries:
    """The headers of one checked series.

    Attributes:
        folder: the series folder.
        files: the instance files, sorted along the slice normal (ITK's slice order).
        headers: their datasets without pixel data, in the same order.
        shape: the volume's spatial shape ``(columns, rows, slices)``, as MONAI's ITK reader gives it.
        affine: ``(4, 4)`` voxel-to-world matrix in RAS millimetres.
    """

    folder: Path
    files: tuple[Path, ...]
    headers: tuple[Dataset, ...]
    shape: tuple[int, int, int]
    affine: np.ndarray


def read_dicom_series(folder: str | os.PathLike, decode: bool = True) -> DicomSeries:
    """Read the headers of the DICOM files directly in ``folder`` and check they make one volume.

    Files that are not DICOM are ignored, as ITK's series scan ignores them.

    Args:
        folder: the series folder.
        decode: also decode the pixel data of the first slice with pydicom.

    Raises:
        DicomSeriesError: when the folder is missing or holds no DICOM series, several series,
            instances of different geometry or without geometry, duplicated slices, missing
            slices or uneven spacing, or pixel data in a transfer syntax that cannot be decoded.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomSeriesError(f"{folder}: not a folder; expected a folder holding one DICOM series")
    files, headers = [], []
    for file in sorted(folder.iterdir()):
        if not file.is_file():
            continue
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError):
            continue
        files.append(file)
        headers.append(header)
    if not files:
        raise DicomSeriesError(
            f"{folder}: holds no DICOM files (only files directly in the folder are read); expected one DICOM series"
        )
    _check_one_series(folder, headers)
    missing = [tag for tag in _GEOMETRY_TAGS if any(tag not in header for header in headers)]
    if missing:
        raise DicomSeriesError(f"{folder}: instances lack {', '.join(missing)}; expected image instances of a volume")
    _check_same(folder, files, headers)

    row_dir, column_dir = np.reshape(np.asarray(headers[0].ImageOrientationPatient, dtype=np.float64), (2, 3))
    normal = np.cross(row_dir, column_dir)
    positions = np.asarray([header.ImagePositionPatient for header in headers], dtype=np.float64)
    heights = positions @ normal
    order = np.argsort(heights, kind="stable")
    files = [files[i] for i in order]
    headers = [headers[i] for i in order]
    step = _check_spacing(folder, files, heights[order], float(headers[0].get("SliceThickness") or 1.0))
    _check_transfer_syntax(folder, files, headers, decode)

    row_spacing, column_spacing = (float(value) for value in headers[0].PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * column_spacing  # along a row: next column
    lps[:3, 1] = column_dir * row_spacing  # along a column: next row
    lps[:3, 2] = normal * step
    lps[:3, 3] = positions[order[0]]
    shape = (int(headers[0].Columns), int(headers[0].Rows), len(files))
    return DicomSeries(folder, tuple(files), tuple(headers), shape, _LPS_TO_RAS @ lps)


def seg_reference_problem(series: DicomSeries) -> str | None:
    """Why a DICOM SEG cannot reference ``series``, or ``None`` when it can.

    Every instance must carry each of :data:`SEG_REFERENCE_TAGS` (present and not empty), and no
    two instances may share a SOP Instance UID. The text names the attributes, how many files lack
    each (with an example file) and what was expected; it does not name the folder.
    """
    count = len(series.files)
    everywhere, parts = [], []
    for tag in SEG_REFERENCE_TAGS:
        empty = [file for file, header in zip(series.files, series.headers) if not str(header.get(tag, "")).strip()]
        if len(empty) == count:
            everywhere.append(tag)
        elif empty:
            parts.append(f"{tag} empty or absent in {len(empty)} of {count} files (e.g. {empty[0].name})")
    if everywhere:
        parts.insert(0, f"{', '.join(everywhere)} empty or absent in all {count} files")
    if parts:
        return (
            f"{'; '.join(parts)}; a DICOM SEG cannot reference a series without them (anonymisers may empty "
            f"them); expected {', '.join(SEG_REFERENCE_TAGS)} in every instance"
        )
    owners: dict[str, Path] = {}
    for file, header in zip(series.files, series.headers):
        uid = str(header.SOPInstanceUID).strip()
        if uid in owners:
            return (
                f"{owners[uid].name} and {file.name} share SOPInstanceUID {uid}; a DICOM SEG cannot tell their "
                "slices apart; expected one SOPInstanceUID per instance"
            )
        owners[uid] = file
    return None


def _check_one_series(folder: Path, headers: list[Dataset]) -> None:
    counts: dict[str, int] = {}
    for header in headers:
        uid = str(header.get("SeriesInstanceUID", "") or "<empty>")
        counts[uid] = counts.get(uid, 0) + 1
    if len(counts) > 1:
        listed = ", ".join(f"{uid} ({count} file{'' if count == 1 else 's'})" for uid, count in sorted(counts.items()))
        raise DicomSeriesError(
            f"{folder}: holds {len(counts)} DICOM series: {listed}; expected exactly one series per folder"
        )


def _check_same(folder: Path, files: list[Path], headers: list[Dataset]) -> None:
    for tag in ("ImageOrientationPatient", "PixelSpacing", "Rows", "Columns"):
        first = np.asarray(headers[0].get(tag), dtype=np.float64)
        for file, header in zip(files[1:], headers[1:]):
            value = np.asarray(header.get(tag), dtype=np.float64)
            if value.shape != first.shape or not np.allclose(value, first, atol=1e-4):
                raise DicomSeriesError(
                    f"{folder}: {file.name} has {tag} {value.tolist()} but {files[0].name} has {first.tolist()}; "
                    "expected one value for the whole series"
                )


def _check_spacing(folder: Path, files: list[Path], heights: np.ndarray, thickness: float) -> float:
    """The slice step in mm (``thickness`` for a single slice), after checking slices are distinct and evenly spaced."""
    if len(files) == 1:
        return thickness
    steps = np.diff(heights)
    for index in np.flatnonzero(steps < _POSITION_TOLERANCE_MM):
        raise DicomSeriesError(
            f"{folder}: duplicated slice: {files[index].name} and {files[index + 1].name} are both at "
            f"{heights[index]:.3f} mm along the slice normal; expected one instance per position"
        )
    step = float(np.median(steps))
    uneven = np.abs(steps - step) > max(_POSITION_TOLERANCE_MM, _RELATIVE_STEP_TOLERANCE * step)
    for index in np.flatnonzero(uneven):
        gap = float(steps[index])
        ratio = gap / step
        kind = (
            f"missing slice(s): {round(ratio) - 1} missing"
            if ratio > 1.5 and abs(ratio - round(ratio)) < 0.1
            else "uneven slice spacing"
        )
        raise DicomSeriesError(
            f"{folder}: {kind} between {files[index].name} and {files[index + 1].name}: they are {gap:.3f} mm "
            f"apart but the series' slices are {step:.3f} mm apart; expected evenly spaced slices"
        )
    return step


def _check_transfer_syntax(folder: Path, files: list[Path], headers: list[Dataset], decode: bool) -> None:
    try:
        from pydicom.pixels import get_decoder
    except ImportError:  # pydicom < 3 (MONAI Label 0.8.5's environment), where GDCM through SimpleITK decodes
        return

    syntaxes: dict[UID, list[Path]] = {}
    for file, header in zip(files, headers):
        syntaxes.setdefault(UID(header.file_meta.get("TransferSyntaxUID", "")), []).append(file)
    for uid, members in syntaxes.items():
        reason = None
        try:
            decoder = get_decoder(uid)
            if not decoder.is_available:
                reason = f"no decoding plugin is installed ({'; '.join(decoder.missing_dependencies)})"
        except NotImplementedError:
            reason = "pydicom has no decoder for it"
        if reason is not None:
            raise DicomSeriesError(
                f"{folder}: {len(members)} file(s), e.g. {members[0].name}, have pixel data in transfer syntax "
                f"{uid} ({uid.name}) that cannot be decoded: {reason}; expected an uncompressed or decodable "
                "compressed transfer syntax (e.g. JPEG 2000 with pylibjpeg-openjpeg installed)"
            )
    if decode:
        try:
            pydicom.dcmread(files[0]).pixel_array  # noqa: B018 (decoding is the check)
        except Exception as error:
            raise DicomSeriesError(
                f"{folder}: the pixel data of {files[0].name} cannot be decoded ({type(error).__name__}: {error}); "
                "expected decodable pixel data"
            ) from None
