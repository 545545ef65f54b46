"""The DICOM series of a folder as MONAI's ``ITKReader`` splits them, in the order it picks them.

``monai.transforms.LoadImage`` reads a folder with ``ITKReader``, which asks ITK's GDCM series
helper (``itk.GDCMSeriesFileNames`` with series details on and a Series Date restriction) for the
series in the folder and reads only the first one, with a warning, when there are several. The
helper splits files not only by SeriesInstanceUID but also by Series Number, Sequence Name, Slice
Thickness, Rows, Columns and Series Date: a scout and a volume sharing one SeriesInstanceUID are two
series to it. :func:`itk_dicom_series` asks the same helper with the same settings, so that a check
sees the series exactly as the bundles' reader will.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

__all__ = ["ITK_SERIES_TAGS", "ItkDicomSeries", "itk_dicom_series"]

# the tags whose values tell series apart for ITKReader: GDCM's default series details plus Series Date
ITK_SERIES_TAGS = (
    "SeriesInstanceUID",
    "SeriesNumber",
    "SequenceName",
    "SliceThickness",
    "Rows",
    "Columns",
    "SeriesDate",
)
_SERIES_DATE = "0008|0021"


@dataclass(frozen=True)
class ItkDicomSeries:
    """One series as ITK's GDCM series helper groups it.

    Attributes:
        identifier: ITK's series identifier (the SeriesInstanceUID followed by the detail values).
        files: the series' files, in ITK's slice order.
        tags: the value of each of :data:`ITK_SERIES_TAGS` in the first file, ``""`` when absent.
    """

    identifier: str
    files: tuple[Path, ...]
    tags: dict[str, str]

    @property
    def series_uid(self) -> str:
        return self.tags["SeriesInstanceUID"] or "<empty SeriesInstanceUID>"


def itk_dicom_series(folder: str | os.PathLike) -> list[ItkDicomSeries]:
    """The DICOM series directly in ``folder``, split and ordered as MONAI's ``ITKReader`` does.

    Args:
        folder: a folder of DICOM files; subfolders and files that are not DICOM are ignored, as
            ``ITKReader`` ignores them.

    Returns:
        The series in ITK's order: ``ITKReader`` reads the first (unless given a ``series_name``);
        an empty list when the folder holds no DICOM series.
    """
    # ITK takes seconds to import; only DICOM folders need it, and reading them imports it anyway
    import itk

    names = itk.GDCMSeriesFileNames.New()
    names.SetUseSeriesDetails(True)
    names.AddSeriesRestriction(_SERIES_DATE)
    names.SetDirectory(str(folder))
    series = []
    for identifier in names.GetSeriesUIDs():
        files = tuple(Path(file) for file in names.GetFileNames(identifier))
        series.append(ItkDicomSeries(str(identifier), files, _series_tags(files[0])))
    return series


def _series_tags(file: Path) -> dict[str, str]:
    try:
        header = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=list(ITK_SERIES_TAGS))
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError):
        header = pydicom.Dataset()  # GDCM read it: describe it by its identifier alone
    return {tag: str(header.get(tag, "") or "").strip() for tag in ITK_SERIES_TAGS}
