from __future__ import annotations

import os
from pathlib import Path

import pytest

from dca_monai.utils.atomic_file import write_bytes_atomic


def test_writes_and_replaces_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "file.json"
    write_bytes_atomic(target, b"old")
    assert write_bytes_atomic(target, b"new") == target
    assert target.read_bytes() == b"new"
    assert [path.name for path in tmp_path.iterdir()] == ["file.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_failed_replace_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file.json"
    target.write_bytes(b"old")

    def interrupted(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["file.json"]


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"folder .*missing does not exist"):
        write_bytes_atomic(tmp_path / "missing" / "file.json", b"")
