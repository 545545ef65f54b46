"""Write files so that readers see either the old file or the whole new one, never a part."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_bytes_atomic"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block succeeds, move it over ``path``.

    The temporary file is named ``.<name>.<random><suffix>`` in the same folder (so the final
    ``os.replace`` is atomic); after the block it is flushed to disk, given ordinary ``0644``
    permissions and renamed over ``path``. When the block or the rename fails, it is removed and
    ``path`` keeps its old content.

    Args:
        path: the file to create or replace; its folder must exist.
        suffix: end of the temporary name, e.g. ``".tmp.nii.gz"`` for writers that pick the
            format from the extension.

    Raises:
        FileNotFoundError: when the folder of ``path`` does not exist.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(temp_name)
        with open(temp_name, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp creates the file 0600
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`) and return ``path`` as a ``Path``.

    Raises:
        FileNotFoundError: when the folder of ``path`` does not exist.
    """
    with atomic_path(path) as temp:
        temp.write_bytes(data)
    return Path(path)
