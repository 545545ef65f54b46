"""The CT bundle's inference on a bad DICOM series folder: a clear error naming the folder, nothing written.

The folders are copies of the TotalSegmentator example series (fetched by the set-up) with one
slice duplicated, one slice moved, or a transfer syntax nothing decodes. The check runs in the
bundle's ``initialize``, before the network or a checkpoint is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import MPEG2MPML, generate_uid

from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path
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
