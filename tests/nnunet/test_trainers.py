"""nnU-Net v2 end to end with ``nnUNetTrainerDCA``, through nnU-Net's own console commands, offline on CPU.

The module drives nnU-Net in ``.venv-nnunet`` (the ``nnunet_venv`` fixture of ``conftest.py`` builds it)
through subprocesses: the embedded CT dataset converted with ``dca-monai-datalist-to-nnunet``,
``nnUNetv2_plan_and_preprocess`` (6 mm target spacing, so a CPU trains it: patch 56 x 56 x 64, 4 stages),
a short training with the plain and the DCA trainer, ``--val`` from the DCA checkpoint, ``nnUNetv2_predict``
on the unseen DICOM patient and ``-pretrained_weights`` from the plain checkpoint into the DCA trainer.
The short trainers are ``scripts/nnunet_trainers/budget_trainers.py`` (nnU-Net's trainers with a few
iterations, no mirroring).

``DCA_MONAI_SKIP_NNUNET=1`` skips them, loudly (see ``conftest.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from dca_monai.apps.ct_organ_dataset import build_ct_organ_dataset
from dca_monai.nnunet import trainer_search_path
from tests.nnunet.environment import REPO_ROOT, run_in_venv

CHECKS = Path(__file__).with_name("venv_checks.py")
BUDGET_TRAINERS = REPO_ROOT / "scripts" / "nnunet_trainers"
DATASET = "Dataset501_CTOrgans"
PLANS = "nnUNetPlansCPU"
CONFIG = "3d_fullres"

pytestmark = pytest.mark.slow


def _check(env: dict[str, str], *args: str) -> dict:
    output = run_in_venv(env, "python", str(CHECKS), *args)
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[len("RESULT ") :])


def _fold_dir(env: dict[str, str], trainer: str, fold: int) -> Path:
    return Path(env["nnUNet_results"]) / DATASET / f"{trainer}__{PLANS}__{CONFIG}" / f"fold_{fold}"


def _train(env: dict[str, str], trainer: str, fold: int, *extra: str, epochs: int = 1, iterations: int = 2) -> str:
    budget = {**env, "DCA_MONAI_NNUNET_EPOCHS": str(epochs), "DCA_MONAI_NNUNET_ITERATIONS": str(iterations)}
    budget["nnUNet_n_proc_DA"] = "0"  # augmentation in the main process (planning needs it unset: 0 threads)
    command = ("nnUNetv2_train", "501", CONFIG, str(fold), "-p", PLANS, "-tr", trainer, "-device", "cpu", *extra)
    return run_in_venv(budget, *command)


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["network_weights"]


@pytest.fixture(scope="module")
def nnunet_env(nnunet_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """nnU-Net's folders with the converted, planned and preprocessed CT dataset; the environment to run it."""
    root = tmp_path_factory.mktemp("nnunet")
    env = {
        **os.environ,
        "nnUNet_raw": str(root / "raw"),
        "nnUNet_preprocessed": str(root / "preprocessed"),
        "nnUNet_results": str(root / "results"),
        "nnUNet_extTrainer": os.pathsep.join([str(trainer_search_path()), str(BUDGET_TRAINERS)]),
        "nnUNet_def_n_proc": "1",
        "nnUNet_compile": "false",
    }
    datalist = build_ct_organ_dataset(root / "ct", num_train=4, num_val=1)
    run_in_venv(env, "dca-monai-datalist-to-nnunet", str(datalist), "--dataset-id", "501", "--name", "CTOrgans")
    run_in_venv(
        env, "nnUNetv2_plan_and_preprocess", "-d", "501", "-c", CONFIG, "-np", "1", "-npfp", "1",
        "--verify_dataset_integrity", "-overwrite_target_spacing", "6", "6", "6", "-overwrite_plans_name", PLANS,
    )  # fmt: skip
    env["DCA_MONAI_CT_DATASET"] = str(datalist.parent)
    return env


@pytest.fixture(scope="module")
def trained(nnunet_env: dict[str, str]) -> dict[str, Path]:
    """The plain and the DCA trainer, each trained a few iterations on fold 0 (nnU-Net validates at the end)."""
    return {
        name: (_train(nnunet_env, trainer, 0), _fold_dir(nnunet_env, trainer, 0))[1]
        for name, trainer in (("plain", "nnUNetTrainer_budget"), ("dca", "nnUNetTrainerDCA_budget"))
    }


def test_converted_dataset_keeps_the_dicom_patients_grid(nnunet_env: dict[str, str]) -> None:
    raw = Path(nnunet_env["nnUNet_raw"]) / DATASET
    dataset = json.loads((raw / "dataset.json").read_text())
    assert dataset["labels"] == {
        "background": 0, "liver": 1, "spleen": 2, "stomach": 3, "aorta": 4, "inferior_vena_cava": 5
    }  # fmt: skip
    assert dataset["channel_names"] == {"0": "CT"} and dataset["numTraining"] == 5
    test_image = nib.load(raw / "imagesTs" / "test_000_0000.nii.gz")
    reference = nib.load(Path(nnunet_env["DCA_MONAI_CT_DATASET"]) / "labels" / "test_000.nii.gz")
    assert test_image.shape == reference.shape == (512, 512, 20)
    np.testing.assert_allclose(test_image.affine, reference.affine, atol=1e-4)


