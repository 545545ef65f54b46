"""End-to-end runs of ``bundles/ct_dca_segmentation`` through ``python -m monai.bundle``, CI-sized.

The bundle is a template for the user's own CT data, so the tests build such data from the real
CT files that ship with pydicom: NIfTI volumes stacked from resampled, rotated and scaled copies of
``CT_small.dcm`` (an axial slice through a vertebra), stored in two orientations and voxel sizes,
and a training case that is a folder of three slices of a real CT series (``CT2``). The 2-class
task is bone (>= 200 HU) against everything else. Every command runs in a subprocess as in the
bundle's docs/README.md, shrunk by overrides: 3 mm voxels, 32^3 patches, filters
``[4, 4, 8, 8, 8]``, 1 epoch.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pydicom.data
import pytest
import torch
import torch.nn.functional as F
from monai.networks.nets import DynUNet
from monai.transforms import LoadImage
from PIL import Image

from dca_monai.nets import DCADynUNet
from tests.bundles.bundle_runner import SCHEMA, TORCHRUN, BundleRun, bundle_network, config_files, run_bundle

BUNDLE = "ct_dca_segmentation"
META = config_files(BUNDLE, "metadata.json")
TRAIN = config_files(BUNDLE, "train.json")
EVALUATE = config_files(BUNDLE, "train.json", "evaluate.json")
INFERENCE = config_files(BUNDLE, "inference.json")
MULTI_GPU_TRAIN = config_files(BUNDLE, "train.json", "multi_gpu_train.json")
MULTI_GPU_EVALUATE = config_files(BUNDLE, "train.json", "evaluate.json", "multi_gpu_evaluate.json")

PYDICOM_FILES = Path(pydicom.data.get_testdata_file("CT_small.dcm", download=False)).parent
CT_SLICE = PYDICOM_FILES / "CT_small.dcm"
# three contiguous slices (1.25 mm apart) of a real CT series; the series' fourth file lies 200 mm away
CT2_SLICES = [PYDICOM_FILES / "dicomdirtests" / "77654033" / "CT2" / name for name in ("17136", "17166", "17196")]
# a whole real CT series: 5 slices, 2.5 mm apart
CT5N_SERIES = PYDICOM_FILES / "dicomdirtests" / "98892001" / "CT5N"
BONE_HU = 200

NETWORK = {"filters": [4, 4, 8, 8, 8], "roi_size": [32, 32, 32], "sw_batch_size": 2, "pixdim": [3.0, 3.0, 3.0]}
TRAINING = {"epochs": 1, "val_interval": 1, "num_samples": 1, "batch_size": 2, "num_workers": 0}
CHECKPOINT_KEYS = {"network", "optimizer", "lr_scheduler", "trainer", "best_model_record", "random_state"}


def hounsfield_slice() -> np.ndarray:
    """``CT_small.dcm`` in Hounsfield units, ``(rows, columns)`` = 128 x 128 at 0.66 mm."""
    dataset = pydicom.dcmread(CT_SLICE)
    return dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)


def stacked_volume(rng: np.random.Generator, size: int, num_slices: int) -> np.ndarray:
    """A CT volume ``(columns, rows, slices)`` in HU, stored as DICOM does: the slice turned, scaled, shifted.

    The field of view stays that of the slice (84.7 mm), sampled on ``size`` x ``size`` pixels; each
    case draws its own turn, scale and shift, and along the stack the slice twists and shrinks
    towards both ends, so the anatomy changes from slice to slice. Outside the slice is air.
    """
    source = torch.as_tensor(hounsfield_slice() + 1000.0, dtype=torch.float32)[None, None]
    angle0, twist = rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.4)
    scale0, shift = rng.uniform(0.85, 1.1), rng.uniform(-0.1, 0.1, size=2)
    thetas = []
    for k in range(num_slices):
        t = 2.0 * k / (num_slices - 1) - 1.0
        scale = scale0 * (1.0 - 0.3 * t * t)
        angle = angle0 + twist * t
        cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
        thetas.append([[cos, -sin, shift[0]], [sin, cos, shift[1]]])
    theta = torch.tensor(thetas, dtype=torch.float32)
    grid = F.affine_grid(theta, [num_slices, 1, size, size], align_corners=False)
    slices = F.grid_sample(source.expand(num_slices, -1, -1, -1), grid, align_corners=False)[:, 0] - 1000.0
    volume = slices.permute(2, 1, 0).numpy()  # (slice, row, column) -> (column i, row j, slice k)
    return volume + rng.normal(0.0, 10.0, volume.shape)


def write_case(folder: Path, name: str, seed: int, size: int, num_slices: int, slice_mm: float, lps: bool) -> None:
    """``images/NAME.nii.gz`` (int16 HU) and ``labels/NAME.nii.gz`` (bone, uint8) on one grid.

    ``lps``: store as DICOM does (i to the patient's left, j to posterior), else flipped to RAS.
    """
    volume = stacked_volume(np.random.default_rng(seed), size, num_slices)
    pixel_mm = 0.661468 * 128 / size
    affine = np.diag([-pixel_mm, -pixel_mm, slice_mm, 1.0])
    affine[:3, 3] = (40.0, 42.0, -70.0 + 3.0 * seed)
    if not lps:  # the same voxels in the same places, stored along +x and +y
        volume = volume[::-1, ::-1].copy()
        affine[:2, :2] = -affine[:2, :2]
        affine[:2, 3] -= pixel_mm * (size - 1)
    label = (volume >= BONE_HU).astype(np.uint8)
    for kind, array in (("images", np.round(volume).astype(np.int16)), ("labels", label)):
        (folder / kind).mkdir(exist_ok=True)
        nib.save(nib.Nifti1Image(array, affine), folder / kind / f"{name}.nii.gz")


def copy_series(sources: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for source in sources:
        shutil.copy(source, folder / f"{source.parent.name}_{source.name}.dcm")
    return folder


def write_series_label(series: Path, label: Path) -> None:
    """A bone label NIfTI on the grid MONAI's default reader (ITK) gives the DICOM series folder."""
    image = LoadImage(image_only=True)(str(series))
    label.parent.mkdir(exist_ok=True)
    nib.save(nib.Nifti1Image((np.asarray(image) >= BONE_HU).astype(np.uint8), np.asarray(image.affine)), label)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's data: 2 NIfTI + 1 DICOM training cases, 2 validation and 1 test NIfTI cases, and the datalist."""
    folder = tmp_path_factory.mktemp("ct_dataset")
    cases = {
        "train_000": dict(seed=0, size=32, num_slices=12, slice_mm=4.0, lps=True),
        "train_001": dict(seed=1, size=28, num_slices=16, slice_mm=3.0, lps=False),
        "val_000": dict(seed=2, size=32, num_slices=12, slice_mm=4.0, lps=True),
        "val_001": dict(seed=3, size=30, num_slices=14, slice_mm=3.5, lps=False),
        "test_000": dict(seed=4, size=32, num_slices=12, slice_mm=4.0, lps=True),
    }
    for name, geometry in cases.items():
        write_case(folder, name, **geometry)
    copy_series(CT2_SLICES, folder / "dicom" / "train_002")
    write_series_label(folder / "dicom" / "train_002", folder / "labels" / "train_002.nii.gz")

    def entry(name: str, image: str | None = None) -> dict[str, str]:
        return {"image": image or f"images/{name}.nii.gz", "label": f"labels/{name}.nii.gz"}

    datalist = {
        "training": [entry("train_000"), entry("train_001"), entry("train_002", "dicom/train_002")],
        "validation": [entry("val_000"), entry("val_001")],
        "test": [{"image": "images/test_000.nii.gz"}],
    }
    (folder / "datalist.json").write_text(json.dumps(datalist, indent=4))
    return folder


def train_overrides(dataset_dir: Path, bundle_root: Path, **extra: object) -> dict[str, object]:
    return {"bundle_root": bundle_root, "dataset_dir": dataset_dir, **NETWORK, **TRAINING, **extra}


@pytest.fixture(scope="module")
def trained(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BundleRun]:
    """A bundle root after the training command (1 epoch, then validation)."""
    bundle_root = tmp_path_factory.mktemp("trained")
    result = run_bundle("run", "--config_file", TRAIN, overrides=train_overrides(dataset_dir, bundle_root)).check()
    return bundle_root, result


def tiny_network(dca: bool = True) -> DCADynUNet:
    return bundle_network(2, NETWORK["filters"], dca=dca)


@pytest.mark.slow
def test_train_writes_checkpoints_and_tensorboard(trained: tuple[Path, BundleRun]) -> None:
    bundle_root, result = trained
    assert "val_mean_dice" in result.output

    best = torch.load(bundle_root / "models" / "model.pt", weights_only=True)
    tiny_network().load_state_dict(best)  # the best model holds the bare weights of network_def
    last = torch.load(bundle_root / "checkpoints" / "last.pt", weights_only=True)
    assert set(last) == CHECKPOINT_KEYS
    assert last["trainer"]["iteration"] == 2  # 3 training cases in batches of 2
    assert sorted(path.name for path in (bundle_root / "models").iterdir()) == [
        "model.pt"
    ]  # MONAI Label takes any *.pt there
    assert sorted(path.name for path in (bundle_root / "checkpoints").iterdir()) == ["last.pt"]
    assert list((bundle_root / "eval").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_training_resumes_from_the_last_checkpoint(
    trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    shutil.copytree(bundle_root / "checkpoints", tmp_path / "checkpoints")
    overrides = train_overrides(dataset_dir, tmp_path, epochs=2, resume=True)
    resumed = run_bundle("run", "--config_file", TRAIN, overrides=overrides).check()

    assert f"Restored all variables from {tmp_path / 'checkpoints' / 'last.pt'}" in resumed.output
    assert "Epoch: 1/2" not in resumed.output
    assert "Epoch: 2/2" in resumed.output
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert last["trainer"]["iteration"] == 4
    assert {float(state["step"]) for state in last["optimizer"]["state"].values()} == {4.0}


@pytest.mark.slow
def test_evaluate_writes_per_case_metrics_and_overlays(
    trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    overrides = {"bundle_root": bundle_root, "dataset_dir": dataset_dir, "output_dir": tmp_path, **NETWORK}
    result = run_bundle("run", "--config_file", EVALUATE, overrides=overrides).check()

    assert "val_hd95" in result.output
    for metric in ("val_mean_dice", "val_hd95"):
        rows = (tmp_path / f"{metric}_raw.csv").read_text().splitlines()
        assert rows[0] == "filename,class0,mean"  # one column per class, background excluded
        assert sorted(Path(row.split(",")[0]).name for row in rows[1:]) == ["val_000.nii.gz", "val_001.nii.gz"]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("val_mean_dice")
    for name in ("overlay_best.png", "overlay_worst.png"):
        with Image.open(tmp_path / name) as figure:
            assert figure.format == "PNG" and figure.width > 3 * figure.height // 2


def assert_label_map_on_the_input_grid(output: Path, source: Path) -> None:
    loaded = LoadImage(image_only=True)(str(source))
    written = nib.load(output)
    assert written.shape == tuple(loaded.shape)
    np.testing.assert_allclose(written.affine, loaded.affine.numpy(), atol=1e-4)
    assert set(np.unique(np.asanyarray(written.dataobj)).tolist()) <= {0, 1}


@pytest.mark.slow
def test_inference_on_nifti_returns_labels_in_the_input_space(
    trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    source = dataset_dir / "images" / "test_000.nii.gz"  # stored LPS at 2.65 x 2.65 x 4 mm, the network's 3 mm RAS
    overrides = {"bundle_root": bundle_root, "input_path": source, "output_dir": tmp_path / "out", **NETWORK}
    run_bundle("run", "--config_file", INFERENCE, overrides=overrides).check()

    assert [path.name for path in (tmp_path / "out").iterdir()] == ["test_000_seg.nii.gz"]
    assert_label_map_on_the_input_grid(tmp_path / "out" / "test_000_seg.nii.gz", source)
    np.testing.assert_allclose(nib.load(tmp_path / "out" / "test_000_seg.nii.gz").affine, nib.load(source).affine)


@pytest.mark.slow
def test_inference_on_dicom_folder_returns_labels_in_the_series_space(
    trained: tuple[Path, BundleRun], tmp_path: Path
) -> None:
    bundle_root, _ = trained
    series = copy_series(sorted(CT5N_SERIES.iterdir()), tmp_path / "series_5n")
    overrides = {"bundle_root": bundle_root, "input_path": series, "output_dir": tmp_path / "out", **NETWORK}
    run_bundle("run", "--config_file", INFERENCE, overrides=overrides).check()

    # a DICOM series input also gets a DICOM SEG (tests/transforms/test_dicom_seg_writer.py checks its content)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["series_5n_seg.dcm", "series_5n_seg.nii.gz"]
    assert pydicom.dcmread(tmp_path / "out" / "series_5n_seg.dcm").SegmentSequence[0].SegmentLabel == "class 1"
    assert_label_map_on_the_input_grid(tmp_path / "out" / "series_5n_seg.nii.gz", series)
    assert nib.load(tmp_path / "out" / "series_5n_seg.nii.gz").shape == (16, 16, 5)


@pytest.mark.slow
def test_inference_refuses_a_folder_with_two_series(trained: tuple[Path, BundleRun], tmp_path: Path) -> None:
    bundle_root, _ = trained
    two = copy_series(CT2_SLICES + sorted(CT5N_SERIES.iterdir()), tmp_path / "two_series")
    overrides = {"bundle_root": bundle_root, "input_path": two, "output_dir": tmp_path / "out", **NETWORK}
    result = run_bundle("run", "--config_file", INFERENCE, overrides=overrides)

    assert result.returncode != 0
    assert f"test[0].image ({two}): folder holds 2 DICOM series: " in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_verify_metadata() -> None:
    result = run_bundle("verify_metadata", "--meta_file", META, "--filepath", str(SCHEMA)).check()
    assert "metadata is verified with no error" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("dca", [True, False])
def test_verify_net_in_out(dca: bool) -> None:
    result = run_bundle(
        "verify_net_in_out",
        "network_def",
        "--meta_file",
        META,
        "--config_file",
        TRAIN,
        overrides={"network_def#dca": dca},
    )
    assert "data shape of network is verified with no error" in result.check().output


@pytest.mark.slow
def test_dca_off_trains_a_plain_dynunet(dataset_dir: Path, tmp_path: Path) -> None:
    # no validation in this run, so the last state holds the weights
    overrides = train_overrides(dataset_dir, tmp_path, val_interval=2, **{"network_def#dca": False})
    # the zoo's "run training" form: the "training" id runs the same expressions as "run"
    run_bundle("run", "training", "--config_file", TRAIN, overrides=overrides).check()

    weights = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["network"]
    assert not any(key.startswith("dca.") for key in weights)
    plain = DynUNet(3, 1, 2, [3] * 5, [1, 2, 2, 2, 2], [2, 2, 2, 2], filters=NETWORK["filters"], norm_name="instance")
    plain.load_state_dict(weights)  # strict: exactly MONAI's DynUNet


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(dataset_dir: Path, tmp_path: Path) -> None:
    launcher = (str(TORCHRUN), "--standalone", "--nproc_per_node=2")
    train = run_bundle(
        "run", "--config_file", MULTI_GPU_TRAIN, overrides=train_overrides(dataset_dir, tmp_path), launcher=launcher
    ).check()

    assert train.output.count("Epoch[1] Metrics -- val_mean_dice") == 1  # only rank 0 logs
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert last["trainer"]["iteration"] == 1  # 3 cases padded to 2 per rank, one batch of 2
    assert not any(key.startswith("module.") for key in last["network"])

    # evaluation split over 2 processes: each scores one validation case, rank 0 writes both rows
    overrides = {**NETWORK, "bundle_root": tmp_path, "dataset_dir": dataset_dir}
    run_bundle("run", "--config_file", MULTI_GPU_EVALUATE, overrides=overrides, launcher=launcher).check()
    rows = (tmp_path / "eval" / "val_mean_dice_raw.csv").read_text().splitlines()
    assert sorted(Path(row.split(",")[0]).name for row in rows[1:]) == ["val_000.nii.gz", "val_001.nii.gz"]


def bad_datalist(dataset_dir: Path, tmp_path: Path, problem: str) -> tuple[dict[str, Any], dict[str, object], str]:
    """A datalist with one ``problem``, extra overrides, and the line the error must hold."""
    datalist = json.loads((dataset_dir / "datalist.json").read_text())
    overrides: dict[str, object] = {}
    if problem == "missing file":
        datalist["training"][1]["image"] = "images/missing.nii.gz"
        expected = f"training[1].image ({dataset_dir / 'images' / 'missing.nii.gz'}): file not found"
    elif problem == "two DICOM series":
        two = copy_series(CT2_SLICES + sorted(CT5N_SERIES.iterdir()), tmp_path / "two_series")
        datalist["training"][2]["image"] = str(two)
        expected = f"training[2].image ({two}): folder holds 2 DICOM series: "
    elif problem == "shape mismatch":
        label = nib.load(dataset_dir / "labels" / "train_000.nii.gz")
        nib.save(nib.Nifti1Image(np.asanyarray(label.dataobj)[:, :, :-2], label.affine), tmp_path / "short.nii.gz")
        datalist["training"][0]["label"] = str(tmp_path / "short.nii.gz")
        expected = (
            f"training[0].label ({tmp_path / 'short.nii.gz'}): label spatial shape 32x32x10 but the image's 32x32x12"
        )
    elif problem == "label values":
        label = nib.load(dataset_dir / "labels" / "val_001.nii.gz")
        nib.save(nib.Nifti1Image(np.asanyarray(label.dataobj) * 2, label.affine), tmp_path / "two_valued.nii.gz")
        datalist["validation"][1]["label"] = str(tmp_path / "two_valued.nii.gz")
        expected = (
            f"validation[1].label ({tmp_path / 'two_valued.nii.gz'}): label holds values 2; "
            "expected integers in [0, 2) (num_classes=2)"
        )
    elif problem == "empty training":
        datalist["training"] = []
        expected = "training: section is empty; expected at least one entry"
    else:  # wrong in_channels: a 1-channel CT against a 2-channel network
        overrides["in_channels"] = 2
        image = dataset_dir / "images" / "train_000.nii.gz"
        expected = f"training[0].image ({image}): image has 1 channel(s) but in_channels=2"
    return datalist, overrides, expected


@pytest.mark.slow
@pytest.mark.parametrize(
    "problem",
    ["missing file", "two DICOM series", "shape mismatch", "label values", "empty training", "wrong in_channels"],
)
def test_bad_input_fails_before_training(dataset_dir: Path, tmp_path: Path, problem: str) -> None:
    datalist, extra, expected = bad_datalist(dataset_dir, tmp_path, problem)
    (tmp_path / "datalist.json").write_text(json.dumps(datalist))
    overrides = {**train_overrides(dataset_dir, tmp_path / "run"), "datalist": tmp_path / "datalist.json", **extra}
    result = run_bundle("run", "--config_file", TRAIN, overrides=overrides)

    assert result.returncode != 0
    assert "DatalistError" in result.output
    assert expected in result.output
    assert "Epoch" not in result.output
    assert not (tmp_path / "run").exists()
