from __future__ import annotations

import json
from pathlib import Path

from dca_monai.apps.quick_settings import BRAIN_QUICK_OVERRIDES

BRAIN_CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "brain_mri_dca_segmentation" / "configs"


def test_every_quick_override_is_a_setting_of_the_brain_bundle() -> None:
    # a key the configs do not define would be added silently by an override and change nothing
    defined = set(json.loads((BRAIN_CONFIGS / "train.json").read_text()))
    assert set(BRAIN_QUICK_OVERRIDES) <= defined, set(BRAIN_QUICK_OVERRIDES) - defined
