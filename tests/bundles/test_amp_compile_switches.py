"""The bundles' ``amp`` (bf16 autocast on a CPU) and ``compile`` switches reach MONAI's engines."""

from __future__ import annotations

import pytest
import torch
from monai.bundle import ConfigParser

from dca_monai.inferers import CPUAutocastInferer
from tests.bundles.bundle_runner import BUNDLES

CASES = [
    (bundle, config, engine_inferer)
    for bundle in ("brain_mri_dca_segmentation", "ct_dca_segmentation")
    for config, engine_inferer in (
        ("train.json", "train#trainer#inferer"),
        ("train.json", "validate#evaluator#inferer"),
        ("inference.json", "evaluator#inferer"),
    )
]


@pytest.mark.parametrize(("bundle", "config", "key"), CASES)
@pytest.mark.parametrize("amp", [True, False])
def test_amp_wraps_the_engine_inferer_on_cpu(bundle: str, config: str, key: str, amp: bool) -> None:
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / config))
    parser["amp"] = amp
    parser["device"] = "$torch.device('cpu')"
    inferer = parser.get_parsed_content(key)
    assert isinstance(inferer, CPUAutocastInferer)
    assert inferer.enabled is amp and inferer.dtype == torch.bfloat16
    assert parser.get_parsed_content("compile") is False  # off by default
    engine = key.rsplit("#", 1)[0]
    assert parser[engine]["compile_kwargs"] == {"dynamic": True}
    assert "require_bool('compile', @compile)" in parser[engine]["compile"]
