"""The CT bundle's inference on a bad DICOM series folder: a clear error naming the folder, nothing written.

The folders are copies of the TotalSegmentator example series (fetched by the set-up) with one
slice duplicated, one slice moved, or a transfer syntax nothing decodes. The check runs in the
bundle's ``initialize``, before the network or a checkpoint is loaded.

The example series as it ships has empty Study, Series, SOP Instance and SOP Class UIDs: a DICOM
SEG cannot reference it, so inference refuses it unless ``--save_dicom_seg False`` asks for the
label NIfTI alone. A SEG that fails after inference (here a folder holds its name) keeps the NIfTI
written before it and ends the command with an error. These runs use a random CI-sized network.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.transforms import LoadImage
from pydicom.uid import MPEG2MPML, generate_uid

from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path
from tests.bundles.bundle_cases import CT
from tests.bundles.bundle_runner import config_files, run_bundle

INFERENCE = config_files("ct_dca_segmentation", "inference.json")


def by_height(folder: Path) -> list[Path]:
    return sorted(
        folder.iterdir(), key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
    )


def duplicate(folder: Path) -> str:
    dataset = pydicom.dcmread(by_height(folder)[4])
    dataset.SOPInstanceUID = generate_uid()
    dataset.save_as(folder / "copy.dcm")
    return "duplicated slice: "


def move(folder: Path) -> str:
    file = by_height(folder)[-1]
    dataset = pydicom.dcmread(file)
    dataset.ImagePositionPatient = [*dataset.ImagePositionPatient[:2], float(dataset.ImagePositionPatient[2]) + 0.8]
    dataset.save_as(file)
    return "uneven slice spacing between "


def undecodable(folder: Path) -> str:
    for file in folder.iterdir():
        dataset = pydicom.dcmread(file)
        dataset.file_meta.TransferSyntaxUID = MPEG2MPML
        dataset.save_as(file)
    return f"have pixel data in transfer syntax {MPEG2MPML} (MPEG2 Main Profile / Main Level) that cannot be decoded"


@pytest.mark.slow
@pytest.mark.parametrize("problem", [duplicate, move, undecodable], ids=["duplicated", "uneven", "undecodable"])
def test_inference_refuses_a_bad_series(tmp_path: Path, problem: Callable[[Path], str]) -> None:
    series = copy_series_with_uids(example_path("dicom_series"), tmp_path / "series")
    expected = problem(series)
    overrides = {"bundle_root": tmp_path / "bundle", "input_path": series, "output_dir": tmp_path / "out"}
    result = run_bundle("run", "--config_file", INFERENCE, overrides=overrides)

    assert result.returncode != 0
    assert f"test[0].image ({series}): " in result.output
    assert expected in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "bundle").exists()


# one 64 x 64 x 16 window covers the 500 x 500 x 40 mm series at 8 mm: the network runs once
ONE_WINDOW = {"pixdim": [8.0, 8.0, 8.0], "roi_size": [64, 64, 16]}


def random_bundle(folder: Path) -> Path:
    """A bundle root whose ``models/model.pt`` holds a random CI-sized network (:data:`CT`'s ``filters``)."""
    (folder / "models").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(CT.network().state_dict(), folder / "models" / "model.pt")
    return folder


def assert_label_map_of(path: Path, series: Path) -> None:
    """``path`` is a 2-class label map on the grid MONAI's reader gives the DICOM folder ``series``."""
    image = LoadImage(image_only=True)(str(series))
    written = nib.load(path)
    assert written.shape == tuple(image.shape) == (512, 512, 20)
    np.testing.assert_allclose(written.affine, image.affine.numpy(), atol=1e-4)
    assert set(np.unique(np.asanyarray(written.dataobj)).tolist()) <= {0, 1}


@pytest.mark.slow
def test_inference_refuses_the_series_as_it_ships_naming_the_empty_uids_and_the_override(tmp_path: Path) -> None:
    shipped = example_path("dicom_series")
    overrides = {"bundle_root": tmp_path / "bundle", "input_path": shipped, "output_dir": tmp_path / "out"}
    result = run_bundle("run", "--config_file", INFERENCE, overrides=overrides)

    assert result.returncode != 0
    error = result.output[result.output.index("DatalistError") :]
    assert error.startswith(
        f"DatalistError: datalist <mapping> has 1 problem(s):\n  - test[0].image ({shipped}): StudyInstanceUID, "
        "SeriesInstanceUID, SOPInstanceUID, SOPClassUID empty or absent in all 20 files; a DICOM SEG cannot "
        "reference a series without them"
    )
    assert "; to write the label map without a DICOM SEG: --save_dicom_seg False" in error
    assert "Traceback" not in result.output  # the problem alone, before any network or checkpoint (none exists)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_save_dicom_seg_false_writes_the_label_map_of_the_series_as_it_ships(tmp_path: Path) -> None:
    shipped = example_path("dicom_series")
    bundle_root = random_bundle(tmp_path / "bundle")
    overrides = CT.overrides(bundle_root, **ONE_WINDOW, input_path=shipped, output_dir=tmp_path / "out")
    run_bundle("run", "--config_file", INFERENCE, overrides={**overrides, "save_dicom_seg": False}).check()

    label_map = tmp_path / "out" / f"{shipped.name}_seg.nii.gz"
    assert [path.name for path in (tmp_path / "out").iterdir()] == [label_map.name]
    assert_label_map_of(label_map, shipped)


@pytest.mark.slow
def test_a_failed_dicom_seg_keeps_the_label_map_and_fails_the_command(tmp_path: Path) -> None:
    series = copy_series_with_uids(example_path("dicom_series"), tmp_path / "series")
    seg = tmp_path / "out" / "series_seg.dcm"
    seg.mkdir(parents=True)  # the SEG cannot take its name
    bundle_root = random_bundle(tmp_path / "bundle")
    overrides = CT.overrides(bundle_root, **ONE_WINDOW, input_path=series, output_dir=tmp_path / "out")
    result = run_bundle("run", "--config_file", INFERENCE, overrides=overrides)

    assert result.returncode != 0
    label_map = tmp_path / "out" / "series_seg.nii.gz"
    assert f"DicomSegWriteError: pred: DICOM SEG {seg} of the series {series} not written (IsADirectoryError" in (
        result.output
    )
    assert f"; the label map {label_map} written before it is kept" in result.output
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [seg.name, label_map.name]
    assert list(seg.iterdir()) == []  # no temporary file left
    assert_label_map_of(label_map, series)


@pytest.mark.slow
def test_lowercase_false_for_save_dicom_seg_stops_with_the_spelling_to_use(tmp_path: Path) -> None:
    overrides = {"bundle_root": tmp_path / "bundle", "input_path": tmp_path / "none", "save_dicom_seg": "false"}
    result = run_bundle("run", "--config_file", INFERENCE, overrides=overrides)

    assert result.returncode != 0
    assert "save_dicom_seg='false' but True or False was expected; on the command line write False" in result.output
