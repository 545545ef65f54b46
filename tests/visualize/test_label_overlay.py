from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dca_monai.visualize.label_overlay import DEFAULT_PALETTE, label_overlay_figure, save_label_overlay

H, W = 6, 4  # array shape (i, j): panels are W rows by H columns after the rotation


def arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.linspace(0, 1, H * W).reshape(H, W)
    label = np.zeros((H, W), dtype=np.int64)
    label[0, W - 1] = 1  # i = 0 (patient's left), j = top: the top-left pixel of a panel
    prediction = np.full((H, W), 2)
    return image, label, prediction


@pytest.mark.parametrize("title, min_height, scale", [("", 1, 1), ("case 3", 1, 1), ("", 20, 5)])
def test_figure_size(title: str, min_height: int, scale: int) -> None:
    figure = label_overlay_figure(*arrays(), title=title, min_height=min_height)
    title_height = 14 if title else 0
    assert figure.size == (3 * H * scale + 2 * 4, title_height + W * scale)
    assert figure.mode == "RGB"


def test_panels_show_image_label_and_prediction() -> None:
    image, label, prediction = arrays()
    figure = np.asarray(label_overlay_figure(image, label, prediction, alpha=1.0, min_height=1))
    panel = [figure[:, index * (H + 4) : index * (H + 4) + H] for index in range(3)]

    assert (panel[0][..., 0] == panel[0][..., 2]).all()  # grey
    assert tuple(panel[1][0, 0]) == DEFAULT_PALETTE[0]  # class 1 at the top-left, opaque
    assert (panel[1][1:] == panel[0][1:]).all()  # background untouched
    assert (panel[2] == np.array(DEFAULT_PALETTE[1], dtype=np.uint8)).all()  # class 2 everywhere


def test_grey_levels_follow_the_rotated_image() -> None:
    image, label, prediction = arrays()
    grey = np.asarray(label_overlay_figure(image, label, prediction, min_height=1))[:, :H, 0].astype(int)
    # j grows upwards, i grows to the right
    assert (np.diff(grey, axis=0) <= 0).all()
    assert (np.diff(grey, axis=1) >= 0).all()
    assert grey[-1, 0] == 0 and grey[0, -1] == 255


def test_palette_cycles_past_its_end() -> None:
    image, label, _ = arrays()
    palette = [(255, 0, 0), (0, 255, 0)]
    prediction = np.full((H, W), 3)  # class 3 takes the first colour again
    figure = np.asarray(label_overlay_figure(image, label, prediction, alpha=1.0, min_height=1, palette=palette))
    assert tuple(figure[0, 2 * (H + 4)]) == (255, 0, 0)


def test_constant_image_is_black() -> None:
    _, label, prediction = arrays()
    figure = np.asarray(label_overlay_figure(np.full((H, W), 7.0), label, prediction, min_height=1))
    assert (figure[:, :H] == 0).all()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": np.zeros((H, W + 1), dtype=int)}, r"label has shape \(6, 5\)"),
        ({"image": np.zeros((H, W, 1))}, r"image has shape \(6, 4, 1\)"),
        ({"prediction": np.full((H, W), -1)}, "prediction holds the value -1"),
        ({"alpha": 1.5}, "alpha=1.5"),
        ({"palette": []}, "palette is empty"),
    ],
)
def test_bad_arguments(change: dict, message: str) -> None:
    image, label, prediction = arrays()
    kwargs = {"image": image, "label": label, "prediction": prediction, **change}
    with pytest.raises(ValueError, match=message):
        label_overlay_figure(**kwargs)


def test_save_writes_a_png_atomically(tmp_path: Path) -> None:
    path = save_label_overlay(tmp_path / "figures" / "case.png", *arrays(), title="case", min_height=1)
    assert path == tmp_path / "figures" / "case.png"
    assert [entry.name for entry in path.parent.iterdir()] == ["case.png"]  # no temporary file left
    with Image.open(path) as saved:
        assert saved.format == "PNG"
        assert np.array_equal(np.asarray(saved), np.asarray(label_overlay_figure(*arrays(), "case", min_height=1)))
