"""Session fixtures the whole suite shares: the bundles' CI datasets and training runs, each made once.

The bundles' tests reach them through ``tests/bundles/conftest.py`` (``dataset_dir``, ``trained``,
``trained_parent`` of a module's ``case``); the demo's test (``tests/scripts/test_demo.py``) scores the
runs they made instead of training the bundle again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles.bundle_cases import BundleCase, MadeOnce
from tests.bundles.bundle_runner import BundleRun, run_bundle


@pytest.fixture(scope="session")
def bundle_datasets(tmp_path_factory: pytest.TempPathFactory) -> MadeOnce[Path]:
    """``bundle_datasets(case)``: the folder of the case's CI dataset (images, labels, ``datalist.json``)."""

    def build(case: BundleCase) -> Path:
        folder = tmp_path_factory.mktemp(f"{case.name}_dataset")
        case.build_dataset(folder)
        return folder

    return MadeOnce(build)


@pytest.fixture(scope="session")
def bundle_trainings(
    tmp_path_factory: pytest.TempPathFactory, bundle_datasets: MadeOnce[Path]
) -> MadeOnce[tuple[Path, BundleRun]]:
    """``bundle_trainings(case, dca)``: a bundle root after the case's training command, and that command.

    With ``dca`` False the command adds ``network_def#dca False`` and the case's ``dca_off_overrides``,
    and is the zoo's ``run training`` form (the ``training`` id runs the same expressions as ``run``).
    """

    def train(case: BundleCase, dca: bool) -> tuple[Path, BundleRun]:
        bundle_root = tmp_path_factory.mktemp(f"{case.name}_{'trained' if dca else 'parent_trained'}")
        if dca:
            overrides, ids = case.train_overrides(bundle_datasets(case), bundle_root), ()
        else:
            extra = {**case.dca_off_overrides, "network_def#dca": False}
            overrides, ids = case.train_overrides(bundle_datasets(case), bundle_root, **extra), ("training",)
        command = run_bundle("run", *ids, "--config_file", case.configs("train.json"), overrides=overrides)
        return bundle_root, command.check()

    return MadeOnce(train)
