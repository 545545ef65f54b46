"""Convert a MONAI / Medical Segmentation Decathlon datalist to an nnU-Net v2 raw dataset.

The datalist is the JSON that MONAI's ``load_decathlon_datalist`` and this project's bundles read:
sections of ``{"image": path-or-list-of-channel-paths, "label": path}`` entries with paths relative
to its folder, ``"labels"`` (``{"0": "background", "1": "liver", ...}``) and ``"modality"``
(``{"0": "CT"}``, nnU-Net's channel names: ``"CT"`` selects its CT normalisation). The output is
``raw_dir/DatasetXXX_NAME/`` with ``imagesTr/{case}_{channel:04d}.nii.gz``, ``labelsTr/{case}.nii.gz``,
``imagesTs/`` for the unlabelled section and ``dataset.json``. Every labelled section given goes to
``imagesTr``: nnU-Net makes its own cross-validation folds.

Case names are the image file names without extension (a DICOM folder's name for a series); gzipped
NIfTI files are copied byte for byte, anything else MONAI's ``LoadImage`` reads (a DICOM series
folder, NRRD, MHA, plain NIfTI) is written as gzipped NIfTI with its affine. Files are written
atomically and ``dataset.json`` last. Label values are not scanned here: run
``nnUNetv2_plan_and_preprocess --verify_dataset_integrity`` for that.

Command line (``dca-monai-datalist-to-nnunet``)::

    dca-monai-datalist-to-nnunet DATALIST --dataset-id 501 --name CTOrgans [--raw-dir $nnUNet_raw]
        [--sections training validation] [--test-section test] [--data-dir DIR] [--overwrite]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dca_monai.data.datalist_errors import DatalistError
from dca_monai.data.datalist_sections import load_datalist_sections
from dca_monai.utils.atomic_file import atomic_path, write_bytes_atomic

__all__ = ["datalist_to_nnunet_raw", "main"]

_FILE_ENDING = ".nii.gz"
_CASE_FOLDERS = ("imagesTr", "labelsTr", "imagesTs")


def datalist_to_nnunet_raw(
    datalist: str | os.PathLike,
    raw_dir: str | os.PathLike,
    dataset_id: int,
    name: str,
    sections: Sequence[str] = ("training", "validation"),
    test_section: str | None = "test",
    data_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the nnU-Net raw dataset ``raw_dir/Dataset{dataset_id:03d}_{name}`` and return its folder.

    Args:
        datalist: the JSON datalist; it must hold ``"labels"`` (value -> class name, ``"0"`` the
            background) and ``"modality"`` (channel index -> name).
        raw_dir: nnU-Net's raw folder (``$nnUNet_raw``); created when missing.
        dataset_id: nnU-Net's dataset id, 1 to 999; no other dataset in ``raw_dir`` may have it.
        name: dataset name, letters, digits, ``_`` and ``-``.
        sections: labelled sections to put in ``imagesTr``/``labelsTr``; a missing one other than
            ``"training"`` is skipped.
        test_section: unlabelled section for ``imagesTs`` (its labels, if any, are not copied), or
            ``None``; skipped when the datalist lacks it.
        data_dir: folder that relative paths start from; the datalist's folder by default.
        overwrite: replace the dataset's case folders and ``dataset.json`` when they exist.

    Returns:
        The dataset folder.

    Raises:
        DatalistError: when the datalist cannot be read or ``"training"`` is missing or empty.
        ValueError: when an argument, ``"labels"``, ``"modality"`` or an entry is not as expected, two
            cases get the same name, or another dataset has ``dataset_id``.
        FileExistsError: when the dataset exists and ``overwrite`` is false.
        FileNotFoundError: when an image or label file does not exist.
    """
    if isinstance(dataset_id, bool) or not isinstance(dataset_id, int) or not 1 <= dataset_id <= 999:
        raise ValueError(f"dataset_id={dataset_id!r} but an int from 1 to 999 was expected")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name or ""):
        raise ValueError(f"name={name!r} but letters, digits, '_' and '-' were expected")
    content = _read_json(Path(datalist))
    labels = _nnunet_labels(datalist, content.get("labels"))
    channels = _channel_names(datalist, content.get("modality"))
    wanted = [s for s in sections if s == "training" or s in content]
    test_sections = [test_section] if test_section is not None and test_section in content else []
    loaded = load_datalist_sections(datalist, data_dir, wanted + test_sections)
    if loaded.problems:
        raise DatalistError(loaded.name, list(loaded.problems))

    raw_dir = Path(raw_dir)
    folder = raw_dir / f"Dataset{dataset_id:03d}_{name}"
    _check_id_free(raw_dir, dataset_id, folder)
    if folder.exists() and any((folder / sub).exists() for sub in (*_CASE_FOLDERS, "dataset.json")):
        if not overwrite:
            raise FileExistsError(f"{folder} exists; pass overwrite=True (--overwrite) to replace it")
        (folder / "dataset.json").unlink(missing_ok=True)
        for sub in _CASE_FOLDERS:
            shutil.rmtree(folder / sub, ignore_errors=True)

    training = [(s, i, e) for s in wanted for i, e in enumerate(loaded.entries[s])]
    testing = [(s, i, e) for s in test_sections for i, e in enumerate(loaded.entries[s])]
    names = _case_names(datalist, training + testing)
    for sub in ("imagesTr", "labelsTr") + (("imagesTs",) if testing else ()):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for number, ((section, index, entry), case) in enumerate(zip(training + testing, names)):
        where = f"{datalist}: {section}[{index}]"
        labelled = number < len(training)
        images = folder / ("imagesTr" if labelled else "imagesTs")
        for channel, path in enumerate(_channel_paths(where, entry, len(channels))):
            _write_nifti(path, images / f"{case}_{channel:04d}{_FILE_ENDING}")
        if labelled:
            label = entry.get("label") if isinstance(entry, dict) else None
            if not isinstance(label, (str, os.PathLike)):
                raise ValueError(f"{where}['label']={label!r} but a path was expected in a labelled section")
            _write_nifti(Path(label), folder / "labelsTr" / f"{case}{_FILE_ENDING}")

    description = {key: content[key] for key in ("description", "reference", "licence", "release") if key in content}
    dataset_json = {
        "name": name,
        **description,
        "channel_names": channels,
        "labels": labels,
        "numTraining": len(training),
        "file_ending": _FILE_ENDING,
        "converted_from": {"datalist": str(Path(datalist).resolve()), "sections": wanted},
    }
    write_bytes_atomic(folder / "dataset.json", (json.dumps(dataset_json, indent=2) + "\n").encode())
    return folder


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found; expected a JSON datalist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as JSON ({error})") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path}: holds a JSON {type(content).__name__}; expected an object with sections")
    return content


