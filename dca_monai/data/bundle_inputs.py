"""The list of images a bundle's inference runs on: the files the user named, or a datalist section."""

from __future__ import annotations

import os
from collections.abc import Sequence

from monai.data import load_decathlon_datalist
from monai.utils import ensure_tuple

__all__ = ["image_inputs"]


def image_inputs(
    input_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    datalist: str | os.PathLike | None = None,
    section: str = "test",
    base_dir: str | os.PathLike | None = None,
) -> list[dict[str, str]]:
    """``[{"image": path}, ...]`` for the inference dataset: ``input_path`` when given, else ``datalist[section]``.

    Args:
        input_path: a NIfTI file or DICOM folder, or several (``--input_path "['a.nii.gz','b/']"``); ``None``
            to read the datalist.
        datalist: the Decathlon-style JSON datalist read when ``input_path`` is ``None``.
        section: the datalist section to read.
        base_dir: folder the datalist's relative paths start from; by default the datalist's folder (MONAI's rule).

    Raises:
        ValueError: when neither ``input_path`` nor ``datalist`` is given.
    """
    if input_path is not None:
        return [{"image": str(path)} for path in ensure_tuple(input_path)]
    if datalist is None:
        raise ValueError("input_path=None and datalist=None: expected an image path (--input_path) or a datalist")
    items = load_decathlon_datalist(datalist, True, section, base_dir=base_dir)
    return [{"image": str(item["image"])} for item in items]
