"""Loading a datalist's sections (:mod:`dca_monai.data.datalist_sections`): clear errors, MONAI's paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dca_monai.data.datalist_checks import check_datalist
from tests.data.datalist_files import problems_of, save


@pytest.mark.parametrize(
    "training, expected",
    [
        (None, "training: section is missing; expected a non-empty list of entries"),
        ([], "training: section is empty; expected at least one entry"),
        ({"image": "x"}, "training: section is a JSON dict; expected a list of entries"),
    ],
)
def test_training_section_must_hold_entries(
    tmp_path: Path, clean_datalist: dict[str, Any], training: Any, expected: str
) -> None:
    if training is None:
        del clean_datalist["training"]
    else:
        clean_datalist["training"] = training
    assert problems_of(save(tmp_path, clean_datalist)) == [expected]


def test_requested_section_must_exist_but_test_labels_are_optional(
    tmp_path: Path, clean_datalist: dict[str, Any]
) -> None:
    del clean_datalist["validation"]
    assert problems_of(save(tmp_path, clean_datalist)) == ["validation: section is missing; expected a list of entries"]
    check_datalist(save(tmp_path, clean_datalist), num_classes=3, sections=["training", "test"])


def test_invalid_json_and_arguments(tmp_path: Path) -> None:
    bad = tmp_path / "datalist.json"
    bad.write_text("{not json")
    assert problems_of(bad)[0].startswith(f"datalist ({bad}): cannot be read as JSON")
    assert problems_of(tmp_path / "absent.json") == [
        f"datalist ({tmp_path / 'absent.json'}): file not found; expected a JSON datalist"
    ]
    with pytest.raises(ValueError, match="num_classes=0 but an int >= 1"):
        check_datalist(bad, num_classes=0)
    with pytest.raises(ValueError, match="data_dir=None but a folder is required"):
        check_datalist({"training": []}, num_classes=2)