def _nnunet_labels(datalist: str | os.PathLike, labels: Any) -> dict[str, int]:
    """Decathlon ``{"0": "background", "1": "liver"}`` -> nnU-Net ``{"background": 0, "liver": 1}``."""
    expected = 'an object of consecutive values from "0" (the background) to class names'
    if not isinstance(labels, dict) or not labels:
        raise ValueError(f"{datalist}: 'labels' is {labels!r}; expected {expected}")
    try:
        by_value = {int(value): str(label) for value, label in labels.items()}
    except ValueError:
        raise ValueError(f"{datalist}: 'labels' has keys {sorted(labels)}; expected {expected}") from None
    if sorted(by_value) != list(range(len(by_value))) or len(set(by_value.values())) != len(by_value):
        raise ValueError(f"{datalist}: 'labels' is {labels!r}; expected {expected}, names unique")
    return {("background" if value == 0 else label): value for value, label in sorted(by_value.items())}


def _channel_names(datalist: str | os.PathLike, modality: Any) -> dict[str, str]:
    expected = 'an object of channel indices from "0" to names such as "CT" or "T1"'
    if not isinstance(modality, dict) or not modality:
        raise ValueError(f"{datalist}: 'modality' is {modality!r}; expected {expected}")
    keys = sorted(modality, key=lambda k: int(k) if str(k).isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise ValueError(f"{datalist}: 'modality' has keys {keys}; expected {expected}")
    return {key: str(modality[key]) for key in keys}


def _channel_paths(where: str, entry: Any, num_channels: int) -> list[Path]:
    image = entry.get("image") if isinstance(entry, dict) else None
    paths = image if isinstance(image, list) else [image]
    if not all(isinstance(p, (str, os.PathLike)) and str(p) for p in paths):
        raise ValueError(f"{where}['image']={image!r} but a path or a list of one path per channel was expected")
    if len(paths) != num_channels:
        raise ValueError(f"{where}['image'] has {len(paths)} path(s) but 'modality' names {num_channels} channel(s)")
    return [Path(p) for p in paths]


def _case_names(datalist: str | os.PathLike, cases: list[tuple[str, int, Any]]) -> list[str]:
    names: dict[str, str] = {}
    result = []
    for section, index, entry in cases:
        image = entry.get("image") if isinstance(entry, dict) else None
        first = Path(image[0] if isinstance(image, list) and image else str(image))
        case = re.sub(r"(_0000)?(\.nii\.gz|\.nii|\.nrrd|\.mha|\.mhd|\.dcm)$", "", first.name)
        where = f"{section}[{index}]"
        if case in names:
            raise ValueError(
                f"{datalist}: {where} and {names[case]} both give case name {case!r} (from the image file names); "
                "expected unique image names"
            )
        names[case] = where
        result.append(case)
    return result


def _check_id_free(raw_dir: Path, dataset_id: int, folder: Path) -> None:
    if not raw_dir.is_dir():
        return
    for other in raw_dir.glob(f"Dataset{dataset_id:03d}_*"):
        if other != folder:
            raise ValueError(f"dataset_id={dataset_id} is taken by {other}; expected an id no other dataset uses")


def _write_nifti(source: Path, target: Path) -> None:
    if not source.exists():
        raise FileNotFoundError(f"{source}: not found; expected an image or label file (or a DICOM series folder)")
    if source.is_file() and source.name.endswith(_FILE_ENDING):
        with atomic_path(target, suffix=".tmp" + _FILE_ENDING) as temp:
            shutil.copyfile(source, temp)
        return
    import nibabel as nib
    import numpy as np
    from monai.transforms import LoadImage

    image = LoadImage(image_only=True, dtype=None)(str(source))  # (X, Y, Z) in RAS, its own dtype
    volume = nib.Nifti1Image(np.asarray(image), np.asarray(image.affine, dtype=np.float64))
    volume.set_qform(volume.affine, code=1)
    volume.set_sform(volume.affine, code=1)
    with atomic_path(target, suffix=".tmp" + _FILE_ENDING) as temp:
        nib.save(volume, temp)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry ``dca-monai-datalist-to-nnunet``; prints the dataset folder."""
    parser = argparse.ArgumentParser(
        prog="dca-monai-datalist-to-nnunet",
        description="Convert a MONAI/Decathlon datalist to an nnU-Net v2 raw dataset (imagesTr, labelsTr, imagesTs).",
    )
    parser.add_argument("datalist", type=Path, help="the JSON datalist")
    parser.add_argument("--dataset-id", type=int, required=True, help="nnU-Net dataset id, 1 to 999")
    parser.add_argument("--name", required=True, help="dataset name (DatasetXXX_NAME)")
    parser.add_argument("--raw-dir", type=Path, default=None, help="nnU-Net raw folder; $nnUNet_raw by default")
    parser.add_argument("--sections", nargs="+", default=["training", "validation"], help="labelled sections")
    parser.add_argument("--test-section", default="test", help="unlabelled section for imagesTs ('' for none)")
    parser.add_argument("--data-dir", type=Path, default=None, help="base of relative paths; the datalist's folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    args = parser.parse_args(argv)
    raw_dir = args.raw_dir or os.environ.get("nnUNet_raw")
    if not raw_dir:
        parser.error("--raw-dir is required when nnUNet_raw is not set")
    folder = datalist_to_nnunet_raw(
        args.datalist,
        raw_dir,
        args.dataset_id,
        args.name,
        sections=args.sections,
        test_section=args.test_section or None,
        data_dir=args.data_dir,
        overwrite=args.overwrite,
    )
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
