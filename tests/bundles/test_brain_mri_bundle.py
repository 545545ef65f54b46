"""What only ``bundles/brain_mri_dca_segmentation`` promises, run through ``python -m monai.bundle``, CI-sized.

The contracts both bundles share run in ``test_bundle_contract.py``; this module reuses their CI
setup (:data:`~tests.bundles.bundle_cases.BRAIN`: the demo dataset at 4 mm, filters ``[4, 4, 8, 8, 8]``,
32^3 patches, 2 epochs) and the session's trained bundle root.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.bundles.bundle_cases import BRAIN, BundleCase
from tests.bundles.bundle_runner import BundleRun, run_bundle, run_python


@pytest.fixture(scope="module")
def case() -> BundleCase:
    return BRAIN


@pytest.mark.slow
def test_torchscript_export_matches_the_eager_network(
    case: BundleCase, trained: tuple[Path, BundleRun], tmp_path: Path
) -> None:
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
        case.configs("metadata.json"),
        "--config_file",
        case.configs("train.json"),
        overrides={"filters": case.model_overrides["filters"]},
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

    eager = case.network().eval()
    eager.load_state_dict(torch.load(bundle_root / "models" / "model.pt", weights_only=True))
    with torch.no_grad():
        expected = eager(torch.load(tmp_path / "input.pt", weights_only=True))
    torch.testing.assert_close(torch.load(tmp_path / "output.pt", weights_only=True), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_data_given_directly_builds_no_demo_dataset(case: BundleCase, dataset_dir: Path, tmp_path: Path) -> None:
    # MONAI Label's bundle trainer sets train#dataset#data and validate#dataset#data and runs initialize:
    # nothing then needs the demo datalist, so the demo dataset is neither built nor required (nilearn)
    content = json.loads((dataset_dir / "datalist.json").read_text())
    absolute = {
        section: [{key: str(dataset_dir / value) for key, value in item.items()} for item in content[section]]
        for section in ("training", "validation")
    }
    overrides = {
        **case.overrides(tmp_path),
        "train#dataset#data": absolute["training"],
        "validate#dataset#data": absolute["validation"],
    }
    run_bundle("run", "initialize", "--config_file", case.configs("train.json"), overrides=overrides).check()
    assert not (tmp_path / "dataset").exists()

    # the same command without the data builds the demo dataset under the bundle root, in initialize
    overrides = {key: value for key, value in overrides.items() if "#dataset#data" not in key}
    run_bundle("run", "initialize", "--config_file", case.configs("train.json"), overrides=overrides).check()
    built = json.loads((tmp_path / "dataset" / "datalist.json").read_text())
    assert [len(built[section]) for section in ("training", "validation", "test")] == [2, 1, 1]
