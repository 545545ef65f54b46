"""The weights shipped in ``bundles/ct_dca_segmentation/models/model.pt`` on the CT patient they never saw.

The unseen patient is the TotalSegmentator example DICOM series (``dca_monai.apps.ct_organ_dataset``,
fetched by ``scripts/setup_env.sh``; another patient and scanner than the training CT). It goes
through ``python -m monai.bundle run --config_file configs/inference.json`` exactly as the model card
says, with the bundle's defaults and the shipped weights, and the label map is scored per organ
against that patient's labels on the series' own grid (TotalSegmentator's model outputs, not
manual). Thresholds sit a little below the measured figures of the model card so that CPU rounding
cannot flip them, and at the issue's targets where the model meets them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import torch

from dca_monai.apps.ct_organ_dataset import write_test_case
from dca_monai.apps.ct_organs import ct_class_names
from dca_monai.metrics import score_label_maps
from tests.bundles.bundle_runner import BUNDLES, config_files, run_bundle

BUNDLE = BUNDLES / "ct_dca_segmentation"
SHIPPED = BUNDLE / "models" / "model.pt"
MODEL_CARD = BUNDLE / "docs" / "README.md"
MAX_BYTES = 25 * 2**20
ORGANS = ct_class_names()[1:]
# measured with the shipped 0.5.0 weights (model card, Results): Dice liver 0.827, spleen 0.355, stomach 0.250,
# aorta 0.874, vena cava 0.619; HD95 liver 19.9, spleen 49.8, stomach 32.0, aorta 4.5, vena cava 10.6 mm. The aorta
# and the vena cava meet the targets (0.75, 0.60) and are held to them; the others miss theirs (liver 0.90,
# spleen 0.80, stomach 0.60), so these guard them against a regression, a little below the measured figures.
MIN_DICE = {"liver": 0.79, "spleen": 0.32, "stomach": 0.22, "aorta": 0.75, "inferior_vena_cava": 0.60}
MAX_HD95_MM = {"liver": 25.0, "spleen": 60.0, "stomach": 40.0, "aorta": 6.0, "inferior_vena_cava": 12.0}


def test_shipped_weights_match_the_model_card_and_the_metadata() -> None:
    data = SHIPPED.read_bytes()
    assert len(data) <= MAX_BYTES
    documented = re.search(r"sha256 `([0-9a-f]{64})`", MODEL_CARD.read_text())
    assert documented is not None, "the model card must give the sha256 of models/model.pt"
    assert hashlib.sha256(data).hexdigest() == documented.group(1)
    metadata = json.loads((BUNDLE / "configs" / "metadata.json").read_text())
    channels = metadata["network_data_format"]["outputs"]["pred"]["channel_def"]
    assert [channels[str(index)] for index in range(len(channels))] == ct_class_names()


def test_shipped_weights_load_strictly_into_the_default_network() -> None:
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    parser["device"] = "$torch.device('cpu')"
    network = parser.get_parsed_content("network_def")
    state = torch.load(SHIPPED, weights_only=True)
    network.load_state_dict(state)  # strict: the default network_def (DCA on, 6 classes)
    assert all(value.dtype in (torch.float16, torch.float32) for value in state.values() if value.is_floating_point())


@pytest.mark.slow
def test_shipped_model_segments_the_unseen_dicom_patient(tmp_path: Path) -> None:
    case = write_test_case(tmp_path / "case")
    overrides = {"bundle_root": BUNDLE, "input_path": case["image"], "output_dir": tmp_path / "out"}

    run_bundle("run", "--config_file", config_files(BUNDLE.name, "inference.json"), overrides=overrides).check()

    scores = score_label_maps(tmp_path / "out" / "test_000_seg.nii.gz", case["label"], len(ORGANS) + 1)
    report = {organ: (round(d, 3), round(h, 1)) for organ, d, h in zip(ORGANS, scores.dice, scores.hd95)}
    for organ, dice, hd95 in zip(ORGANS, scores.dice, scores.hd95):
        assert dice >= MIN_DICE.get(organ, 0.0), report
        if organ in MAX_HD95_MM:
            assert hd95 <= MAX_HD95_MM[organ], report
