from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from dca_monai.apps import totalsegmentator_examples as examples


def test_total_class_map_holds_the_organ_ids_the_dataset_uses() -> None:
    class_map = examples.total_class_map()
    assert len(class_map) == 117
    expected = {1: "spleen", 2: "kidney_right", 3: "kidney_left", 5: "liver", 6: "stomach", 52: "aorta"}
    assert {key: class_map[key] for key in expected} == expected
    assert class_map[63] == "inferior_vena_cava"


def test_example_files_are_there_after_set_up() -> None:
    series = examples.example_path("dicom_series")
    assert len(list(series.iterdir())) == 20
    assert "Apache License" in examples.example_path("licence").read_text()[:200]


def test_missing_files_name_the_set_up_command(tmp_path: Path) -> None:
    with pytest.raises(examples.TotalSegmentatorExamplesMissing, match=r"bash scripts/setup_env\.sh") as error:
        examples.example_path("ct", tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(error.value)
    with pytest.raises(KeyError, match="role='mri'"):
        examples.example_path("mri")


def test_directory_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(examples.ENV_VAR, str(tmp_path))
    assert examples.examples_dir() == tmp_path
    with pytest.raises(examples.TotalSegmentatorExamplesMissing):
        examples.total_class_map()


def test_fetch_does_nothing_when_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("fetch ran a command although the files are there")

    monkeypatch.setattr(subprocess, "run", no_download)
    root = examples.examples_dir()
    assert examples.fetch_examples() == root


def test_fetch_refuses_an_archive_with_another_hash(tmp_path: Path) -> None:
    archive = tmp_path / examples.SDIST_NAME
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("totalsegmentator-2.18.0/LICENSE")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(ValueError, match=f"SHA-256 .* but {examples.SDIST_SHA256}"):
        examples.fetch_examples(tmp_path / "out", sdist=archive)
    assert sorted(path.name for path in tmp_path.iterdir()) == [examples.SDIST_NAME]  # nothing left behind
