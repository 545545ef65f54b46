"""The real CT example files of TotalSegmentator's source distribution, fetched once by the set-up.

The source distribution of ``totalsegmentator`` 2.18.0 on the Python package index (Apache-2.0;
Wasserthal et al., *TotalSegmentator*, Radiology: AI 2023) holds, under ``tests/reference_files/``,
two real patients with multi-organ label maps:

- ``example_ct.nii.gz``: an abdomen-pelvis CT, 122 x 101 x 112 voxels of 3 mm, and
  ``example_seg_fast_force_split.nii.gz``, its label map on the same grid;
- ``example_ct_dicom/``: another patient's 20-slice CT series (512 x 512, 0.98 mm pixels, 2 mm
  apart, JPEG 2000 lossless), and ``example_seg_dicom.nii.gz``, its label map.

The labels were produced by TotalSegmentator's model, not drawn by hand. Label ids and names are
those of ``class_map["total"]`` in the package's ``totalsegmentator/map_to_binary.py``, read here
as text (the package itself is never imported or installed).

``scripts/setup_env.sh`` runs ``python -m dca_monai.apps.totalsegmentator_examples fetch``: pip
downloads the source distribution (the wheel lacks these files), its hash is checked, and only
the files above are extracted under :func:`examples_dir`. Nothing is downloaded afterwards; a
missing file raises an error that names the set-up command.

Command line::

    python -m dca_monai.apps.totalsegmentator_examples fetch [--dir DIR]
    python -m dca_monai.apps.totalsegmentator_examples where
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "EXAMPLE_FILES",
    "SDIST_NAME",
    "SDIST_SHA256",
    "TotalSegmentatorExamplesMissing",
    "example_path",
    "examples_dir",
    "fetch_examples",
    "main",
    "total_class_map",
]

SDIST_NAME = "totalsegmentator-2.18.0.tar.gz"
SDIST_SHA256 = "5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03"
_REQUIREMENT = "totalsegmentator==2.18.0"
_SDIST_ROOT = "totalsegmentator-2.18.0/"
ENV_VAR = "DCA_MONAI_TOTALSEGMENTATOR_DIR"
SETUP_COMMAND = "bash scripts/setup_env.sh (or: python -m dca_monai.apps.totalsegmentator_examples fetch)"

EXAMPLE_FILES = {
    "ct": "tests/reference_files/example_ct.nii.gz",
    "ct_label": "tests/reference_files/example_seg_fast_force_split.nii.gz",
    "dicom_series": "tests/reference_files/example_ct_dicom",
    "dicom_label": "tests/reference_files/example_seg_dicom.nii.gz",
    "class_map": "totalsegmentator/map_to_binary.py",
    "licence": "LICENSE",
}
"""Role -> path inside the source distribution (and under :func:`examples_dir`)."""

_COMPLETE_MARKER = ".complete"
_NUM_DICOM_FILES = 20


class TotalSegmentatorExamplesMissing(FileNotFoundError):
    """The example files were not fetched; the message names the set-up command."""


def examples_dir() -> Path:
    """Where the extracted files live: ``$DCA_MONAI_TOTALSEGMENTATOR_DIR``, else ``<venv>/share/dca_monai/...``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(sys.prefix) / "share" / "dca_monai" / "totalsegmentator-2.18.0"


def example_path(role: str, root: str | os.PathLike | None = None) -> Path:
    """Path of one example file or folder, checked to exist.

    Args:
        role: a key of :data:`EXAMPLE_FILES` (``"ct"``, ``"ct_label"``, ``"dicom_series"``, ...).
        root: the extraction folder; :func:`examples_dir` by default.

    Raises:
        KeyError: for an unknown role.
        TotalSegmentatorExamplesMissing: when the files were not fetched.
    """
    if role not in EXAMPLE_FILES:
        raise KeyError(f"role={role!r} but one of {sorted(EXAMPLE_FILES)} was expected")
    root = examples_dir() if root is None else Path(root)
    if not (root / _COMPLETE_MARKER).is_file():
        raise TotalSegmentatorExamplesMissing(
            f"the TotalSegmentator example CT files are not in {root} (no {_COMPLETE_MARKER} marker); "
            f"fetch them once with: {SETUP_COMMAND}"
        )
    path = root / EXAMPLE_FILES[role]
    if not path.exists():
        raise TotalSegmentatorExamplesMissing(f"{path} is missing; fetch the files again with: {SETUP_COMMAND}")
    return path


