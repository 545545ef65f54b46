"""MONAI's NibabelWriter writing through a temporary file, so that readers never see a partial NIfTI."""

from __future__ import annotations

import logging
from pathlib import Path

from monai.config import PathLike
from monai.data import NibabelWriter

from dca_monai.utils.atomic_file import atomic_path

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
        with atomic_path(path, suffix=f".tmp{_extension(path)}") as temp:
            if verbose:
                logger.info(f"writing: {path}")
            super().write(temp, verbose=False, **obj_kwargs)


def _extension(path: Path) -> str:
    """``".nii.gz"`` for ``a.nii.gz``, ``".nii"`` for ``a.nii``: the suffixes nibabel reads the format from."""
    suffixes = path.suffixes
    if len(suffixes) >= 2 and suffixes[-1].lower() in _COMPRESSION_SUFFIXES:
        return "".join(suffixes[-2:])
    return path.suffix
