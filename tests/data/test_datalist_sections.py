"""Loading a datalist's sections (:mod:`dca_monai.data.datalist_sections`): clear errors, MONAI's paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from monai.data import load_decathlon_datalist

from dca_monai.data import datalist_volumes
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


def test_json_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    datalist = tmp_path / "datalist.json"
    datalist.write_text('[{"image": "a.nii.gz"}]')
    assert problems_of(datalist) == [f"datalist ({datalist}): holds a JSON list; expected an object with sections"]


def test_files_read_are_the_paths_monai_loads(
    tmp_path: Path, clean_datalist: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_datalist["training"][0]["image"] = "labels/../images/./training_0.nii.gz"
    clean_datalist["validation"][0]["label"] = str(tmp_path / "labels" / "validation_0.nii.gz")  # absolute
    lists = tmp_path / "lists"
    lists.mkdir()
    datalist = save(lists, clean_datalist)
    read: list[str] = []
    original = datalist_volumes.read_volume

    def recording(path: Path, num_classes: int | None, **kwargs: Any) -> Any:
        read.append(str(path))
        return original(path, num_classes, **kwargs)

    monkeypatch.setattr(datalist_volumes, "read_volume", recording)
    check_datalist(datalist, tmp_path, num_classes=3)
    expected = [
        item[key]
        for section in ("training", "validation")
        for item in load_decathlon_datalist(datalist, True, section, base_dir=tmp_path)
        for key in ("image", "label")
    ]
    assert read == expected
    assert read[0] == str(tmp_path / "images" / "training_0.nii.gz")


def test_a_mapping_resolves_paths_as_the_file_does(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    clean_datalist["training"][0]["image"] = "labels/../images/absent.nii.gz"
    clean_datalist["validation"][0]["label"] = ["labels/validation_0.nii.gz"]
    from_file = problems_of(save(tmp_path, clean_datalist))
    assert from_file == [
        f"training[0].image ({tmp_path / 'images' / 'absent.nii.gz'}): file not found",
        "validation[0].label: value "
        f"[{str(tmp_path / 'labels' / 'validation_0.nii.gz')!r}]; expected a non-empty path string",
    ]
    assert problems_of(clean_datalist, tmp_path) == from_file


def test_a_test_section_may_list_bare_paths_as_in_the_decathlon(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    clean_datalist["test"] = ["images/test_0.nii.gz", "images/training_0.nii.gz"]
    summaries = check_datalist(save(tmp_path, clean_datalist), num_classes=3, sections=["test"])
    assert (summaries[0].section, summaries[0].num_entries, summaries[0].spatial_shapes) == ("test", 2, ((8, 9, 10),))
    clean_datalist["training"][1] = "images/training_1.nii.gz"  # MONAI refuses bare paths outside "test"
    assert problems_of(save(tmp_path, clean_datalist), sections=["training"]) == [
        "training[1]: entry is a JSON str; expected an object"
    ]


def test_entries_next_to_a_malformed_one_are_still_checked(tmp_path: Path, clean_datalist: dict[str, Any]) -> None:
    clean_datalist["training"] = [123, *clean_datalist["training"]]
    clean_datalist["training"][2]["label"] = "labels/absent.nii.gz"
    assert problems_of(save(tmp_path, clean_datalist), sections=["training"]) == [
        "training[0]: entry is a JSON int; expected an object",
        f"training[2].label ({tmp_path / 'labels' / 'absent.nii.gz'}): file not found",
    ]