def test_trainers_found_by_name_through_ext_trainer_path(nnunet_env: dict[str, str]) -> None:
    found = _check(nnunet_env, "lookup", "nnUNetTrainerDCA", "nnUNetTrainerDCA_tokenpool2", "nnUNetTrainer_5epochs")
    assert found["nnUNetTrainerDCA"] == {"module": "dca_monai.nnunet.trainers", "is_dca": True, "dca_args": {}}
    assert found["nnUNetTrainerDCA_tokenpool2"]["dca_args"] == {"token_pool": 2}
    assert not found["nnUNetTrainer_5epochs"]["is_dca"]  # nnU-Net's own trainers still load beside ours


def test_planned_plain_and_resenc_networks_get_dca(nnunet_env: dict[str, str]) -> None:
    run_in_venv(
        nnunet_env, "nnUNetv2_plan_experiment", "-d", "501", "-pl", "nnUNetPlannerResEncM",
        "-overwrite_target_spacing", "6", "6", "6", "-overwrite_plans_name", "nnUNetResEncCPU",
    )  # fmt: skip
    preprocessed = Path(nnunet_env["nnUNet_preprocessed"]) / DATASET
    result = _check(nnunet_env, "networks", str(preprocessed), PLANS, "nnUNetResEncCPU")
    for plans, parent in ((PLANS, "PlainConvUNet"), ("nnUNetResEncCPU", "ResidualEncoderUNet")):
        network = result[plans]
        assert network["plain_class"] == parent and network["class"] == "DCAUNet"
        assert network["skip_channels"] == network["encoder_channels"][:-1]  # all skips but the bottleneck
        assert network["plain_keys_kept"] and network["same_plain_init"] and network["dca_keys"] > 0
        patch = network["patch_size"]
        assert network["deep_supervision_shapes"][0] == [1, 6, *patch] and len(network["deep_supervision_shapes"]) > 1
        assert network["shape"] == [1, 6, *patch]
    assert "cannot add DCA to torch.nn.modules.linear.Identity" in result["unwrappable_error"]
    assert "return_skips=True" in result["unwrappable_error"]


def test_checkpoints_hold_plain_keys_and_dca(trained: dict[str, Path]) -> None:
    plain, dca = _state(trained["plain"] / "checkpoint_final.pth"), _state(trained["dca"] / "checkpoint_final.pth")
    assert not any(key.startswith("dca.") for key in plain)
    assert set(plain) < set(dca) and all(key.startswith("dca.") for key in set(dca) - set(plain))
    assert all(plain[key].shape == dca[key].shape for key in plain)
    checkpoint = torch.load(trained["dca"] / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == "nnUNetTrainerDCA_budget"
    for name in ("plain", "dca"):
        summary = json.loads((trained[name] / "validation" / "summary.json").read_text())
        assert set(summary["mean"]) == {"1", "2", "3", "4", "5"}


def test_validation_reloads_the_dca_checkpoint(nnunet_env: dict[str, str], trained: dict[str, Path]) -> None:
    summary = trained["dca"] / "validation" / "summary.json"
    summary.unlink()
    output = _train(nnunet_env, "nnUNetTrainerDCA_budget", 0, "--val")
    assert summary.is_file(), output[-3000:]
    assert "Mean Validation Dice" in output


def test_predict_unseen_dicom_patient_on_its_grid(
    nnunet_env: dict[str, str], trained: dict[str, Path], tmp_path: Path
) -> None:
    raw = Path(nnunet_env["nnUNet_raw"]) / DATASET
    run_in_venv(
        nnunet_env, "nnUNetv2_predict", "-i", str(raw / "imagesTs"), "-o", str(tmp_path), "-d", "501", "-c", CONFIG,
        "-p", PLANS, "-f", "0", "-tr", "nnUNetTrainerDCA_budget", "-chk", "checkpoint_final.pth", "--disable_tta",
        "-device", "cpu", "-npp", "1", "-nps", "1",
    )  # fmt: skip
    image, prediction = nib.load(raw / "imagesTs" / "test_000_0000.nii.gz"), nib.load(tmp_path / "test_000.nii.gz")
    assert prediction.shape == image.shape
    np.testing.assert_allclose(prediction.affine, image.affine, atol=1e-4)
    assert set(np.unique(np.asarray(prediction.dataobj)).tolist()) <= set(range(6))


def test_pretrained_plain_checkpoint_into_dca_trainer(nnunet_env: dict[str, str], trained: dict[str, Path]) -> None:
    plain_checkpoint = trained["plain"] / "checkpoint_final.pth"
    loaded = _check(
        nnunet_env, "pretrained", str(Path(nnunet_env["nnUNet_preprocessed"]) / DATASET), PLANS, str(plain_checkpoint)
    )
    assert loaded["plain_view_after_initialize"]
    assert loaded["plain_keys"] > 0 and loaded["from_file"] == loaded["plain_keys"]  # all but the seg layers
    assert loaded["changed_by_file"] > 0 and loaded["dca_keys"] > 0 and loaded["dca_kept"]
    output = _train(
        nnunet_env, "nnUNetTrainerDCA_budget", 1, "-pretrained_weights", str(plain_checkpoint), iterations=1
    )
    assert "Loading pretrained weights from file" in output
    fine_tuned = _state(_fold_dir(nnunet_env, "nnUNetTrainerDCA_budget", 1) / "checkpoint_final.pth")
    assert any(key.startswith("dca.") for key in fine_tuned) and set(_state(plain_checkpoint)) < set(fine_tuned)
