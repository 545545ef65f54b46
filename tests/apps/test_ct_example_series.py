from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from dca_monai.apps.ct_example_series import main, write_ct_example_series
from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path


def _read(folder: Path) -> dict[str, pydicom.Dataset]:
    return {file.name: pydicom.dcmread(file) for file in sorted(folder.glob("*.dcm"))}


@pytest.fixture(scope="module")
def repaired(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pydicom.Dataset]:
    return _read(copy_series_with_uids(example_path("dicom_series"), tmp_path_factory.mktemp("dataset_copy")))


def test_series_has_the_dataset_builders_uids(tmp_path: Path, repaired) -> None:
    written = _read(write_ct_example_series(tmp_path / "series"))
    assert written.keys() == repaired.keys() and len(written) == 20
    for name, dataset in written.items():
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            assert dataset[keyword].value == repaired[name][keyword].value != ""


def test_decompressed_series_keeps_instances_and_pixels(tmp_path: Path, repaired) -> None:
    assert main(["--output-dir", str(tmp_path / "series"), "--decompress"]) == 0
    written = _read(tmp_path / "series")
    for name, dataset in written.items():
        assert dataset.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert repaired[name].file_meta.TransferSyntaxUID != ExplicitVRLittleEndian
        assert dataset.SOPInstanceUID == repaired[name].SOPInstanceUID  # a lossless change keeps the instance
        np.testing.assert_array_equal(dataset.pixel_array, repaired[name].pixel_array)
