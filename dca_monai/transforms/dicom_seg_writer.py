"""Write a label map as a DICOM Segmentation object (``highdicom``) referencing the DICOM series it was computed on.

:func:`write_dicom_seg` maps a label volume onto the instances of its source series and writes one
binary segment per class, with the class's name and SNOMED CT code; :class:`SaveDicomSegd` does
that in a MONAI post-processing chain for every input that is a DICOM series folder. The SEG
references the source series through its Study Instance UID, its Referenced Series Sequence (Series
and SOP Instance UIDs of every slice) and the Frame of Reference UID, and keeps the patient module.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from dca_monai.apps.ct_organs import CT_ORGANS
from dca_monai.apps.label_grid import label_on_grid
from dca_monai.data.dicom_series import DicomSeries, DicomSeriesError, read_dicom_series, seg_reference_problem
from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = ["DicomSegWriteError", "SaveDicomSegd", "segment_code", "write_dicom_seg"]

logger = logging.getLogger(__name__)

_ANATOMICAL_STRUCTURE = ("91723000", "Anatomical Structure")  # SNOMED CT, DICOM CID 7150
_TISSUE = ("85756007", "Tissue")


class DicomSegWriteError(RuntimeError):
    """A DICOM SEG that :class:`SaveDicomSegd` could not write; the message names the file and the cause."""


def segment_code(name: str) -> tuple[str, str, str]:
    """``(label, SNOMED CT value, meaning)`` of a class name.

    The names of :data:`~dca_monai.apps.ct_organs.CT_ORGANS` (TotalSegmentator's or their labels,
    any case) get their organ code; any other name the generic "Tissue" code with the name as label.
    """
    for organ in CT_ORGANS:
        if name.lower() in (organ.name, organ.label.lower()):
            return organ.label, *organ.snomed
    return name, *_TISSUE


def write_dicom_seg(
    label: np.ndarray,
    affine: np.ndarray,
    series: DicomSeries | str | os.PathLike,
    path: str | os.PathLike,
    segment_names: Sequence[str],
    algorithm_name: str = "dca_monai",
    algorithm_version: str = "0",
) -> Path:
    """Write ``label`` as a DICOM SEG of ``series`` to ``path`` (atomically) and return ``path``.

    Args:
        label: ``(X, Y, Z)`` integer label map, class ``i`` in ``1..len(segment_names)``, 0 background.
        affine: its ``(4, 4)`` RAS voxel-to-world matrix; its voxel centres must be those of the
            series (axes may be ordered or flipped differently), as after MONAI's ``Invertd``.
        series: the source series, or its folder (read and checked with
            :func:`~dca_monai.data.dicom_series.read_dicom_series`).
        path: the ``.dcm`` file to write; its folder must exist.
        segment_names: the name of each class from 1, see :func:`segment_code`.
        algorithm_name: the Algorithm Identification's name.
        algorithm_version: its version.

    Raises:
        DicomSeriesError: when ``series`` is a folder that is not one readable series, or a series a SEG
            cannot reference (:func:`~dca_monai.data.dicom_series.seg_reference_problem`: empty UIDs).
        ValueError: when the label's grid is not the series' or it holds values above ``len(segment_names)``.
    """
    import highdicom as hd
    from highdicom.sr.coding import CodedConcept
    from pydicom.sr.codedict import codes

    if not isinstance(series, DicomSeries):
        series = read_dicom_series(series, decode=False)
    problem = seg_reference_problem(series)
    if problem is not None:
        raise DicomSeriesError(f"{series.folder}: {problem}")
    label = np.asarray(label)
    if label.ndim != 3:
        raise ValueError(f"label has shape {label.shape}; expected a 3D label map (X, Y, Z)")
    largest = int(label.max(initial=0))
    if label.min(initial=0) < 0 or largest > len(segment_names):
        raise ValueError(
            f"label holds values in [{int(label.min())}, {largest}] but segment_names has {len(segment_names)} "
            f"names; expected values in [0, {len(segment_names)}]"
        )
    try:
        on_series = label_on_grid(label, np.asarray(affine, dtype=np.float64), series.shape, series.affine)
    except ValueError as error:
        raise ValueError(f"label does not lie on the grid of the series {series.folder}: {error}") from None
    frames = np.ascontiguousarray(on_series.transpose(2, 1, 0)).astype(np.uint8)  # (slices, rows, columns)

    algorithm = hd.AlgorithmIdentificationSequence(
        name=algorithm_name, family=codes.cid7162.ArtificialIntelligence, version=algorithm_version
    )
    descriptions = []
    for number, name in enumerate(segment_names, start=1):
        text, value, meaning = segment_code(name)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=text,
                segmented_property_category=CodedConcept(_ANATOMICAL_STRUCTURE[0], "SCT", _ANATOMICAL_STRUCTURE[1]),
                segmented_property_type=CodedConcept(value, "SCT", meaning),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
                tracking_uid=hd.UID(),
                tracking_id=f"{text} (class {number})",
            )
        )
    segmentation = hd.seg.Segmentation(
        source_images=list(series.headers),
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=int(series.headers[0].get("SeriesNumber") or 0) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="dca_monai",
        manufacturer_model_name=algorithm_name,
        software_versions=algorithm_version,
        device_serial_number="0",
        content_label="SEGMENTATION",
        content_description=f"{algorithm_name} automatic segmentation",
        omit_empty_frames=False,
    )
    buffer = io.BytesIO()
    segmentation.save_as(buffer)
    return write_bytes_atomic(path, buffer.getvalue())


class SaveDicomSegd(MapTransform):
    """Save a predicted label map as a DICOM SEG next to its NIfTI, for each input that is a DICOM series folder.

    The label is the dictionary item ``(1, X, Y, Z)`` (or ``(X, Y, Z)``) in the input image's space (put
    it after ``Invertd`` and ``AsDiscreted(argmax=True)``); its ``meta["filename_or_obj"]`` names the
    source. For a folder the SEG is written to ``output_dir/<folder name>_<output_postfix>.dcm``
    through a temporary file; other inputs (a NIfTI file) have no series to reference and are passed
    through, with a log line. The data are returned unchanged.

    Put it after the NIfTI writer: a SEG can fail where the label map cannot (a series whose UIDs an
    anonymiser emptied, a full disk), and the label must survive that. The failure is raised as a
    :class:`DicomSegWriteError` naming the SEG file and the cause, and the NIfTI file when
    ``SaveImaged(..., savepath_in_metadict=True)`` recorded it in ``meta["saved_to"]``.

    Args:
        keys: the label key(s).
        output_dir: folder to write to (created when missing).
        segment_names: the name of each class from 1 (``num_classes - 1`` names), see :func:`segment_code`.
        output_postfix: appended to the folder name.
        algorithm_name: the Algorithm Identification's name in the SEG.
        algorithm_version: its version.
        allow_missing_keys: as in MONAI.

    Raises:
        DicomSegWriteError: on call, when a SEG cannot be written (its cause chained).
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_dir: str | os.PathLike,
        segment_names: Sequence[str],
        output_postfix: str = "seg",
        algorithm_name: str = "dca_monai",
        algorithm_version: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if isinstance(segment_names, str) or not segment_names:
            raise ValueError(f"segment_names={segment_names!r} but a non-empty list of class names was expected")
        self.output_dir = Path(output_dir)
        self.segment_names = [str(name) for name in segment_names]
        self.output_postfix = output_postfix
        self.algorithm_name = algorithm_name
        if algorithm_version is None:
            from dca_monai import __version__ as algorithm_version
        self.algorithm_version = str(algorithm_version)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            label = d[key]
            meta = getattr(label, "meta", {})
            source = meta.get("filename_or_obj")
            if source is None or not Path(str(source)).is_dir():
                logger.info("%s: %s is not a DICOM series folder, no DICOM SEG written", key, source)
                continue
            folder = Path(str(source))
            array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
            if array.ndim == 4:
                if array.shape[0] != 1:
                    raise ValueError(f"{key} has shape {array.shape}; expected a label map (1, X, Y, Z)")
                array = array[0]
            affine = np.asarray(getattr(label, "affine", meta.get("affine")), dtype=np.float64)
            path = self.output_dir / f"{folder.name}_{self.output_postfix}.dcm"
            try:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                write_dicom_seg(
                    np.rint(array).astype(np.int64),
                    affine,
                    folder,
                    path,
                    self.segment_names,
                    self.algorithm_name,
                    self.algorithm_version,
                )
            except Exception as error:
                saved = meta.get("saved_to")
                kept = f"; the label map {saved} written before it is kept" if saved else ""
                raise DicomSegWriteError(
                    f"{key}: DICOM SEG {path} of the series {folder} not written ({type(error).__name__}: {error})"
                    f"{kept}"
                ) from error
            logger.info("%s: wrote DICOM SEG %s", key, path)
        return d
