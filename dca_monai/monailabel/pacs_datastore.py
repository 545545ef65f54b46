"""MONAI Label's DICOMweb datastore, with clear errors, checked series and coded DICOM SEG.

:class:`PacsDatastore` is MONAI Label 0.8.5's ``DICOMWebDatastore`` with four changes:

- a series is downloaded into a temporary folder and moved into the cache only when complete and
  accepted, so a PACS that fails mid-download leaves nothing half-written;
- the downloaded series goes through :func:`~dca_monai.data.dicom_series.read_dicom_series`'s
  header checks (one series, one geometry, even slice spacing) before it is converted or segmented;
- the DICOM SEG of a final label names each segment after the served model's class, with the
  SNOMED CT code of :func:`~dca_monai.transforms.dicom_seg_writer.segment_code` (MONAI Label gives
  every segment the code of the spleen), and is written with ``pydicom-seg`` (no ``dcmqi`` download);
- a final label is kept in the local cache even when the PACS rejects its SEG (STOW-RS), under the
  tag :data:`UNSENT_TAG`.

Every failure is an :class:`~fastapi.HTTPException`, so its message reaches the REST caller (OHIF,
3D Slicer, ``curl``), not only the server log; each message names the DICOMweb URL.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pydicom
import requests
from fastapi import HTTPException
from monai.transforms import LoadImage
from monailabel.datastore.dicom import DICOMWebDatastore
from monailabel.datastore.local import LocalDatastore
from monailabel.datastore.utils.convert import binary_to_image, nifti_to_dicom_seg
from monailabel.datastore.utils.dicom import dicom_web_download_series
from monailabel.interfaces.datastore import DefaultLabelTag

from dca_monai.data.dicom_series import DicomSeriesError, read_dicom_series
from dca_monai.transforms.dicom_seg_writer import segment_code

__all__ = ["UNSENT_TAG", "PacsDatastore", "PacsUnavailableError", "SeriesRefusedError", "StowRejectedError"]

UNSENT_TAG = "final_unsent"
"""Local label tag of a final label whose DICOM SEG the PACS did not store."""

_CATEGORY = {"CodeValue": "91723000", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Anatomical Structure"}

logger = logging.getLogger(__name__)


class PacsUnavailableError(HTTPException):
    """The DICOMweb server did not answer, or answered with an HTTP error (HTTP 503)."""

    def __init__(self, url: str, action: str, error: Exception) -> None:
        status = getattr(getattr(error, "response", None), "status_code", None)
        what = f"answered HTTP {status}" if status else "did not answer"
        super().__init__(503, f"PACS at {url} {what} while {action}: {type(error).__name__}: {error}")
        logger.error(self.detail)


class SeriesRefusedError(HTTPException):
    """The series failed the input checks (HTTP 422)."""

    def __init__(self, url: str, series_uid: str, error: Exception) -> None:
        super().__init__(422, f"series {series_uid} of the PACS at {url} was refused: {error}")
        logger.error(self.detail)


class StowRejectedError(HTTPException):
    """The PACS did not store the DICOM SEG (HTTP 502); the label was kept locally."""

    def __init__(self, url: str, image_id: str, kept: str, error: str) -> None:
        super().__init__(
            502,
            f"the PACS at {url} did not store the DICOM SEG of series {image_id} ({error}); the label is kept "
            f"locally as {kept} (label tag '{UNSENT_TAG}'): save it again when the PACS accepts it",
        )
        logger.error(self.detail)


class PacsDatastore(DICOMWebDatastore):
    """``DICOMWebDatastore`` with atomic, checked downloads and coded DICOM SEG uploads.

    Args:
        client: the DICOMweb client (``DICOMwebClientX`` of MONAI Label).
        search_filter: QIDO filter of the listed series, e.g. ``{"Modality": "CT"}``.
        segment_names: returns ``(model, {label value: class name})`` of a model name (``None``: the
            default model); the names give each SEG segment its label and code.
        cache_path: folder of the local cache; MONAI Label's default when ``None``.
        fetch_by_frame: MONAI Label's frame-by-frame download.
    """

    def __init__(
        self,
        client: Any,
        search_filter: dict[str, Any],
        segment_names: Callable[[str | None], tuple[str, dict[int, str]]],
        cache_path: str | None = None,
        fetch_by_frame: bool = False,
    ) -> None:
        self._segment_names = segment_names
        super().__init__(client, search_filter, cache_path, fetch_by_frame, convert_to_nifti=True)

    @property
    def url(self) -> str:
        """The DICOMweb root."""
        return str(self._client.base_url)

    def list_images(self) -> list[str]:
        try:
            return super().list_images()
        except requests.exceptions.RequestException as error:
            raise PacsUnavailableError(self.url, "listing its series (QIDO-RS)", error) from error

    def get_labeled_images(self, label_tag: str | None = None, labels: list[str] | None = None) -> list[str]:
        try:
            return super().get_labeled_images(label_tag, labels)
        except requests.exceptions.RequestException as error:
            raise PacsUnavailableError(self.url, "listing its DICOM SEG series (QIDO-RS)", error) from error

    def get_image_uri(self, image_id: str) -> str:
        image_dir = os.path.realpath(os.path.join(self._datastore.image_path(), image_id))
        if not os.path.isdir(image_dir) or not os.listdir(image_dir):
            self._download_checked(image_id, image_dir)
        try:
            return super().get_image_uri(image_id)
        except requests.exceptions.RequestException as error:
            raise PacsUnavailableError(self.url, f"reading the header of series {image_id}", error) from error

    def _download_checked(self, image_id: str, image_dir: str) -> None:
        """Download the series into a temporary sibling folder, check it, then move it to ``image_dir``."""
        os.makedirs(os.path.dirname(image_dir), exist_ok=True)
        partial = tempfile.mkdtemp(prefix=f".{image_id}.", suffix=".partial", dir=os.path.dirname(image_dir))
        try:
            try:
                dicom_web_download_series(None, image_id, partial, self._client, self._fetch_by_frame)
            except requests.exceptions.RequestException as error:
                raise PacsUnavailableError(self.url, f"downloading series {image_id} (WADO-RS)", error) from error
            except IndexError as error:  # MONAI Label's lookup of the series' study found nothing
                raise HTTPException(404, f"series {image_id} is not in the PACS at {self.url}") from error
            try:
                read_dicom_series(partial, decode=False)
            except DicomSeriesError as error:
                raise SeriesRefusedError(self.url, image_id, str(error).replace(partial, "the series")) from error
            shutil.rmtree(image_dir, ignore_errors=True)
            os.replace(partial, image_dir)
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def save_label(
        self, image_id: str, label_filename: str, label_tag: str, label_info: dict[str, Any], label_id: str = ""
    ) -> str:
        if label_tag != DefaultLabelTag.FINAL:
            return super().save_label(image_id, label_filename, label_tag, label_info, label_id)
        image_uri = self.get_image_uri(image_id)
        converted = ""
        if "".join(pathlib.Path(label_filename).suffixes) == ".bin":
            converted = label_filename = binary_to_image(image_uri, label_filename)
        try:
            return self._save_final(image_id, label_filename, label_info)
        finally:
            if converted:
                os.unlink(converted)

    def _save_final(self, image_id: str, label_filename: str, label_info: dict[str, Any]) -> str:
        image_dir = os.path.realpath(os.path.join(self._datastore.image_path(), image_id))
        model = next((info.get("model_name") for info in label_info.get("label_info") or [] if info), None)
        seg_file = ""
        try:
            try:
                seg_file = nifti_to_dicom_seg(
                    image_dir, label_filename, self._segment_attributes(label_filename, model), use_itk=False
                )
            except ValueError as error:
                raise HTTPException(422, f"label of series {image_id} cannot be saved: {error}") from error
            if not seg_file:
                raise HTTPException(422, f"label of series {image_id} is empty: no DICOM SEG was sent")
            series_uid, error = self._store(seg_file, image_dir)
            if error:
                LocalDatastore.save_label(self, image_id, label_filename, UNSENT_TAG, dict(label_info))
                kept = self.get_label_uri(image_id, UNSENT_TAG)
                raise StowRejectedError(self.url, image_id, kept, error)
        finally:
            if seg_file:
                os.unlink(seg_file)
        image_info = self.get_image_info(image_id)
        label_info.update(
            {
                "SeriesInstanceUID": series_uid,
                "Modality": image_info.get("Modality"),
                "PatientID": image_info.get("PatientID"),
                "StudyInstanceUID": image_info.get("StudyInstanceUID"),
            }
        )
        return LocalDatastore.save_label(self, image_id, label_filename, DefaultLabelTag.FINAL, label_info)

    def _store(self, seg_file: str, image_dir: str) -> tuple[str, str]:
        """STOW-RS the SEG; ``(its series UID, "")`` when the PACS stored it, else ``("", why not)``.

        MONAI Label's upload takes any URL of the STOW-RS answer, also one in its Failed SOP Sequence,
        as success; here the answer must list the SEG in its Referenced SOP Sequence, fail nothing,
        and a QIDO-RS query must then find the SEG.
        """
        dataset = pydicom.dcmread(seg_file)
        # pydicom-seg gives the SEG a new Frame of Reference; a viewer overlays it only on the source's
        source = read_dicom_series(image_dir, decode=False).headers[0]
        for keyword in ("FrameOfReferenceUID", "PositionReferenceIndicator"):
            if keyword in source:
                setattr(dataset, keyword, source.get(keyword))
        try:
            answer = self._client.store_instances([dataset])
        except requests.exceptions.RequestException as failure:
            return "", f"{type(failure).__name__}: {failure}"
        failed = answer.get("FailedSOPSequence") or []
        if failed:
            reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
            return "", f"STOW-RS answer lists it as failed (Failure Reason {', '.join(reasons)})"
        stored = {str(item.get("ReferencedSOPInstanceUID", "")) for item in answer.get("ReferencedSOPSequence") or []}
        if str(dataset.SOPInstanceUID) not in stored:
            return "", "STOW-RS answer does not list it as stored"
        # Orthanc 1.10 lists an instance its filter refused as stored: ask the PACS (QIDO-RS)
        try:
            found = self._client.search_for_instances(search_filters={"SOPInstanceUID": str(dataset.SOPInstanceUID)})
        except requests.exceptions.RequestException as failure:
            return "", f"looking it up after STOW-RS failed: {type(failure).__name__}: {failure}"
        if not found:
            return "", "STOW-RS answered success but the PACS does not hold it (QIDO-RS finds no such instance)"
        return str(dataset.SeriesInstanceUID), ""

    def _segment_attributes(self, label_filename: str, model: str | None) -> list[dict[str, Any]]:
        """One dcmqi segment attribute per label value present, in increasing order (as MONAI Label pairs them)."""
        model, names = self._segment_names(model)
        values = np.unique(np.asarray(LoadImage(image_only=True)(label_filename))).astype(np.int64)
        attributes = []
        for index, value in enumerate(values[values != 0].tolist()):
            if value not in names:
                raise ValueError(f"label value {value} is not a class of model {model!r} (classes {names})")
            text, code, meaning = segment_code(names[value])
            attributes.append(
                {
                    **({"model_name": model} if index == 0 else {}),  # the SEG's Series Description
                    "segmentAttribute": {
                        "labelID": value,
                        "SegmentLabel": text,
                        "SegmentDescription": names[value],
                        "SegmentAlgorithmType": "AUTOMATIC",
                        "SegmentAlgorithmName": model,
                        "SegmentedPropertyCategoryCodeSequence": _CATEGORY,
                        "SegmentedPropertyTypeCodeSequence": {
                            "CodeValue": code,
                            "CodingSchemeDesignator": "SCT",
                            "CodeMeaning": meaning,
                        },
                    },
                }
            )
        return attributes
