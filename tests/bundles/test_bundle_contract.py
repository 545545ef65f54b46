"""What both bundles promise, run end to end through ``python -m monai.bundle`` on each, CI-sized.

Every command runs in a subprocess as in docs/bundles.md, shrunk by the overrides of its
case (``tests/bundles/bundle_cases.py``); the test ids name the bundle (``brain``, ``ct``). Each
bundle's dataset is built and its default training command run once per session (``conftest.py``),
shared with the bundle's own tests in ``test_brain_mri_bundle.py`` and ``test_ct_bundle.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import monai
import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from ignite.handlers import Checkpoint
from monai.networks.nets import DynUNet
from monai.transforms import LoadImage
from packaging.version import Version
from PIL import Image

from tests.bundles.bundle_cases import (
    CASES,
    CHECKPOINT_KEYS,
    BundleCase,
    absolute_datalist,
    assert_fails_before_training,
)
from tests.bundles.bundle_runner import SCHEMA, TORCHRUN, BundleRun, run_bundle, run_python

# the record key of the installed ignite: "_saved" from 0.5, "saved" in 0.4.11 (monai 1.5.2's pin)
SAVED_KEY = Checkpoint._state_dict_all_req_keys[0]

# MONAI 1.5.2's write_metrics_reports keeps the class names of its first metric and appends "mean" to them once
# more for every further metric (fixed in 1.6): val_hd95_raw.csv, the second, names one column more than it holds
MONAI_152_HEADERS = Version(monai.__version__) < Version("1.6")

TWO_CPU_PROCESSES = (str(TORCHRUN), "--standalone", "--nproc_per_node=2")


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest) -> BundleCase:
    return request.param


def image_names(csv: Path) -> list[str]:
    """The sorted file names in the first column of a per-case metric CSV, header skipped."""
    return sorted(Path(row.split(",")[0]).name for row in csv.read_text().splitlines()[1:])


def assert_label_map_on_the_input_grid(case: BundleCase, output: Path, source: Path) -> None:
    """``output`` is a label map of ``case``'s classes on the grid MONAI's reader gives ``source``."""
    loaded = LoadImage(image_only=True)(str(source))
    written = nib.load(output)
    assert written.shape == tuple(loaded.shape)
    np.testing.assert_allclose(written.affine, loaded.affine.numpy(), atol=1e-4)
    assert set(np.unique(np.asanyarray(written.dataobj)).tolist()) <= case.label_values


@pytest.mark.slow
def test_train_writes_checkpoints_and_tensorboard(case: BundleCase, trained: tuple[Path, BundleRun]) -> None:
    bundle_root, result = trained
    assert "val_mean_dice" in result.output

    best = torch.load(bundle_root / "models" / "model.pt", weights_only=True)
    case.network().load_state_dict(best)  # the best model holds the bare weights of network_def
    last = torch.load(bundle_root / "checkpoints" / "last.pt", weights_only=True)
    assert set(last) == CHECKPOINT_KEYS
    assert last["trainer"]["iteration"] == case.epochs * case.iterations_per_epoch
    assert len(last["best_model_record"][SAVED_KEY]) == 1
    models = sorted(path.name for path in (bundle_root / "models").iterdir())
    assert models == ["model.pt"]  # MONAI Label takes any *.pt there
    assert sorted(path.name for path in (bundle_root / "checkpoints").iterdir()) == ["last.pt"]
    assert list((bundle_root / "eval").glob("events.out.tfevents.*"))


def resume_trained_run(
    case: BundleCase, bundle_root: Path, dataset_dir: Path, run_root: Path, epochs: int, **extra: object
) -> BundleRun:
    """Copy the trained run's ``checkpoints/`` under ``run_root`` and resume it there up to ``epochs``."""
    shutil.copytree(bundle_root / "checkpoints", run_root / "checkpoints")
    overrides = case.train_overrides(dataset_dir, run_root, epochs=epochs, resume=True, **extra)
    return run_bundle("run", "--config_file", case.configs("train.json"), overrides=overrides).check()


