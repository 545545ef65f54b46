from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.data.datalist_files import write_clean_datalist


@pytest.fixture
def clean_datalist(tmp_path: Path) -> dict[str, Any]:
    """A datalist with 2 training, 1 validation and 1 unlabelled test case in ``tmp_path``, valid for 3 classes."""
    return write_clean_datalist(tmp_path)
