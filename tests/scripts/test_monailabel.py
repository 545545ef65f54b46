"""``scripts/monailabel.sh``: a real MONAI Label 0.8.5 server on 127.0.0.1 serving our brain and CT bundles.

The brain bundle goes through ``/train`` then ``/infer``; the CT bundle's ``/infer`` runs its shipped
weights on the unseen CT patient (the TotalSegmentator example DICOM series, as NIfTI) and must
return the five organs.

The module builds ``.venv-monailabel`` through the script (minutes the first time; reused after).
Set ``DCA_MONAI_SKIP_MONAILABEL=1`` only on a machine where that environment cannot be built: the
tests are then skipped with that reason; otherwise a failed build fails them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from dca_monai.apps.brain_dataset import build_brain_dataset
from dca_monai.apps.ct_organ_dataset import write_test_case
from dca_monai.apps.ct_organs import ct_class_names
from dca_monai.metrics import score_label_maps
from tests.bundles.test_ct_shipped_model import MIN_DICE
from tests.scripts.monailabel_server import Server, setup_app, skip_without_monailabel

BUNDLE = "brain_mri_dca_segmentation"
# the CT bundle is served beside it: listed, trainable, and /infer with its shipped weights
CT_BUNDLE = "ct_dca_segmentation"
BUNDLES = f"{BUNDLE},{CT_BUNDLE}"
CT_STUDY = "ct_patient"
# /infer must reach on the unseen patient what the bundle's own inference reaches with the shipped weights (the
# figures of its model card: the organs it finds, MIN_DICE: liver, spleen, aorta and vena cava; not the stomach)
CT_MIN_DICE = MIN_DICE
# CI-sized training and inference in the app's copy of the bundle (a user tunes the copy the same way)
CI_SIZES = {
    "train.json": {"pixdim": 4.0, "roi_size": [32, 32, 32], "num_samples": 1, "batch_size": 1, "num_workers": 0},
    "inference.json": {"pixdim": 4.0, "roi_size": [32, 32, 32]},
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The monaibundle app laid out by the script, with the brain bundle tuned to CI sizes."""
    skip_without_monailabel()
    app = setup_app(tmp_path_factory.mktemp("monailabel") / "monaibundle", BUNDLES)
    configs = app / "model" / BUNDLE / "configs"
    for name, values in CI_SIZES.items():
        config = json.loads((configs / name).read_text())
        config.update(values)
        (configs / name).write_text(json.dumps(config, indent=4))
    return app


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MONAI Label datastore: three labelled brains (``labels/final``) and one unlabelled study."""
    dataset = build_brain_dataset(tmp_path_factory.mktemp("brain"), num_train=3, num_val=0, num_test=1, spacing=4.0)
    content = json.loads(dataset.read_text())
    folder = tmp_path_factory.mktemp("studies")
    (folder / "labels" / "final").mkdir(parents=True)
    for index, entry in enumerate(content["training"]):
        shutil.copy(dataset.parent / entry["image"], folder / f"brain_{index:03d}.nii.gz")
        shutil.copy(dataset.parent / entry["label"], folder / "labels" / "final" / f"brain_{index:03d}.nii.gz")
    shutil.copy(dataset.parent / content["test"][0]["image"], folder / "unlabelled.nii.gz")
    write_ct_study(folder, tmp_path_factory.mktemp("ct_case"))
    return folder


def write_ct_study(studies: Path, scratch: Path) -> None:
    """The unseen CT patient's DICOM series as an unlabelled NIfTI study, its reference label kept in ``scratch``."""
    from monai.transforms import LoadImage

    case = write_test_case(scratch)
    volume = LoadImage(image_only=True)(str(case["image"]))
    nib.save(nib.Nifti1Image(np.asarray(volume, dtype=np.int16), volume.affine.numpy()), studies / f"{CT_STUDY}.nii.gz")
    shutil.copy(case["label"], studies.parent / f"{CT_STUDY}_reference.nii.gz")


@pytest.fixture
def server_factory(app_dir: Path, studies: Path, tmp_path: Path) -> Iterator:
    started: list[Server] = []

    def start() -> Server:
        server = Server(app_dir, ["--studies", str(studies)], BUNDLES, tmp_path / f"server_{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


def test_train_then_infer_round_trip(server_factory, app_dir: Path, studies: Path) -> None:
    models = app_dir / "model" / BUNDLE / "models"
    before = (models / "model.pt").stat().st_mtime if (models / "model.pt").exists() else None

    server = server_factory()
    info = json.loads(server.request("GET", "/info/"))
    assert set(info["trainers"]) == {BUNDLE, "ct_dca_segmentation"}
    assert info["datastore"]["completed"] == 3

    server.request("POST", f"/train/{BUNDLE}?run_sync=true", {"max_epochs": 1, "val_split": 0.34, "device": "cpu"})
    log = server.log_tail()
    assert "val_mean_dice" in server.log.read_text(errors="replace"), log
    assert (models / "model.pt").is_file(), log
    assert before is None or (models / "model.pt").stat().st_mtime > before
    weights = torch.load(models / "model.pt", map_location="cpu", weights_only=True)
    assert any(key.startswith("dca.") for key in weights)  # the DCA network was trained
    # MONAI Label offers every models/*.pt as weights: the resumable state must live elsewhere
    assert sorted(path.name for path in models.glob("*.pt")) == ["model.pt"]
    server.stop()

    # MONAI Label picks up models/model.pt when it starts: a new server serves the trained weights
    server = server_factory()
    info = json.loads(server.request("GET", "/info/"))
    assert info["models"][BUNDLE]["labels"] == {"cerebrospinal fluid": 1, "grey matter": 2, "white matter": 3}
    label_bytes = server.request("POST", f"/infer/{BUNDLE}?image=unlabelled&output=image")
    label_path = app_dir.parent / "label.nii.gz"
    label_path.write_bytes(label_bytes)
    label, image = nib.load(label_path), nib.load(studies / "unlabelled.nii.gz")
    assert label.shape == image.shape
    np.testing.assert_allclose(label.affine, image.affine, atol=1e-4)
    values = np.unique(np.asarray(label.dataobj))
    assert set(values.tolist()) <= {0, 1, 2, 3}
    assert len(values) > 1, "the label holds background only"


def test_ct_bundle_infers_the_organs_with_its_shipped_weights(server_factory, app_dir: Path, studies: Path) -> None:
    organs = ct_class_names()[1:]
    server = server_factory()
    info = json.loads(server.request("GET", "/info/"))
    assert info["models"][CT_BUNDLE]["labels"] == {name: index for index, name in enumerate(organs, start=1)}

    label_bytes = server.request("POST", f"/infer/{CT_BUNDLE}?image={CT_STUDY}&output=image")
    label_path = app_dir.parent / "ct_label.nii.gz"
    label_path.write_bytes(label_bytes)
    found = set(np.unique(np.asarray(nib.load(label_path).dataobj)).astype(int).tolist())
    assert found <= set(range(len(organs) + 1)), found
    assert {organs.index(organ) + 1 for organ in CT_MIN_DICE} <= found, found
    scores = score_label_maps(label_path, studies.parent / f"{CT_STUDY}_reference.nii.gz", len(organs) + 1)
    dice = dict(zip(organs, scores.dice))
    assert all(dice[organ] >= minimum for organ, minimum in CT_MIN_DICE.items()), dice
