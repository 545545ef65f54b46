"""The weights shipped in ``bundles/brain_mri_dca_segmentation/models/model.pt`` on real scans they never saw.

Colin27 (``dca_monai.apps.colin27``) and ITK's example T1 inside its brain mask
(``dca_monai.apps.itk_brain_t1``; 2 x 2 x 3 mm, coronal, another scanner), both installed by
``scripts/setup_env.sh``, go through ``python -m monai.bundle run --config_file configs/inference.json``
exactly as the model card says, with the bundle's defaults and the shipped weights, and each label
map is scored against the scan's brain mask and a classical intensity reference
(``dca_monai.metrics``). Thresholds sit a little below the measured figures of the model card so
that CPU rounding cannot flip them, and at or above the issue's targets where the model meets them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import torch

from dca_monai.apps.colin27 import colin27_path
from dca_monai.apps.itk_brain_t1 import write_itk_t1_brain
from dca_monai.metrics.real_scan_agreement import load_real_scan_agreement
from tests.bundles.bundle_runner import BUNDLES, bundle_network, config_files, run_bundle

BUNDLE = BUNDLES / "brain_mri_dca_segmentation"
SHIPPED = BUNDLE / "models" / "model.pt"
MODEL_CARD = BUNDLE / "docs" / "README.md"
MAX_BYTES = 25 * 2**20
BRAIN_DICE = 0.95
OUTSIDE_FRACTION = 0.01
# Dice with the intensity classes (CSF, grey matter, white matter); issue 16's targets: 0.6, 0.8, 0.8 on both.
# Measured with the shipped 0.4.0 weights and the bundle's default left-right flip averaging (model card 0.5.0):
# Colin27 0.620, 0.856, 0.827; ITK T1 0.709, 0.8025, 0.810. Every figure is held to its target; the ITK T1's
# grey matter has the least margin (0.0025; 0.799 without flip averaging).
TISSUE_DICE = {"ch2bet": (0.6, 0.8, 0.8), "itk_t1_brain": (0.6, 0.8, 0.8)}


def test_shipped_weights_match_the_model_card_and_the_network() -> None:
    data = SHIPPED.read_bytes()
    assert len(data) <= MAX_BYTES
    documented = re.search(r"sha256 `([0-9a-f]{64})`", MODEL_CARD.read_text())
    assert documented is not None, "the model card must give the sha256 of models/model.pt"
    assert hashlib.sha256(data).hexdigest() == documented.group(1)
    state = torch.load(SHIPPED, weights_only=True)
    bundle_network(4, [16, 32, 64, 128, 256]).load_state_dict(state)  # strict: the default network_def, DCA on


@pytest.mark.slow
def test_shipped_model_segments_two_real_scans_and_warns_on_the_scan_with_skull(tmp_path: Path) -> None:
    brain, head = colin27_path("brain"), colin27_path("t1")
    itk_brain = write_itk_t1_brain(tmp_path / "inputs" / "itk_t1_brain.nii.gz")
    inputs = f"['{brain}','{head}','{itk_brain}']"
    overrides = {"bundle_root": BUNDLE, "input_path": inputs, "output_dir": tmp_path / "seg"}

    result = run_bundle("run", "--config_file", config_files(BUNDLE.name, "inference.json"), overrides=overrides)

    warnings = [line for line in result.check().output.splitlines() if "does not look skull-stripped" in line]
    assert len(warnings) == 1 and f"{head} does not look skull-stripped" in warnings[0]
    for scan in (brain, itk_brain):
        name = scan.name.removesuffix(".nii.gz")
        scores = load_real_scan_agreement(tmp_path / "seg" / f"{name}_seg.nii.gz", scan)
        assert scores.brain_dice >= BRAIN_DICE, (name, scores)
        assert scores.outside_fraction <= OUTSIDE_FRACTION, (name, scores)
        for tissue, dice, minimum in zip(scores.tissue_names, scores.tissue_dice, TISSUE_DICE[name]):
            assert dice >= minimum, f"{name} {tissue}: {scores}"
