"""End-to-end runs of ``bundles/brain_mri_dca_segmentation`` through ``python -m monai.bundle``, CI-sized.

Every command runs in a subprocess exactly as in the bundle's docs/README.md, with overrides that
shrink it: the demo dataset at 4 mm with 2 training, 1 validation and 1 test case (built once per
session), a network with filters ``[4, 4, 8, 8, 8]``, 32^3 patches and 1-2 epochs.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.networks.nets import DynUNet
from monai.transforms import LoadImage
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from dca_monai.data import build_brain_dataset
from dca_monai.nets import DCADynUNet
from tests.bundles.bundle_runner import (
    SCHEMA,
    TORCHRUN,
    BundleRun,
    bundle_network,
    config_files,
    run_bundle,
    run_python,
)

BUNDLE = "brain_mri_dca_segmentation"
META = config_files(BUNDLE, "metadata.json")
TRAIN = config_files(BUNDLE, "train.json")
EVALUATE = config_files(BUNDLE, "train.json", "evaluate.json")
MULTI_GPU_TRAIN = config_files(BUNDLE, "train.json", "multi_gpu_train.json")
MULTI_GPU_EVALUATE = config_files(BUNDLE, "train.json", "evaluate.json", "multi_gpu_evaluate.json")
INFERENCE = config_files(BUNDLE, "inference.json")

DATA = {"pixdim": 4.0, "num_train": 2, "num_val": 1, "num_test": 1}
NETWORK = {"filters": [4, 4, 8, 8, 8], "roi_size": [32, 32, 32], "sw_batch_size": 2}
TRAINING = {"epochs": 2, "val_interval": 1, "num_samples": 1, "batch_size": 2, "num_workers": 0}
CHECKPOINT_KEYS = {"network", "optimizer", "lr_scheduler", "trainer", "best_model_record", "random_state"}


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CI-sized demo dataset, built once; bundle runs with the same arguments reuse it."""
    folder = tmp_path_factory.mktemp("brain_dataset")
    build_brain_dataset(folder, num_train=2, num_val=1, num_test=1, spacing=4.0)
    return folder


def train_overrides(dataset_dir: Path, bundle_root: Path, **extra: object) -> dict[str, object]:
    return {"bundle_root": bundle_root, "dataset_dir": dataset_dir, **DATA, **NETWORK, **TRAINING, **extra}


@pytest.fixture(scope="module")
def trained(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BundleRun]:
    """A bundle root after the default training command (2 epochs, validation after each)."""
    bundle_root = tmp_path_factory.mktemp("trained")
    result = run_bundle("run", "--config_file", TRAIN, overrides=train_overrides(dataset_dir, bundle_root)).check()
    return bundle_root, result


def tiny_network(dca: bool = True) -> DCADynUNet:
    return bundle_network(4, NETWORK["filters"], dca=dca)


