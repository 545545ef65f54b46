"""A mixin for MONAI Label apps that serve studies from a PACS over DICOMweb.

``scripts/monailabel.sh --pacs URL`` writes the app's ``main.py`` as::

    class DCAMonaiPacsApp(PacsAppMixin, monaibundle_main.MyApp, MONAILabelApp): ...

so the monaibundle app is unchanged but for its DICOMweb datastore: a
:class:`~dca_monai.monailabel.pacs_datastore.PacsDatastore`. The server refuses to start, with the URL
in the message, when no DICOMweb server answers there; and it does not download dcmqi at start
(the DICOM SEG is written with ``pydicom-seg``).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from dicomweb_client.session_utils import create_session_from_user_pass
from monailabel.config import settings
from monailabel.datastore.dicom import DICOMwebClientX

from dca_monai.monailabel.pacs_datastore import PacsDatastore, PacsUnavailableError

__all__ = ["PacsAppMixin"]

logger = logging.getLogger(__name__)


class PacsAppMixin:
    """Overrides ``MONAILabelApp._init_dicomweb_datastore``; conf ``pacs_model`` names the default model of SEGs."""

    studies: str
    conf: dict[str, str]
    _infers: dict[str, Any]

    def _init_dicomweb_datastore(self) -> PacsDatastore:
        session = None
        if settings.MONAI_LABEL_DICOMWEB_USERNAME and settings.MONAI_LABEL_DICOMWEB_PASSWORD:
            session = create_session_from_user_pass(
                settings.MONAI_LABEL_DICOMWEB_USERNAME, settings.MONAI_LABEL_DICOMWEB_PASSWORD
            )
        client = DICOMwebClientX(
            url=self.studies,
            session=session,
            qido_url_prefix=settings.MONAI_LABEL_QIDO_PREFIX,
            wado_url_prefix=settings.MONAI_LABEL_WADO_PREFIX,
            stow_url_prefix=settings.MONAI_LABEL_STOW_PREFIX,
        )
        try:
            client.search_for_studies(limit=1)
        except requests.exceptions.RequestException as error:
            failure = PacsUnavailableError(self.studies, "MONAI Label started", error)
            raise RuntimeError(f"{failure.detail}; start the PACS first (bash scripts/pacs.sh start)") from error
        logger.info("PACS at %s answers DICOMweb", self.studies)
        cache_path = (settings.MONAI_LABEL_DICOMWEB_CACHE_PATH or "").strip()
        return PacsDatastore(
            client=client,
            search_filter=settings.MONAI_LABEL_DICOMWEB_SEARCH_FILTER,
            segment_names=self.segment_names,
            cache_path=cache_path or None,
            fetch_by_frame=settings.MONAI_LABEL_DICOMWEB_FETCH_BY_FRAME,
        )

    def segment_names(self, model: str | None = None) -> tuple[str, dict[int, str]]:
        """``(model, {label value: class name})`` of ``model``, else of conf ``pacs_model`` (else the first model)."""
        if model not in self._infers:
            model = self.conf.get("pacs_model") or next(iter(self._infers), None)
        if model not in self._infers:
            raise ValueError(f"no served model {model!r} names the classes of the label (models {list(self._infers)})")
        labels = self._infers[model].labels
        if isinstance(labels, dict):
            return model, {int(value): str(name) for name, value in labels.items()}
        return model, {index: str(name) for index, name in enumerate(labels or [], start=1)}
