"""Fixtures of the bundles' end-to-end tests: the case's CI dataset and training runs, made once per session.

A module asks for them through its own ``case`` fixture (a :class:`~tests.bundles.bundle_cases.BundleCase`,
parametrized over both bundles in ``test_bundle_contract.py``); ``tests/conftest.py`` makes each dataset
and run once per session, so the shared contracts, a bundle's own tests and the demo's test
(``tests/scripts/test_demo.py``) use the same ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles.bundle_cases import BundleCase, MadeOnce
from tests.bundles.bundle_runner import BundleRun


@pytest.fixture(scope="module")
def dataset_dir(case: BundleCase, bundle_datasets: MadeOnce[Path]) -> Path:
    """The case's CI dataset (images, labels, ``datalist.json``), built once per session."""
    return bundle_datasets(case)


@pytest.fixture(scope="module")
def trained(case: BundleCase, bundle_trainings: MadeOnce[tuple[Path, BundleRun]]) -> tuple[Path, BundleRun]:
    """A bundle root after the case's default training command, and that command; run once per session."""
    return bundle_trainings(case, True)


@pytest.fixture(scope="module")
def trained_parent(case: BundleCase, bundle_trainings: MadeOnce[tuple[Path, BundleRun]]) -> tuple[Path, BundleRun]:
    """The same with ``network_def#dca False`` (exactly MONAI's DynUNet); run once per session."""
    return bundle_trainings(case, False)
