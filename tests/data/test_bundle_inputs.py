from __future__ import annotations

import json
from pathlib import Path

import pytest

from dca_monai.data import image_inputs


def test_named_paths_win_over_the_datalist(tmp_path: Path) -> None:
    assert image_inputs("a.nii.gz", datalist=tmp_path / "missing.json") == [{"image": "a.nii.gz"}]
    assert image_inputs(["a.nii.gz", tmp_path]) == [{"image": "a.nii.gz"}, {"image": str(tmp_path)}]


def test_datalist_section_paths_start_from_base_dir_or_the_datalist_folder(tmp_path: Path) -> None:
    datalist = tmp_path / "lists" / "datalist.json"
    datalist.parent.mkdir()
    datalist.write_text(json.dumps({"test": [{"image": "x.nii.gz"}], "training": [{"image": "y.nii.gz"}]}))
    assert image_inputs(datalist=datalist) == [{"image": str(tmp_path / "lists" / "x.nii.gz")}]
    assert image_inputs(datalist=datalist, section="training", base_dir=tmp_path) == [
        {"image": str(tmp_path / "y.nii.gz")}
    ]


def test_neither_paths_nor_datalist_is_refused() -> None:
    with pytest.raises(ValueError, match="input_path=None and datalist=None"):
        image_inputs()
