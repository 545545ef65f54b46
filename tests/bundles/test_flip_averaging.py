"""The brain bundle averages over exactly the mirror images it trained on; the CT bundle, trained on none, does not."""

from __future__ import annotations

import pytest
from monai.bundle import ConfigParser
from monai.inferers import SlidingWindowInferer

from dca_monai.inferers import FlipAveragedInferer
from tests.bundles.bundle_runner import BUNDLES


def _parser(bundle: str, *configs: str) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(BUNDLES / bundle / "configs" / config) for config in configs])
    parser["device"] = "$torch.device('cpu')"
    return parser


def _trained_flip_axes(parser: ConfigParser) -> list[int]:
    transforms = parser["train"]["random_transforms"]
    assert "RandFlip" not in str([t for t in transforms if not isinstance(t, dict)])  # none hidden in an expression
    flips = [t for t in transforms if isinstance(t, dict) and t["_target_"] in ("RandFlipd", "RandAxisFlipd")]
    assert all(t["_target_"] == "RandFlipd" for t in flips)
    axes = [t["spatial_axis"] for t in flips]
    return sorted(a for axis in axes for a in ([axis] if isinstance(axis, int) else axis))


@pytest.mark.parametrize(
    ("configs", "key"),
    [(("inference.json",), "inferer"), (("train.json", "evaluate.json"), "validate#evaluator#inferer#inferer")],
)
def test_brain_inference_and_evaluation_average_the_trained_flips(configs: tuple[str, ...], key: str) -> None:
    trained = _trained_flip_axes(_parser("brain_mri_dca_segmentation", "train.json"))
    assert trained == [0]  # left-right in RAS
    inferer = _parser("brain_mri_dca_segmentation", *configs).get_parsed_content(key)
    assert isinstance(inferer, FlipAveragedInferer) and list(inferer.spatial_axes) == trained
    assert isinstance(inferer.inferer, SlidingWindowInferer)


def test_brain_flip_averaging_can_be_turned_off() -> None:
    parser = _parser("brain_mri_dca_segmentation", "inference.json")
    parser["tta_flip_axes"] = []
    assert parser.get_parsed_content("inferer").spatial_axes == ()


def test_training_validation_runs_one_pass_and_ct_flips_nothing() -> None:
    brain = _parser("brain_mri_dca_segmentation", "train.json")
    assert isinstance(brain.get_parsed_content("validate#inferer"), SlidingWindowInferer)
    ct = _parser("ct_dca_segmentation", "train.json")
    assert _trained_flip_axes(ct) == []  # organs sit left or right: no mirror in training, none at inference
    ct_inferer = _parser("ct_dca_segmentation", "inference.json").get_parsed_content("inferer")
    assert isinstance(ct_inferer, SlidingWindowInferer)
