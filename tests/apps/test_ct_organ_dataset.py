from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset, remap_total_labels
from dca_monai.apps.ct_organs import CT_ORGANS, ct_class_names
from dca_monai.apps.totalsegmentator_examples import example_path, total_class_map
from dca_monai.data.datalist_checks import check_datalist
from dca_monai.data.dicom_series import read_dicom_series
from tests.apps.ct_examples import ct_organ_dataset, labels_at_instance_pixels


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ct_organ_dataset(tmp_path_factory)


def test_remap_keeps_the_five_organs_in_order() -> None:
    class_map = total_class_map()
    ids = {name: key for key, name in class_map.items()}
    label = np.array([ids["liver"], ids["spleen"], ids["stomach"], ids["aorta"], ids["inferior_vena_cava"], 2, 0, 117])
    np.testing.assert_array_equal(remap_total_labels(label, class_map), [1, 2, 3, 4, 5, 0, 0, 0])
    assert [organ.name for organ in CT_ORGANS] == ct_class_names()[1:]
    with pytest.raises(ValueError, match="class_map has no 'liver'"):
        remap_total_labels(label, {1: "spleen"})


def test_datalist_sections_pass_the_bundle_check(dataset: Path) -> None:
    datalist = json.loads((dataset / "datalist.json").read_text())
    assert [len(datalist[s]) for s in ("training", "validation", "test")] == [2, 1, 1]
    assert datalist["test"] == [{"image": "dicom/test_000", "label": "labels/test_000.nii.gz"}]
    assert datalist["labels"]["1"] == "liver" and datalist["licence"].startswith("Apache-2.0")
    assert "not manual" in datalist["description"]
    summaries = check_datalist(dataset / "datalist.json", num_classes=6, sections=["training", "validation", "test"])
    for summary in summaries:
        assert summary.label_values == (0, 1, 2, 3, 4, 5)  # every organ in every section
    assert summaries[2].spatial_shapes == ((512, 512, 20),)


def test_training_cases_are_distinct_deformations_of_the_first_patient(dataset: Path) -> None:
    source = nib.load(example_path("ct"))
    first, second = (nib.load(dataset / "images" / f"train_00{i}.nii.gz") for i in (0, 1))
    assert first.shape == source.shape and first.get_data_dtype() == np.int16
    np.testing.assert_allclose(first.affine, source.affine)
    a, b = np.asanyarray(first.dataobj), np.asanyarray(second.dataobj)
    assert not np.array_equal(a, b)
    label = np.asanyarray(nib.load(dataset / "labels" / "train_000.nii.gz").dataobj)
    source_label = remap_total_labels(np.asanyarray(nib.load(example_path("ct_label")).dataobj), total_class_map())
    for organ in range(1, 6):  # deformed, not destroyed: each organ keeps its volume within 25%
        assert 0.75 < (label == organ).sum() / (source_label == organ).sum() < 1.25
    liver = a[label == 1]
    assert -50 < np.median(liver) < 150  # soft tissue HU
    source_air = (np.asanyarray(source.dataobj) < -900).mean()
    assert abs((a < -900).mean() - source_air) < 0.05  # padding is air, as around the body


def test_test_label_is_the_second_patients_label_on_the_series(dataset: Path) -> None:
    series = read_dicom_series(dataset / "dicom" / "test_000")
    label = nib.load(dataset / "labels" / "test_000.nii.gz")
    np.testing.assert_allclose(label.affine, series.affine)
    source = nib.load(example_path("dicom_label"))
    source_classes = remap_total_labels(np.asanyarray(source.dataobj), total_class_map())
    classes = np.asanyarray(label.dataobj)
    for header in series.headers[::6]:  # both label maps read at the instance's pixels, through world coordinates
        expected = labels_at_instance_pixels(source_classes, source.affine, header)
        np.testing.assert_array_equal(labels_at_instance_pixels(classes, label.affine, header), expected)
    assert [int((classes == c).sum()) for c in range(1, 6)] == [int((source_classes == c).sum()) for c in range(1, 6)]


def test_series_copy_fills_the_anonymised_uids(dataset: Path) -> None:
    headers = read_dicom_series(dataset / "dicom" / "test_000").headers
    original = pydicom.dcmread(next(example_path("dicom_series").iterdir()), stop_before_pixels=True)
    assert original.SeriesInstanceUID == "" and original.SOPInstanceUID == ""
    assert len({h.SeriesInstanceUID for h in headers}) == len({h.StudyInstanceUID for h in headers}) == 1
    assert len({h.SOPInstanceUID for h in headers}) == 20
    assert all(h.SOPInstanceUID == h.file_meta.MediaStorageSOPInstanceUID for h in headers)


def test_rebuild_is_skipped_when_up_to_date_and_arguments_are_checked(dataset: Path) -> None:
    datalist = dataset / "datalist.json"
    before = datalist.stat().st_mtime_ns
    assert build_ct_organ_dataset(dataset, num_train=2, num_val=1, seed=0) == datalist
    assert datalist.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="num_train=0 but an int >= 1 was expected"):
        build_ct_organ_dataset(dataset, num_train=0)
