"""MONAI's NibabelWriter writing through a temporary file, so that readers never see a partial NIfTI."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from monai.config import PathLike
from monai.data import NibabelWriter

__all__ = ["AtomicNibabelWriter"]

logger = logging.getLogger(__name__)

_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst")


class AtomicNibabelWriter(NibabelWriter):
    """:class:`~monai.data.NibabelWriter` that writes to a temporary file in the target folder, then renames it.

    MONAI's writer saves straight into the output file, so an interrupted run leaves a truncated
    NIfTI under the final name. This writer saves into ``.<name>.<random>.tmp<ext>`` next to it
    (same extension, so nibabel picks the same format and compression), flushes it to disk and
    renames it over the output with ``os.replace``. Use it as ``SaveImage(d)``'s ``writer``, e.g. in
    a bundle config ``"writer": "dca_monai.transforms.AtomicNibabelWriter"``.
    """

    def write(self, filename: PathLike, verbose: bool = False, **obj_kwargs) -> None:
        """Write the data set by ``set_data_array``/``set_metadata`` to ``filename`` atomically.

        Args:
            filename: the output file; its folder must exist (``SaveImage`` creates it).
            verbose: log the output file name, as MONAI's writers do.
            obj_kwargs: as :meth:`monai.data.NibabelWriter.write`.

        Raises:
            FileNotFoundError: when the folder of ``filename`` does not exist.
        """
        path = Path(filename)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{_extension(path)}")
        os.close(fd)
        try:
            if verbose:
                logger.info(f"writing: {path}")
            super().write(temp_name, verbose=False, **obj_kwargs)
            with open(temp_name, "rb+") as stream:
                os.fsync(stream.fileno())
            # mkstemp creates the file 0600; give it the permissions of an ordinary file
            os.chmod(temp_name, 0o644)
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise


def _extension(path: Path) -> str:
    """``".nii.gz"`` for ``a.nii.gz``, ``".nii"`` for ``a.nii``: the suffixes nibabel reads the format from."""
    suffixes = path.suffixes
    if len(suffixes) >= 2 and suffixes[-1].lower() in _COMPRESSION_SUFFIXES:
        return "".join(suffixes[-2:])
    return path.suffix
