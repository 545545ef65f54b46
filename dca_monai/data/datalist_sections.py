"""Load the requested sections of a Decathlon-style datalist, with every path resolved as the bundles resolve it.

A JSON datalist is read with :func:`monai.data.load_decathlon_datalist`, as the bundles read it,
so that the check looks at exactly the paths training will open (``"image"`` and ``"label"`` joined
to ``base_dir``, other keys only when the joined path exists, a ``"test"`` list of paths wrapped as
``{"image": path}``). What that function would fail on with a terse message (no file, bad JSON,
a missing section, a section that is not a list of objects) is checked first and reported with the
file, section and entry named.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dca_monai.data.datalist_errors import DatalistError, DatalistProblem

__all__ = ["DatalistSections", "load_datalist_sections"]

_TEST_SECTION = "test"


@dataclass(frozen=True)
class DatalistSections:
    """The requested sections of a datalist that hold a list of entries.

    Attributes:
        name: the datalist file, or ``"<mapping>"`` for content given as a mapping.
        entries: section name -> its entries; an entry that is an object has its image and label
            paths resolved, any other entry is left for the entry check to report.
        problems: the sections that are missing, not lists, or (``"training"``) empty.
    """

    name: str
    entries: dict[str, list[Any]]
    problems: tuple[DatalistProblem, ...]


def load_datalist_sections(
    datalist: str | os.PathLike | Mapping[str, Any],
    data_dir: str | os.PathLike | None,
    sections: Sequence[str],
    image_key: str = "image",
    label_key: str = "label",
) -> DatalistSections:
    """Read ``sections`` of ``datalist`` and resolve their paths against ``data_dir``.

    Args:
        datalist: path of the JSON datalist, or its already loaded content.
        data_dir: folder that relative paths start from; by default the datalist's folder
            (required when ``datalist`` is a mapping).
        sections: section names to read.
        image_key: entry key of the image, resolved in a mapping as ``"image"`` is in a file.
        label_key: entry key of the label, likewise.

    Raises:
        DatalistError: when the file is missing, is not JSON or does not hold a JSON object.
        ValueError: when ``datalist`` is a mapping and ``data_dir`` is ``None``.
    """
    if isinstance(datalist, Mapping):
        if data_dir is None:
            raise ValueError("data_dir=None but a folder is required when datalist is a mapping, not a file")
        name, content, file = "<mapping>", datalist, None
    else:
        file = Path(datalist)
        name, content = str(datalist), _read_json_object(file)
        data_dir = file.parent if data_dir is None else data_dir
    entries: dict[str, list[Any]] = {}
    problems = []
    for section in sections:
        problem = _section_problem(content, section)
        if problem is not None:
            problems.append(DatalistProblem(section, None, None, None, problem))
        if section in content and isinstance(content[section], list):
            raw = _as_monai_entries(section, content[section])
            monai_reads_it = file is not None and raw and all(isinstance(entry, dict) for entry in raw)
            if monai_reads_it:
                loaded = _load_with_monai(file, section, data_dir)
                entries[section] = [_keep_non_paths(r, e, (image_key, label_key)) for r, e in zip(raw, loaded)]
            else:
                entries[section] = [_resolve_entry(entry, data_dir, (image_key, label_key)) for entry in raw]
    return DatalistSections(name, entries, tuple(problems))


def _read_json_object(path: Path) -> Mapping[str, Any]:
    def fail(message: str) -> DatalistError:
        return DatalistError(str(path), [DatalistProblem(None, None, None, str(path), message)])

    if not path.is_file():
        raise fail("file not found; expected a JSON datalist")
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise fail(f"cannot be read as JSON ({error})") from None
    if not isinstance(content, dict):
        raise fail(f"holds a JSON {type(content).__name__}; expected an object with sections")
    return content


def _section_problem(content: Mapping[str, Any], section: str) -> str | None:
    if section not in content:
        expected = "a non-empty list of entries" if section == "training" else "a list of entries"
        return f"section is missing; expected {expected}"
    entries = content[section]
    if not isinstance(entries, list):
        return f"section is a JSON {type(entries).__name__}; expected a list of entries"
    if section == "training" and not entries:
        return "section is empty; expected at least one entry"
    return None


def _as_monai_entries(section: str, entries: list[Any]) -> list[Any]:
    """``entries`` as ``load_decathlon_datalist`` sees them: a ``"test"`` list of paths becomes ``{"image": path}``."""
    if section == _TEST_SECTION and entries and not isinstance(entries[0], dict):
        return [{"image": entry} for entry in entries]
    return list(entries)


def _load_with_monai(file: Path, section: str, data_dir: str | os.PathLike) -> list[dict[str, Any]]:
    from monai.data import load_decathlon_datalist

    try:
        return load_decathlon_datalist(file, is_segmentation=True, data_list_key=section, base_dir=data_dir)
    except Exception as error:  # checked above; anything left is a MONAI change worth naming
        problem = DatalistProblem(section, None, None, str(file), f"load_decathlon_datalist failed ({error})")
        raise DatalistError(str(file), [problem]) from error


def _is_path(value: object) -> bool:
    """A non-empty path, or a non-empty list of them (channels)."""
    if isinstance(value, list):
        return bool(value) and all(_is_path(item) for item in value)
    return isinstance(value, (str, os.PathLike)) and bool(str(value))


def _keep_non_paths(raw: dict[str, Any], loaded: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``loaded``, with the raw value of each key that is not a path, for the entry check to report as given."""
    return {**loaded, **{key: raw[key] for key in keys if key in raw and not _is_path(raw[key])}}


def _resolve_entry(entry: object, data_dir: str | os.PathLike, keys: Sequence[str]) -> object:
    """For a mapping (or a section MONAI refuses): ``keys`` joined to ``data_dir`` as MONAI joins ``"image"``."""
    if not isinstance(entry, Mapping):
        return entry
    resolved = dict(entry)
    for key in keys:
        value = resolved.get(key)
        if _is_path(value):
            paths = value if isinstance(value, list) else [value]
            joined = [os.path.normpath(os.path.join(data_dir, path)) for path in paths]
            resolved[key] = joined if isinstance(value, list) else joined[0]
    return resolved
