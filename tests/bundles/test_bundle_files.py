"""What each bundle folder ships in git: its configs and docs, never the state a run writes."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.bundles.bundle_runner import BUNDLES, REPO_ROOT

BUNDLE_NAMES = ["brain_mri_dca_segmentation", "ct_dca_segmentation"]
RUN_OUTPUTS = ("checkpoints/", "dataset/", "eval/")


def tracked_files(bundle: str) -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "--", f"bundles/{bundle}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return [line.removeprefix(f"bundles/{bundle}/") for line in listing.stdout.splitlines()]


@pytest.mark.parametrize("bundle", BUNDLE_NAMES)
def test_no_run_output_is_committed(bundle: str) -> None:
    # a committed checkpoints/last.pt would be resumed by every multi-GPU run started in the bundle folder
    files = tracked_files(bundle)
    assert "configs/train.json" in files
    assert [name for name in files if name.startswith(RUN_OUTPUTS)] == []


@pytest.mark.parametrize("bundle", BUNDLE_NAMES)
def test_run_outputs_are_ignored(bundle: str) -> None:
    paths = [f"bundles/{bundle}/{folder}last.pt" for folder in RUN_OUTPUTS]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert sorted(ignored.stdout.split()) == sorted(paths)
    assert (BUNDLES / bundle / ".gitignore").is_file()


def expressions(node: object) -> list[str]:
    """Every ``$`` expression in a parsed JSON config."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in expressions(value)]
    if isinstance(node, list):
        return [text for value in node for text in expressions(value)]
    return [node] if isinstance(node, str) and node.startswith("$") else []


@pytest.mark.parametrize("bundle", BUNDLE_NAMES)
def test_configs_are_components_not_code(bundle: str) -> None:
    # logic lives in named functions and _target_ components of the package, where it is tested
    long_ones = {}
    for config in sorted((BUNDLES / bundle / "configs").glob("*.json")):
        found = [text for text in expressions(json.loads(config.read_text())) if len(text) > 100]
        if found:
            long_ones[config.name] = found
    assert long_ones == {}
