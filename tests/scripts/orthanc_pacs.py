"""Helpers of the PACS tests: an Orthanc started by ``scripts/pacs.sh`` and read over DICOMweb.

Orthanc comes from Debian (``orthanc``, ``orthanc-dicomweb``), installed by
``scripts/setup_env.sh``.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pydicom

from tests.scripts.monailabel_server import REPO_ROOT, free_port, run_script

PACS_SCRIPT = REPO_ROOT / "scripts" / "pacs.sh"

__all__ = ["PACS_SCRIPT", "Orthanc", "seg_volume_on_series"]


class Orthanc:
    """``scripts/pacs.sh start`` on a free port with its own folder; ``stop`` stops it (idempotent)."""

    def __init__(self, folder: Path, lua: Path | None = None, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.start(lua)

    def start(self, lua: Path | None = None) -> None:
        args = ["start", "--port", str(self.port), "--dir", str(self.folder)] + (["--lua", str(lua)] if lua else [])
        self.script(*args)

    def script(self, *args: str, check: bool = True) -> str:
        """Run ``scripts/pacs.sh`` with ``args``; its stdout (and stderr) as one string."""
        done = run_script(PACS_SCRIPT, *args, timeout=600, env={"PYTHON": sys.executable})
        output = done.stdout + done.stderr
        assert not check or done.returncode == 0, f"scripts/pacs.sh {' '.join(args)} failed:\n{output}"
        return output

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def qido(self, path: str) -> list[dict]:
        with urllib.request.urlopen(f"{self.dicomweb}/{path}", timeout=60) as response:
            return json.loads(response.read() or b"[]")

    def wado_series(self, study_uid: str, series_uid: str) -> list[pydicom.Dataset]:
        """The instances of a series (WADO-RS, transfer syntax as stored)."""
        request = urllib.request.Request(
            f"{self.dicomweb}/studies/{study_uid}/series/{series_uid}",
            headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            content_type, body = response.headers["Content-Type"], response.read()
        message = email.message_from_bytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP
        )
        return [pydicom.dcmread(io.BytesIO(part.get_payload(decode=True))) for part in message.iter_parts()]

    def stop(self) -> None:
        if (self.folder / "orthanc.pid").exists():
            self.script("stop", "--dir", str(self.folder))


def seg_volume_on_series(seg: pydicom.Dataset, series_shape: tuple[int, ...], series_affine: np.ndarray) -> np.ndarray:
    """The SEG's classes (segment numbers, 0 background) as an ``(X, Y, Z)`` map on a series' RAS grid.

    The SEG's own geometry (highdicom's volume of its frames) is mapped onto the series' voxels, so
    a SEG whose frames lie elsewhere fails :func:`~dca_monai.apps.label_grid.label_on_grid`.
    """
    import highdicom as hd

    from dca_monai.apps.label_grid import label_on_grid

    volume = hd.seg.Segmentation.from_dataset(seg).get_volume(combine_segments=True)
    # highdicom: array (slice, row, column), LPS affine; to (column, row, slice) and RAS
    array = np.asarray(volume.array).transpose(2, 1, 0)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(volume.affine)[:, [2, 1, 0, 3]]
    return label_on_grid(array, affine, series_shape, series_affine)