@pytest.mark.slow
def test_train_writes_checkpoints_and_tensorboard(trained: tuple[Path, BundleRun]) -> None:
    bundle_root, result = trained
    assert "val_mean_dice" in result.output

    best = torch.load(bundle_root / "models" / "model.pt", weights_only=True)
    tiny_network().load_state_dict(best)  # the best model holds the bare weights of network_def
    last = torch.load(bundle_root / "checkpoints" / "last.pt", weights_only=True)
    assert set(last) == CHECKPOINT_KEYS
    assert last["trainer"]["iteration"] == 2  # 2 epochs of 1 batch of 2 cases
    assert len(last["best_model_record"]["_saved"]) == 1
    assert sorted(path.name for path in (bundle_root / "models").iterdir()) == [
        "model.pt"
    ]  # MONAI Label takes any *.pt there
    assert sorted(path.name for path in (bundle_root / "checkpoints").iterdir()) == ["last.pt"]
    assert list((bundle_root / "eval").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_interrupted_training_resumes_from_last_checkpoint(dataset_dir: Path, tmp_path: Path) -> None:
    overrides = train_overrides(dataset_dir, tmp_path)
    # an interruption after epoch 1 of 2: the trainer stops there, schedule and state are those of a 2-epoch run
    run_bundle("run", "--config_file", TRAIN, overrides={**overrides, "train#trainer#max_epochs": 1}).check()
    interrupted = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert interrupted["trainer"]["iteration"] == 1

    resumed = run_bundle("run", "--config_file", TRAIN, overrides={**overrides, "resume": True}).check()

    assert f"Restored all variables from {tmp_path / 'checkpoints' / 'last.pt'}" in resumed.output
    assert "Epoch: 1/2" not in resumed.output
    assert "Epoch: 2/2" in resumed.output
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert last["trainer"]["iteration"] == 2
    assert last["lr_scheduler"]["last_epoch"] == 2
    # AdamW counted the steps of both runs: the optimizer state was restored, not restarted
    assert {float(state["step"]) for state in last["optimizer"]["state"].values()} == {2.0}


@pytest.mark.slow
def test_evaluate_writes_per_case_metrics_and_overlays(
    trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    overrides = {"bundle_root": bundle_root, "dataset_dir": dataset_dir, "output_dir": tmp_path, **DATA, **NETWORK}
    result = run_bundle("run", "--config_file", EVALUATE, overrides={**overrides, "eval_section": "test"}).check()

    assert "val_hd95" in result.output
    rows = (tmp_path / "val_mean_dice_raw.csv").read_text().splitlines()
    assert rows[0] == "filename,class0,class1,class2,mean"  # CSF, grey matter, white matter
    assert len(rows) == 2 and rows[1].split(",")[0].endswith("test_000.nii.gz")
    assert (tmp_path / "val_hd95_raw.csv").read_text().startswith("filename,class0,class1,class2,mean")
    for name in ("overlay_best.png", "overlay_worst.png"):
        with Image.open(tmp_path / name) as figure:
            assert figure.format == "PNG" and figure.width > 3 * figure.height // 2


@pytest.mark.slow
def test_inference_on_nifti_returns_labels_in_the_input_space(
    trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    # another orientation and voxel size than the network's (4 mm RAS): inference must resample and map back
    source = nib.load(dataset_dir / "images" / "test_000.nii.gz")
    affine = np.diag([-3.5, 4.0, 4.5, 1.0])
    affine[:3, 3] = (80.0, -120.0, -90.0)
    nib.save(nib.Nifti1Image(np.asanyarray(source.dataobj), affine), tmp_path / "subject.nii.gz")

    overrides = {"bundle_root": bundle_root, "input_path": tmp_path / "subject.nii.gz", "output_dir": tmp_path / "out"}
    run_bundle("run", "--config_file", INFERENCE, overrides={**overrides, **DATA, **NETWORK}).check()

    assert [path.name for path in (tmp_path / "out").iterdir()] == ["subject_seg.nii.gz"]
    output = nib.load(tmp_path / "out" / "subject_seg.nii.gz")
    assert output.shape == source.shape
    assert np.allclose(output.affine, affine)
    assert set(np.unique(np.asanyarray(output.dataobj))) <= {0, 1, 2, 3}


def write_dicom_series(nifti: Path, folder: Path) -> None:
    """One MR DICOM file per slice along the third axis of ``nifti``, geometry taken from its affine."""
    image = nib.load(nifti)
    data = np.asanyarray(image.dataobj).astype(np.int16)
    lps = np.diag([-1.0, -1.0, 1.0])  # DICOM patient coordinates are LPS, NIfTI's RAS
    axes = lps @ image.affine[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    folder.mkdir(parents=True)
    for k in range(data.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientName, ds.PatientID = "MR", "Demo^Brain", "demo"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in lps @ (image.affine @ [0, 0, k, 1])[:3]]
        directions = (*(axes[:, 0] / spacing[0]), *(axes[:, 1] / spacing[1]))  # along a row (i), down a column (j)
        ds.ImageOrientationPatient = [round(float(v), 6) for v in directions]
        ds.PixelSpacing = [round(float(spacing[1]), 4), round(float(spacing[0]), 4)]
        ds.SliceThickness = round(float(spacing[2]), 4)
        ds.Rows, ds.Columns = data.shape[1], data.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.ascontiguousarray(data[:, :, k].T).tobytes()  # rows follow j, columns i
        if int(pydicom.__version__.split(".")[0]) >= 3:
            ds.save_as(folder / f"slice_{k:03d}.dcm", enforce_file_format=True)
        else:
            ds.is_little_endian, ds.is_implicit_VR = True, False
            ds.save_as(folder / f"slice_{k:03d}.dcm", write_like_original=False)


@pytest.mark.slow
def test_inference_checks_its_input_before_loading_the_network(trained: tuple[Path, BundleRun], tmp_path: Path) -> None:
    bundle_root, _ = trained
    missing = tmp_path / "no_such_subject.nii.gz"
    overrides = {"bundle_root": bundle_root, "input_path": missing, "output_dir": tmp_path / "out"}
    result = run_bundle("run", "--config_file", INFERENCE, overrides={**overrides, **DATA, **NETWORK})
    assert result.returncode != 0
    assert f"test[0].image ({missing}): file not found" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_inference_on_dicom_folder_returns_labels_in_the_series_space(
    trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    write_dicom_series(dataset_dir / "images" / "test_000.nii.gz", tmp_path / "series_001")
    series = LoadImage(image_only=True)(str(tmp_path / "series_001"))

    overrides = {"bundle_root": bundle_root, "input_path": tmp_path / "series_001", "output_dir": tmp_path / "out"}
    run_bundle("run", "--config_file", INFERENCE, overrides={**overrides, **DATA, **NETWORK}).check()

    output = nib.load(tmp_path / "out" / "series_001_seg.nii.gz")
    assert output.shape == tuple(series.shape)
    assert np.allclose(output.affine, series.affine.numpy())


@pytest.mark.slow
def test_verify_metadata() -> None:
    result = run_bundle("verify_metadata", "--meta_file", META, "--filepath", str(SCHEMA)).check()
    assert "metadata is verified with no error" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("dca", [True, False])
def test_verify_net_in_out(dca: bool) -> None:
    overrides = {"network_def#dca": dca}
    result = run_bundle(
        "verify_net_in_out", "network_def", "--meta_file", META, "--config_file", TRAIN, overrides=overrides
    )
    assert "data shape of network is verified with no error" in result.check().output


@pytest.mark.slow
def test_torchscript_export_matches_the_eager_network(trained: tuple[Path, BundleRun], tmp_path: Path) -> None:
    bundle_root, _ = trained
    exported = tmp_path / "model.ts"
    run_bundle(
        "ckpt_export",
        "network_def",
        "--filepath",
        str(exported),
        "--ckpt_file",
        str(bundle_root / "models" / "model.pt"),
        "--meta_file",
        META,
        "--config_file",
        TRAIN,
        overrides={"filters": NETWORK["filters"]},
    ).check()

    torch.manual_seed(0)
    torch.save(torch.rand(1, 1, 32, 32, 32), tmp_path / "input.pt")
    script = (
        "import sys, torch\n"
        "net = torch.jit.load(sys.argv[1]).eval()\n"
        "with torch.no_grad():\n"
        "    torch.save(net(torch.load(sys.argv[2], weights_only=True)), sys.argv[3])\n"
    )
    run_python(script, exported, tmp_path / "input.pt", tmp_path / "output.pt").check()

    eager = tiny_network().eval()
    eager.load_state_dict(torch.load(bundle_root / "models" / "model.pt", weights_only=True))
    with torch.no_grad():
        expected = eager(torch.load(tmp_path / "input.pt", weights_only=True))
    torch.testing.assert_close(torch.load(tmp_path / "output.pt", weights_only=True), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(dataset_dir: Path, tmp_path: Path) -> None:
    launcher = (str(TORCHRUN), "--standalone", "--nproc_per_node=2")
    train = run_bundle(
        "run", "--config_file", MULTI_GPU_TRAIN, overrides=train_overrides(dataset_dir, tmp_path), launcher=launcher
    ).check()

    assert train.output.count("Epoch[2] Metrics -- val_mean_dice") == 1  # only rank 0 logs
    writers = {path.name.split(".")[-2] for path in (tmp_path / "eval").glob("events.out.tfevents.*")}
    assert len(writers) == 1  # TensorBoard files of one process (the name holds its pid)
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert last["trainer"]["iteration"] == 2  # each rank trains on its own training case
    assert not any(key.startswith("module.") for key in last["network"])

    # evaluation split over 2 processes: each scores one of the two training cases, rank 0 writes all rows
    overrides = {**DATA, **NETWORK, "bundle_root": tmp_path, "dataset_dir": dataset_dir, "eval_section": "training"}
    run_bundle("run", "--config_file", MULTI_GPU_EVALUATE, overrides=overrides, launcher=launcher).check()
    rows = (tmp_path / "eval" / "val_mean_dice_raw.csv").read_text().splitlines()
    assert sorted(row.split(",")[0].rsplit("/", 1)[-1] for row in rows[1:]) == ["train_000.nii.gz", "train_001.nii.gz"]


@pytest.mark.slow
def test_dca_off_trains_a_plain_dynunet(dataset_dir: Path, tmp_path: Path) -> None:
    overrides = train_overrides(dataset_dir, tmp_path, epochs=1, **{"network_def#dca": False})
    # the zoo's "run training" form: the "training" id runs the same expressions as "run"
    run_bundle("run", "training", "--config_file", TRAIN, overrides=overrides).check()

    weights = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert not any(key.startswith("dca.") for key in weights)
    plain = DynUNet(3, 1, 4, [3] * 5, [1, 2, 2, 2, 2], [2, 2, 2, 2], filters=NETWORK["filters"], norm_name="instance")
    plain.load_state_dict(weights)  # strict: exactly MONAI's DynUNet


@pytest.mark.slow
def test_lowercase_false_on_the_command_line_stops_with_the_spelling_to_use(dataset_dir: Path, tmp_path: Path) -> None:
    # fire passes "false" as a string, which Python would treat as true: the network refuses it
    overrides = train_overrides(dataset_dir, tmp_path, epochs=1, **{"network_def#dca": "false"})
    result = run_bundle("run", "--config_file", TRAIN, overrides=overrides)

    assert result.returncode != 0
    assert "dca='false' but True or False was expected; on the command line write False, capitalized" in result.output
    assert "Epoch" not in result.output


@pytest.mark.slow
def test_missing_file_fails_before_training(dataset_dir: Path, tmp_path: Path) -> None:
    datalist = (dataset_dir / "datalist.json").read_text()
    (tmp_path / "datalist.json").write_text(
        datalist.replace('"images/', f'"{dataset_dir}/images/')
        .replace('"labels/', f'"{dataset_dir}/labels/')
        .replace(f'"{dataset_dir}/images/train_001.nii.gz"', '"images/missing.nii.gz"')
    )
    overrides = {**train_overrides(dataset_dir, tmp_path / "run"), "datalist": tmp_path / "datalist.json"}
    result = run_bundle("run", "--config_file", TRAIN, overrides=overrides)

    assert result.returncode != 0
    assert "DatalistError" in result.output
    assert f"training[1].image ({tmp_path / 'images' / 'missing.nii.gz'}): file not found" in result.output
    assert "Epoch" not in result.output
    assert not (tmp_path / "run").exists()
