"""A PNG figure of one 2D slice: the image, the image under the label and the image under the prediction."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = ["DEFAULT_PALETTE", "label_overlay_figure", "save_label_overlay"]

DEFAULT_PALETTE: tuple[tuple[int, int, int], ...] = (
    (66, 133, 244),
    (251, 188, 5),
    (234, 67, 53),
    (52, 168, 83),
    (171, 71, 188),
    (0, 172, 193),
    (255, 112, 67),
    (158, 157, 36),
)
"""RGB colours of the classes 1, 2, 3, ... (reused in turn past the eighth); class 0 is not drawn."""

_TITLE_HEIGHT = 14
_GAP = 4


def label_overlay_figure(
    image: np.ndarray,
    label: np.ndarray,
    prediction: np.ndarray,
    title: str = "",
    alpha: float = 0.5,
    min_height: int = 256,
    palette: Sequence[tuple[int, int, int]] = DEFAULT_PALETTE,
) -> Image.Image:
    """Three panels side by side: the image, the label over it, the prediction over it.

    Arrays are indexed ``[i, j]`` as in a RAS-oriented slice (``i`` to the patient's right, ``j`` to
    anterior or superior); panels show ``j`` upwards and ``i`` to the right (neurological
    convention). The image is windowed to its 1st-99th percentiles; label values above 0 are
    blended in with ``palette``.

    Args:
        image: slice intensities ``(H, W)``.
        label: reference label map ``(H, W)`` of non-negative ints.
        prediction: predicted label map ``(H, W)`` of non-negative ints.
        title: one line written above the panels; no line when empty.
        alpha: opacity of the label colours, in ``[0, 1]``.
        min_height: panels are enlarged by a whole factor (nearest neighbour) to at least this height.
        palette: RGB colours of classes 1, 2, ...

    Returns:
        An RGB :class:`PIL.Image.Image`.

    Raises:
        ValueError: when the three arrays are not 2D of one shape, a label value is negative,
            ``alpha`` is outside ``[0, 1]`` or ``palette`` is empty.
    """
    image, label, prediction = np.asarray(image), np.asarray(label), np.asarray(prediction)
    for name, array in (("image", image), ("label", label), ("prediction", prediction)):
        if array.ndim != 2 or array.shape != image.shape:
            raise ValueError(
                f"{name} has shape {array.shape} but a 2D shape equal to image's {image.shape} was expected"
            )
    for name, array in (("label", label), ("prediction", prediction)):
        if array.size and array.min() < 0:
            raise ValueError(f"{name} holds the value {array.min()} but non-negative class indices were expected")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha!r} but a value in [0, 1] was expected")
    if not palette:
        raise ValueError("palette is empty but at least one colour was expected")

    grey = _window(image)
    panels = [grey, _blend(grey, label, alpha, palette), _blend(grey, prediction, alpha, palette)]
    # rows are j from top (largest) to bottom, columns are i
    panels = [np.ascontiguousarray(np.rot90(panel)) for panel in panels]
    height, width = panels[0].shape[:2]
    scale = max(1, math.ceil(min_height / max(height, 1)))
    height, width = height * scale, width * scale
    top = _TITLE_HEIGHT if title else 0
    figure = Image.new("RGB", (3 * width + 2 * _GAP, top + height), (0, 0, 0))
    for index, panel in enumerate(panels):
        tile = Image.fromarray(panel, mode="RGB").resize((width, height), Image.Resampling.NEAREST)
        figure.paste(tile, (index * (width + _GAP), top))
    if title:
        ImageDraw.Draw(figure).text((2, 1), title, fill=(255, 255, 255))
    return figure


def save_label_overlay(
    path: str | os.PathLike,
    image: np.ndarray,
    label: np.ndarray,
    prediction: np.ndarray,
    title: str = "",
    alpha: float = 0.5,
    min_height: int = 256,
    palette: Sequence[tuple[int, int, int]] = DEFAULT_PALETTE,
) -> Path:
    """Write :func:`label_overlay_figure` as a PNG file, atomically; the folder is created when missing.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    figure = label_overlay_figure(image, label, prediction, title, alpha, min_height, palette)
    buffer = io.BytesIO()
    figure.save(buffer, format="PNG")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(path, buffer.getvalue())


def _window(image: np.ndarray) -> np.ndarray:
    """Intensities mapped to grey RGB ``(H, W, 3)`` uint8 between the 1st and 99th percentiles."""
    values = np.nan_to_num(image.astype(np.float64))
    low, high = np.percentile(values, (1, 99)) if values.size else (0.0, 0.0)
    scaled = np.clip((values - low) / (high - low), 0, 1) if high > low else np.zeros_like(values)
    grey = np.rint(scaled * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def _blend(grey: np.ndarray, labels: np.ndarray, alpha: float, palette: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """``grey`` with every voxel of class ``c > 0`` mixed with ``palette[(c - 1) % len(palette)]``."""
    colours = np.asarray(palette, dtype=np.float64)
    labels = labels.astype(np.int64)
    blended = grey.astype(np.float64)
    mask = labels > 0
    colour = colours[(labels[mask] - 1) % len(colours)]
    blended[mask] = (1 - alpha) * blended[mask] + alpha * colour
    return np.rint(blended).astype(np.uint8)