def total_class_map(root: str | os.PathLike | None = None) -> dict[int, str]:
    """``class_map["total"]`` of ``map_to_binary.py``: label id -> structure name (``{1: "spleen", ...}``).

    The file is parsed, not imported: only the literal assigned to ``class_map`` is evaluated.

    Raises:
        TotalSegmentatorExamplesMissing: when the files were not fetched.
        ValueError: when the file holds no literal ``class_map`` with a ``"total"`` entry.
    """
    path = example_path("class_map", root)
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "class_map" for t in node.targets):
            class_map = ast.literal_eval(node.value)
            if isinstance(class_map, dict) and isinstance(class_map.get("total"), dict):
                return {int(key): str(value) for key, value in class_map["total"].items()}
    raise ValueError(f"{path}: no literal class_map with a 'total' entry; expected TotalSegmentator 2.18.0's file")


def fetch_examples(root: str | os.PathLike | None = None, sdist: str | os.PathLike | None = None) -> Path:
    """Download the source distribution with pip (unless ``sdist`` is given) and extract the example files.

    Does nothing when ``root`` already holds a complete extraction. Files are extracted into a
    temporary folder next to ``root`` that is renamed to ``root`` at the end, so an interrupted
    fetch leaves no partial folder behind.

    Args:
        root: the extraction folder; :func:`examples_dir` by default.
        sdist: a local ``totalsegmentator-2.18.0.tar.gz`` to use instead of downloading.

    Returns:
        ``root``.

    Raises:
        RuntimeError: when pip fails.
        ValueError: when the archive's SHA-256 is not :data:`SDIST_SHA256` or a file is missing from it.
    """
    root = examples_dir() if root is None else Path(root)
    if (root / _COMPLETE_MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{root.name}.") as work:
        work_dir = Path(work)
        archive = Path(sdist) if sdist is not None else _download(work_dir / "download")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise ValueError(f"{archive}: SHA-256 {digest} but {SDIST_SHA256} ({SDIST_NAME} from PyPI) was expected")
        staged = work_dir / "extracted"
        _extract(archive, staged)
        (staged / _COMPLETE_MARKER).write_text(f"{SDIST_NAME} sha256 {SDIST_SHA256}\n")
        if root.exists():  # an incomplete earlier extraction
            shutil.rmtree(root)
        os.replace(staged, root)
    return root


def _download(folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    command += [_REQUIREMENT, "--dest", str(folder)]
    completed = subprocess.run(command, check=False, capture_output=True, text=True)
    archive = folder / SDIST_NAME
    if completed.returncode != 0 or not archive.is_file():
        raise RuntimeError(
            f"'{' '.join(command)}' failed with exit status {completed.returncode}; expected {archive}\n"
            f"{completed.stderr[-2000:]}"
        )
    return archive


def _extract(archive: Path, target: Path) -> None:
    """Extract the members under :data:`EXAMPLE_FILES` (without the archive's top folder) into ``target``."""
    wanted = [_SDIST_ROOT + path for path in EXAMPLE_FILES.values()]
    with tarfile.open(archive, "r:gz") as tar:
        members = [
            member
            for member in tar.getmembers()
            if member.isfile() and any(member.name == w or member.name.startswith(w + "/") for w in wanted)
        ]
        for member in members:
            destination = target / member.name[len(_SDIST_ROOT) :]
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file member
            with source, open(destination, "wb") as stream:
                shutil.copyfileobj(source, stream)
    for role, path in EXAMPLE_FILES.items():
        if not (target / path).exists():
            raise ValueError(f"{archive}: {path} ({role}) missing from the archive; expected {SDIST_NAME}")
    dicom_files = list((target / EXAMPLE_FILES["dicom_series"]).iterdir())
    if len(dicom_files) != _NUM_DICOM_FILES:
        raise ValueError(f"{archive}: {len(dicom_files)} DICOM files but {_NUM_DICOM_FILES} were expected")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``fetch`` the files or print ``where`` they are."""
    parser = argparse.ArgumentParser(
        prog="python -m dca_monai.apps.totalsegmentator_examples",
        description="Fetch TotalSegmentator 2.18.0's example CT files (set-up only) or print where they are.",
    )
    parser.add_argument("command", choices=["fetch", "where"])
    parser.add_argument("--dir", type=Path, default=None, help=f"extraction folder (default: {examples_dir()})")
    parser.add_argument("--sdist", type=Path, default=None, help=f"a local {SDIST_NAME} instead of downloading")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch_examples(args.dir, args.sdist))
    else:
        print(example_path("ct", args.dir).parents[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
