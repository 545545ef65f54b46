"""Reading one datalist file (:mod:`dca_monai.data.datalist_volumes`): DICOM folders as MONAI's ITKReader sees them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data

from dca_monai.data.datalist_checks import check_datalist
from tests.data.datalist_files import DICOM_SERIES, SHAPE, copy_files, labels, problems_of, save, write_nifti


def test_dicom_folders_need_exactly_one_series(tmp_path: Path) -> None:
    testdata = Path(pydicom.data.get_testdata_file("CT_small.dcm", download=False))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no DICOM here")
    two = copy_files([testdata, Path(pydicom.data.get_testdata_file("MR_small.dcm", download=False))], tmp_path / "two")
    one = copy_files(sorted(DICOM_SERIES.iterdir()), tmp_path / "one")

    # the label takes the series' geometry as MONAI's default reader (ITK) loads it
    from monai.transforms import LoadImage

    series = LoadImage(image_only=True)(str(one))
    assert tuple(series.shape) == (16, 16, 5)
    write_nifti(tmp_path / "label_one.nii.gz", labels(shape=(16, 16, 5)), np.asarray(series.affine))
    write_nifti(tmp_path / "label_flipped.nii.gz", labels(shape=(16, 16, 5)), np.diag([0.49, 0.49, 2.5, 1.0]))
    write_nifti(tmp_path / "label_small.nii.gz", labels(shape=SHAPE))
    content = {
        "training": [
            {"image": "one", "label": "label_one.nii.gz"},
            {"image": "empty", "label": "label_small.nii.gz"},
            {"image": "two", "label": "label_small.nii.gz"},
            {"image": "one", "label": "label_flipped.nii.gz"},
        ]
    }
    problems = problems_of(save(tmp_path, content), sections=["training"])
    assert len(problems) == 3
    assert problems[0] == (
        f"training[1].image ({empty}): folder holds no DICOM series (only files directly in the folder are read); "
        "expected one series"
    )
    assert problems[1].startswith(f"training[2].image ({two}): folder holds 2 DICOM series: ")
    assert problems[1].endswith("(1 file); expected exactly one series per folder")
    assert problems[2].startswith(f"training[3].label ({tmp_path / 'label_flipped.nii.gz'}): label affine ")

    content["training"] = content["training"][:1]
    assert check_datalist(save(tmp_path, content), num_classes=3, sections=["training"])[0].spatial_shapes == (
        (16, 16, 5),
    )