@pytest.mark.slow
def test_training_resumes_from_the_last_checkpoint(
    case: BundleCase, trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    done = torch.load(bundle_root / "checkpoints" / "last.pt", weights_only=True)["trainer"]["iteration"]
    assert done == case.epochs * case.iterations_per_epoch
    epochs = case.epochs + 1  # one more epoch than the trained run
    resumed = resume_trained_run(case, bundle_root, dataset_dir, tmp_path, epochs)

    assert f"Restored all variables from {tmp_path / 'checkpoints' / 'last.pt'}" in resumed.output
    for epoch in range(1, epochs):
        assert f"Epoch: {epoch}/{epochs}" not in resumed.output
    assert f"Epoch: {epochs}/{epochs}" in resumed.output
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    iterations = epochs * case.iterations_per_epoch
    assert last["trainer"]["iteration"] == iterations
    assert last["lr_scheduler"]["last_epoch"] == epochs
    # AdamW counted the steps of both runs: the optimizer state was restored, not restarted
    assert {float(state["step"]) for state in last["optimizer"]["state"].values()} == {float(iterations)}


@pytest.mark.slow
def test_snapshot_interval_keeps_weights_to_average(
    case: BundleCase, trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    epochs = case.epochs + 2  # two more epochs than the trained run, a snapshot after each
    resume_trained_run(case, bundle_root, dataset_dir, tmp_path, epochs, snapshot_interval=1)

    snapshots = sorted((tmp_path / "checkpoints" / "snapshots").iterdir())
    assert [path.name for path in snapshots] == [f"model_epoch={e}.pt" for e in (epochs - 1, epochs)]
    states = [torch.load(path, weights_only=True) for path in snapshots]
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["network"]
    assert all(torch.equal(states[1][k], last[k]) for k in last)  # the final snapshot is the run's final network
    average = tmp_path / "swa.pt"
    averaging = ("import sys; from dca_monai.utils.average_weights import main; main(sys.argv[1:])",)
    run_python(*averaging, average, *snapshots).check()
    averaged = torch.load(average, weights_only=True)
    case.network().load_state_dict(averaged)  # strict: the average loads as the bundle's network
    key = next(k for k, v in last.items() if v.is_floating_point() and not torch.equal(states[0][k], states[1][k]))
    torch.testing.assert_close(averaged[key], (states[0][key] + states[1][key]) / 2)


@pytest.mark.slow
def test_evaluate_writes_per_case_metrics_and_overlays(
    case: BundleCase, trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    overrides = case.overrides(
        bundle_root, dataset_dir=dataset_dir, output_dir=tmp_path, eval_section=case.evaluation.section
    )
    result = run_bundle("run", "--config_file", case.configs("train.json", "evaluate.json"), overrides=overrides)

    assert "val_hd95" in result.check().output
    for order, metric in enumerate(("val_mean_dice", "val_hd95")):
        rows = (tmp_path / f"{metric}_raw.csv").read_text().splitlines()
        assert rows[0] == case.metric_header + (",mean" * order if MONAI_152_HEADERS else "")
        assert len(rows) == 1 + len(case.evaluation.cases)
        assert image_names(tmp_path / f"{metric}_raw.csv") == sorted(case.evaluation.cases)
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0].startswith("val_mean_dice")
    for name in ("overlay_best.png", "overlay_worst.png"):
        with Image.open(tmp_path / name) as figure:
            assert figure.format == "PNG" and figure.width > 3 * figure.height // 2


@pytest.mark.slow
def test_inference_on_nifti_returns_labels_in_the_input_space(
    case: BundleCase, trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    source = case.nifti_input(dataset_dir, tmp_path)  # not on the network's grid: inference resamples and maps back
    overrides = case.overrides(bundle_root, input_path=source, output_dir=tmp_path / "out")
    run_bundle("run", "--config_file", case.configs("inference.json"), overrides=overrides).check()

    name = source.name.removesuffix(".nii.gz") + "_seg.nii.gz"
    assert [path.name for path in (tmp_path / "out").iterdir()] == [name]
    assert_label_map_on_the_input_grid(case, tmp_path / "out" / name, source)
    assert nib.load(tmp_path / "out" / name).shape == nib.load(source).shape
    np.testing.assert_allclose(nib.load(tmp_path / "out" / name).affine, nib.load(source).affine)


@pytest.mark.slow
def test_inference_on_dicom_folder_returns_labels_in_the_series_space(
    case: BundleCase, trained: tuple[Path, BundleRun], dataset_dir: Path, tmp_path: Path
) -> None:
    bundle_root, _ = trained
    series = case.dicom_input(dataset_dir, tmp_path)
    overrides = case.overrides(bundle_root, input_path=series.folder, output_dir=tmp_path / "out")
    run_bundle("run", "--config_file", case.configs("inference.json"), overrides=overrides).check()

    label_map = tmp_path / "out" / f"{series.folder.name}_seg.nii.gz"
    dicom_seg = tmp_path / "out" / f"{series.folder.name}_seg.dcm"
    written = {label_map.name} | ({dicom_seg.name} if case.dicom_seg_segments else set())
    assert {path.name for path in (tmp_path / "out").iterdir()} == written
    if case.dicom_seg_segments:  # tests/transforms/test_dicom_seg_writer.py checks the SEG's content
        segments = pydicom.dcmread(dicom_seg).SegmentSequence
        assert tuple(segment.SegmentLabel for segment in segments) == case.dicom_seg_segments
    assert_label_map_on_the_input_grid(case, label_map, series.folder)
    assert nib.load(label_map).shape == series.shape


@pytest.mark.slow
def test_inference_checks_its_input_before_loading_the_network(
    case: BundleCase, trained: tuple[Path, BundleRun], tmp_path: Path
) -> None:
    bundle_root, _ = trained
    missing = tmp_path / "no_such_subject.nii.gz"
    overrides = case.overrides(bundle_root, input_path=missing, output_dir=tmp_path / "out")
    result = run_bundle("run", "--config_file", case.configs("inference.json"), overrides=overrides)

    assert result.returncode != 0
    assert f"test[0].image ({missing}): file not found" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_verify_metadata(case: BundleCase) -> None:
    result = run_bundle("verify_metadata", "--meta_file", case.configs("metadata.json"), "--filepath", str(SCHEMA))
    assert "metadata is verified with no error" in result.check().output


@pytest.mark.slow
@pytest.mark.parametrize("dca", [True, False], ids=["dca", "no_dca"])
def test_verify_net_in_out(case: BundleCase, dca: bool) -> None:
    result = run_bundle(
        "verify_net_in_out",
        "network_def",
        "--meta_file",
        case.configs("metadata.json"),
        "--config_file",
        case.configs("train.json"),
        overrides={"network_def#dca": dca},
    )
    assert "data shape of network is verified with no error" in result.check().output


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(case: BundleCase, dataset_dir: Path, tmp_path: Path) -> None:
    train = run_bundle(
        "run",
        "--config_file",
        case.configs("train.json", "multi_gpu_train.json"),
        overrides=case.train_overrides(dataset_dir, tmp_path),
        launcher=TWO_CPU_PROCESSES,
    ).check()

    assert train.output.count(f"Epoch[{case.epochs}] Metrics -- val_mean_dice") == 1  # only rank 0 logs
    writers = {path.name.split(".")[-2] for path in (tmp_path / "eval").glob("events.out.tfevents.*")}
    assert len(writers) == 1  # TensorBoard files of one process (the name holds its pid)
    last = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert last["trainer"]["iteration"] == case.epochs * case.ddp_iterations_per_epoch
    assert not any(key.startswith("module.") for key in last["network"])

    # evaluation split over 2 processes: each scores its share of the cases, rank 0 writes all rows
    overrides = case.overrides(tmp_path, dataset_dir=dataset_dir, eval_section=case.ddp_evaluation.section)
    configs = case.configs("train.json", "evaluate.json", "multi_gpu_evaluate.json")
    run_bundle("run", "--config_file", configs, overrides=overrides, launcher=TWO_CPU_PROCESSES).check()
    assert image_names(tmp_path / "eval" / "val_mean_dice_raw.csv") == sorted(case.ddp_evaluation.cases)


@pytest.mark.slow
def test_dca_off_trains_a_plain_dynunet(case: BundleCase, trained_parent: tuple[Path, BundleRun]) -> None:
    bundle_root, result = trained_parent
    # the zoo's "run training" form: the "training" id runs the same expressions as "run"
    assert result.argv[result.argv.index("run") + 1] == "training"
    assert result.argv[result.argv.index("--network_def#dca") + 1] == "False"

    weights = case.dca_off_weights.load(bundle_root)
    assert not any(key.startswith("dca.") for key in weights)
    filters = case.model_overrides["filters"]
    plain = DynUNet(
        3, 1, case.num_classes, [3] * 5, [1, 2, 2, 2, 2], [2, 2, 2, 2], filters=filters, norm_name="instance"
    )
    plain.load_state_dict(weights)  # strict: exactly MONAI's DynUNet


@pytest.mark.slow
def test_lowercase_false_on_the_command_line_stops_with_the_spelling_to_use(
    case: BundleCase, dataset_dir: Path, tmp_path: Path
) -> None:
    # fire passes "false" as a string, which Python would treat as true: the network refuses it
    overrides = case.train_overrides(dataset_dir, tmp_path, epochs=1, **{"network_def#dca": "false"})
    result = run_bundle("run", "--config_file", case.configs("train.json"), overrides=overrides)

    assert result.returncode != 0
    assert "dca='false' but True or False was expected; on the command line write False, capitalized" in result.output
    assert "Epoch" not in result.output


def missing_file(case: BundleCase, dataset_dir: Path, tmp_path: Path, datalist: dict[str, Any]) -> str:
    datalist["training"][1]["image"] = "images/missing.nii.gz"  # relative to the bundle's datalist root
    missing = case.datalist_root(dataset_dir, tmp_path / "datalist.json") / "images" / "missing.nii.gz"
    return f"training[1].image ({missing}): file not found"


def shape_mismatch(case: BundleCase, dataset_dir: Path, tmp_path: Path, datalist: dict[str, Any]) -> str:
    label = nib.load(datalist["training"][0]["label"])
    nib.save(nib.Nifti1Image(np.asanyarray(label.dataobj)[:, :, :-2], label.affine), tmp_path / "short.nii.gz")
    datalist["training"][0]["label"] = str(tmp_path / "short.nii.gz")
    x, y, z = label.shape
    problem = f"label spatial shape {x}x{y}x{z - 2} but the image's {x}x{y}x{z}"
    return f"training[0].label ({tmp_path / 'short.nii.gz'}): {problem}"


def label_values(case: BundleCase, dataset_dir: Path, tmp_path: Path, datalist: dict[str, Any]) -> str:
    index = len(datalist["validation"]) - 1
    label = nib.load(datalist["validation"][index]["label"])
    values = np.asanyarray(label.dataobj).copy()
    values[values == case.num_classes - 1] = case.num_classes  # the last class one past the range
    nib.save(nib.Nifti1Image(values, label.affine), tmp_path / "out_of_range.nii.gz")
    datalist["validation"][index]["label"] = str(tmp_path / "out_of_range.nii.gz")
    return (
        f"validation[{index}].label ({tmp_path / 'out_of_range.nii.gz'}): label holds values {case.num_classes}; "
        f"expected integers in [0, {case.num_classes}) (num_classes={case.num_classes})"
    )


def empty_training(case: BundleCase, dataset_dir: Path, tmp_path: Path, datalist: dict[str, Any]) -> str:
    datalist["training"] = []
    return "training: section is empty; expected at least one entry"


BAD_DATALISTS: dict[str, Callable[[BundleCase, Path, Path, dict[str, Any]], str]] = {
    "missing file": missing_file,
    "shape mismatch": shape_mismatch,
    "label values": label_values,
    "empty training": empty_training,
}


@pytest.mark.slow
@pytest.mark.parametrize("problem", list(BAD_DATALISTS))
def test_bad_datalist_fails_before_training(case: BundleCase, dataset_dir: Path, tmp_path: Path, problem: str) -> None:
    datalist = absolute_datalist(dataset_dir)
    expected = BAD_DATALISTS[problem](case, dataset_dir, tmp_path, datalist)
    assert_fails_before_training(case, dataset_dir, tmp_path, datalist, expected)


@pytest.mark.slow
def test_image_channels_other_than_in_channels_fail_before_training(
    case: BundleCase, dataset_dir: Path, tmp_path: Path
) -> None:
    datalist = absolute_datalist(dataset_dir)
    image = datalist["training"][0]["image"]
    expected = f"training[0].image ({image}): image has 1 channel(s) but in_channels=2"
    assert_fails_before_training(case, dataset_dir, tmp_path, datalist, expected, in_channels=2)
