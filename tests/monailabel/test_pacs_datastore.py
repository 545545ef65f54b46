"""``dca_monai.monailabel.pacs_datastore`` in MONAI Label's environment, with a fake DICOMweb client.

The module imports MONAI Label, so the checks run in ``.venv-monailabel`` (built through
``scripts/monailabel.sh`` the first time); the end-to-end run against Orthanc is
``tests/scripts/test_pacs.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pydicom
import pytest

from dca_monai.apps.ct_example_series import write_ct_example_series
from tests.scripts.monailabel_server import REPO_ROOT, setup_app, skip_without_monailabel

pytestmark = pytest.mark.slow

CHECKS = r"""
import json, os, sys, tempfile
import nibabel as nib, numpy as np, pydicom, requests
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from dca_monai.monailabel.pacs_datastore import PacsDatastore

series_dir, work = sys.argv[1], sys.argv[2]


class FakeClient:
    base_url = "http://pacs.test/dicom-web"

    def __init__(self, answer, found):
        self.answer, self.found = answer, found

    def store_instances(self, datasets):
        self.stored = datasets[0]
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer(datasets[0])

    def search_for_instances(self, search_filters):
        return [{"00080018": {"vr": "UI", "Value": [search_filters["SOPInstanceUID"]]}}] if self.found else []


def stored(dataset):
    item = Dataset()
    item.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
    answer = Dataset()
    answer.ReferencedSOPSequence = [item]
    return answer


def failed(dataset):
    item = Dataset()
    item.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
    item.FailureReason = 272
    answer = Dataset()
    answer.FailedSOPSequence = [item]
    return answer


seg = pydicom.dcmread(sorted(os.path.join(series_dir, f) for f in os.listdir(series_dir))[0])
seg.SOPInstanceUID = generate_uid()
seg.SeriesInstanceUID = generate_uid()
seg.FrameOfReferenceUID = generate_uid()  # as pydicom-seg writes it
seg_file = os.path.join(work, "seg.dcm")
results = {}
for case, answer, found in [
    ("stored", stored, True),
    ("stored_but_not_found", stored, False),
    ("failed", failed, True),
    ("connection", requests.exceptions.ConnectionError("refused"), True),
]:
    seg.save_as(seg_file)
    client = FakeClient(answer, found)
    store = PacsDatastore(client, {"Modality": "CT"}, lambda model: (model, {}), cache_path=os.path.join(work, case))
    uid, error = store._store(seg_file, series_dir)
    frame = str(getattr(client, "stored", Dataset()).get("FrameOfReferenceUID", ""))
    results[case] = {"uid": uid, "error": error, "frame": frame, "seg_series": str(seg.SeriesInstanceUID)}

label = np.zeros((4, 4, 3), dtype=np.uint8)
label[1, 1, 1], label[2, 2, 2] = 2, 5
label_file = os.path.join(work, "label.nii.gz")
nib.save(nib.Nifti1Image(label, np.eye(4)), label_file)
names = {1: "liver", 2: "spleen", 5: "my structure"}
store = PacsDatastore(FakeClient(stored, True), {}, lambda model: (model or "ct", names), os.path.join(work, "seg"))
results["attributes"] = store._segment_attributes(label_file, None)
label[0, 0, 0] = 3
nib.save(nib.Nifti1Image(label, np.eye(4)), label_file)
try:
    store._segment_attributes(label_file, "ct")
    results["unknown_value"] = ""
except ValueError as error:
    results["unknown_value"] = str(error)
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    skip_without_monailabel()
    setup_app(tmp_path_factory.mktemp("app") / "monaibundle", "ct_dca_segmentation")  # builds the environment
    series_dir = write_ct_example_series(tmp_path_factory.mktemp("series"), decompress=True)
    work = tmp_path_factory.mktemp("work")
    script = work / "checks.py"
    script.write_text(CHECKS)
    done = subprocess.run(
        [str(REPO_ROOT / ".venv-monailabel" / "bin" / "python"), str(script), str(series_dir), str(work)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    outcome = json.loads(lines[-1][len("RESULTS ") :])
    outcome["source_frame"] = str(pydicom.dcmread(next(Path(series_dir).glob("*.dcm"))).FrameOfReferenceUID)
    return outcome


def test_stored_seg_takes_the_source_frame_of_reference(results: dict) -> None:
    case = results["stored"]
    assert case["error"] == "" and case["uid"] == case["seg_series"]
    assert case["frame"] == results["source_frame"] != ""


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("stored_but_not_found", "QIDO-RS finds no such instance"),
        ("failed", "Failure Reason 272"),
        ("connection", "ConnectionError: refused"),
    ],
)
def test_a_seg_the_pacs_does_not_hold_is_an_error(results: dict, case: str, words: str) -> None:
    assert results[case]["uid"] == ""
    assert words in results[case]["error"]


def test_segments_are_coded_by_label_value(results: dict) -> None:
    attributes = results["attributes"]
    assert attributes[0]["model_name"] == "ct"  # the SEG's series description
    coded = [
        (item["segmentAttribute"]["labelID"], item["segmentAttribute"]["SegmentLabel"])
        + (item["segmentAttribute"]["SegmentedPropertyTypeCodeSequence"]["CodeValue"],)
        for item in attributes
    ]
    assert coded == [(2, "Spleen", "78961009"), (5, "my structure", "85756007")]
    assert "label value 3 is not a class" in results["unknown_value"]
