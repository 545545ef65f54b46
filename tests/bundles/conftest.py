"""Fixtures of the bundles' end-to-end tests: each bundle's CI dataset and trained root, made once per session.

A module asks for them through its own ``case`` fixture (a :class:`~tests.bundles.bundle_cases.BundleCase`,
parametrized over both bundles in ``test_bundle_contract.py``); the dataset and the training run are
cached by the case's name, so the shared contracts and a bundle's own tests use the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import pytest

from tests.bundles.bundle_cases import BundleCase
from tests.bundles.bundle_runner import BundleRun, run_bundle

T = TypeVar("T")


class _PerCase(Generic[T]):
    """``make(case)``, called once per case name and then remembered."""

    def __init__(self, make: Callable[[BundleCase], T]) -> None:
        self.make = make
        self.made: dict[str, T] = {}

    def __call__(self, case: BundleCase) -> T:
        if case.name not in self.made:
            self.made[case.name] = self.make(case)
        return self.made[case.name]


@pytest.fixture(scope="session")
def _datasets(tmp_path_factory: pytest.TempPathFactory) -> _PerCase[Path]:
    def build(case: BundleCase) -> Path:
        folder = tmp_path_factory.mktemp(f"{case.name}_dataset")
        case.build_dataset(folder)
        return folder

    return _PerCase(build)


@pytest.fixture(scope="session")
def _trainings(tmp_path_factory: pytest.TempPathFactory, _datasets: _PerCase[Path]) -> _PerCase[tuple[Path, BundleRun]]:
    def train(case: BundleCase) -> tuple[Path, BundleRun]:
        bundle_root = tmp_path_factory.mktemp(f"{case.name}_trained")
        overrides = case.train_overrides(_datasets(case), bundle_root)
        return bundle_root, run_bundle("run", "--config_file", case.configs("train.json"), overrides=overrides).check()

    return _PerCase(train)


@pytest.fixture(scope="module")
def dataset_dir(case: BundleCase, _datasets: _PerCase[Path]) -> Path:
    """The case's CI dataset (images, labels, ``datalist.json``), built once per session."""
    return _datasets(case)


@pytest.fixture(scope="module")
def trained(case: BundleCase, _trainings: _PerCase[tuple[Path, BundleRun]]) -> tuple[Path, BundleRun]:
    """A bundle root after the case's default training command, and that command; run once per session."""
    return _trainings(case)
