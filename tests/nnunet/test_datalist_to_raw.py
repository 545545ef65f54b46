"""``datalist_to_nnunet_raw`` and ``dca-monai-datalist-to-nnunet`` on small synthetic datalists.

The embedded CT dataset (with its DICOM test patient) is converted in ``tests/nnunet/test_trainers.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dca_monai.data.datalist_errors import DatalistError
from dca_monai.nnunet.datalist_to_raw import datalist_to_nnunet_raw, main

AFFINE = np.diag([1.5, 2.0, 2.5, 1.0])


def _volume(path: Path, value: int, dtype: type = np.int16) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.full((5, 4, 3), value, dtype=dtype), AFFINE), path)
    return str(path.relative_to(path.parents[1]))


@pytest.fixture
def datalist(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    content = {
        "labels": {"0": "background", "1": "liver", "2": "spleen"},
        "modality": {"0": "CT", "1": "PET"},
        "training": [
            {
                "image": [_volume(root / "img" / f"a{i}.nii.gz", i), _volume(root / "img" / f"a{i}_pet.nii.gz", 9)],
                "label": _volume(root / "lab" / f"a{i}.nii.gz", i % 3, np.uint8),
            }
            for i in range(2)
        ],
        "validation": [
            {
                "image": [_volume(root / "img" / "v0.nii.gz", 5), _volume(root / "img" / "v0_pet.nii.gz", 9)],
                "label": _volume(root / "lab" / "v0.nii.gz", 2, np.uint8),
            }
        ],
        "test": [{"image": [_volume(root / "img" / "t0.nii", 7), _volume(root / "img" / "t0_pet.nii", 9)]}],
        "description": "synthetic",
    }
    path = root / "datalist.json"
    path.write_text(json.dumps(content))
    return path


def test_writes_nnunet_layout_and_dataset_json(datalist: Path, tmp_path: Path) -> None:
    folder = datalist_to_nnunet_raw(datalist, tmp_path / "raw", 7, "Synthetic")
    assert folder == tmp_path / "raw" / "Dataset007_Synthetic"
    dataset = json.loads((folder / "dataset.json").read_text())
    assert dataset["labels"] == {"background": 0, "liver": 1, "spleen": 2}
    assert dataset["channel_names"] == {"0": "CT", "1": "PET"}
    assert dataset["numTraining"] == 3 and dataset["file_ending"] == ".nii.gz"
    assert dataset["description"] == "synthetic"
    assert sorted(p.name for p in (folder / "imagesTr").iterdir()) == [
        "a0_0000.nii.gz", "a0_0001.nii.gz", "a1_0000.nii.gz", "a1_0001.nii.gz", "v0_0000.nii.gz", "v0_0001.nii.gz"
    ]  # fmt: skip
    assert sorted(p.name for p in (folder / "labelsTr").iterdir()) == ["a0.nii.gz", "a1.nii.gz", "v0.nii.gz"]
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == ["t0_0000.nii.gz", "t0_0001.nii.gz"]
    source = datalist.parent / "img" / "a1.nii.gz"
    assert (folder / "imagesTr" / "a1_0000.nii.gz").read_bytes() == source.read_bytes()  # copied unchanged
    converted = nib.load(folder / "imagesTs" / "t0_0000.nii.gz")  # a plain .nii read and written by MONAI
    assert np.allclose(converted.affine, AFFINE) and converted.shape == (5, 4, 3)
    assert np.all(np.asarray(converted.dataobj) == 7) and converted.get_data_dtype() == np.int16
    assert nib.load(folder / "labelsTr" / "v0.nii.gz").get_fdata().max() == 2


def test_existing_dataset_needs_overwrite(datalist: Path, tmp_path: Path) -> None:
    datalist_to_nnunet_raw(datalist, tmp_path / "raw", 7, "Synthetic")
    with pytest.raises(FileExistsError, match="Dataset007_Synthetic exists"):
        datalist_to_nnunet_raw(datalist, tmp_path / "raw", 7, "Synthetic")
    stale = tmp_path / "raw" / "Dataset007_Synthetic" / "imagesTr" / "stale_0000.nii.gz"
    stale.write_bytes(b"")
    datalist_to_nnunet_raw(datalist, tmp_path / "raw", 7, "Synthetic", test_section=None, overwrite=True)
    assert not stale.exists() and not (tmp_path / "raw" / "Dataset007_Synthetic" / "imagesTs").exists()
    with pytest.raises(ValueError, match=r"dataset_id=7 is taken by .*Dataset007_Synthetic"):
        datalist_to_nnunet_raw(datalist, tmp_path / "raw", 7, "Other")


def test_command_line(datalist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    argv = [str(datalist), "--dataset-id", "12", "--name", "Cli", "--raw-dir", str(raw), "--sections", "training"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(raw / "Dataset012_Cli")
    assert json.loads((raw / "Dataset012_Cli" / "dataset.json").read_text())["numTraining"] == 2


def _edit(datalist: Path, **changes: object) -> Path:
    content = json.loads(datalist.read_text())
    content.update(changes)
    datalist.write_text(json.dumps(content))
    return datalist


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"labels": {"0": "background", "2": "spleen"}}, ValueError, "'labels' is .* consecutive values from \"0\""),
        ({"labels": None}, ValueError, "'labels' is None"),
        ({"modality": {"1": "CT"}}, ValueError, "'modality' has keys \\['1'\\]"),
        ({"modality": {"0": "CT"}}, ValueError, r"training\[0\]\['image'\] has 2 path\(s\) but 'modality' names 1"),
        ({"training": []}, DatalistError, "training"),
        ({"validation": [{"image": ["img/a0.nii.gz", "img/a0_pet.nii.gz"]}]}, ValueError, "both give case name 'a0'"),
        ({"test": [{"image": ["img/missing.nii.gz", "img/t0_pet.nii"]}]}, FileNotFoundError, "missing.nii.gz"),
    ],
)
def test_bad_datalist_names_key_and_expectation(
    datalist: Path, tmp_path: Path, changes: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        datalist_to_nnunet_raw(_edit(datalist, **changes), tmp_path / "raw", 7, "Synthetic")


@pytest.mark.parametrize(("dataset_id", "name"), [(0, "A"), (1000, "A"), (True, "A"), (5, "a b"), (5, "")])
def test_bad_id_or_name(datalist: Path, tmp_path: Path, dataset_id: int, name: str) -> None:
    with pytest.raises(ValueError, match=r"dataset_id=|name="):
        datalist_to_nnunet_raw(datalist, tmp_path / "raw", dataset_id, name)
