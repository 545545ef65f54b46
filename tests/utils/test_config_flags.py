from __future__ import annotations

import numpy as np
import pytest

from dca_monai.utils.config_flags import require_bool, require_non_negative_int


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.bool_(False)])
def test_booleans_pass_as_python_bools(value) -> None:
    result = require_bool("resume", value)
    assert type(result) is bool and result == bool(value)


@pytest.mark.parametrize("value, spelled", [("false", "False"), ("true", "True"), (" FALSE", "False")])
def test_command_line_strings_are_rejected_with_the_spelling_to_use(value: str, spelled: str) -> None:
    expected = rf"resume={value!r} but True or False was expected; on the command line write {spelled}, capitalized"
    with pytest.raises(TypeError, match=expected):
        require_bool("resume", value)


@pytest.mark.parametrize("value", [0, 1, None, "yes", 1.0])
def test_other_values_are_rejected(value) -> None:
    with pytest.raises(TypeError, match=r"network_def#dca=.* but True or False was expected$"):
        require_bool("network_def#dca", value)


@pytest.mark.parametrize("value", [0, 1, 100, np.int64(5)])
def test_counts_pass_as_python_ints(value) -> None:
    result = require_non_negative_int("snapshot_interval", value)
    assert type(result) is int and result == int(value)


@pytest.mark.parametrize("value", [True, 1.0, "100", None])
def test_counts_reject_other_types(value) -> None:
    with pytest.raises(TypeError, match=r"snapshot_interval=.* but a whole number >= 0 was expected"):
        require_non_negative_int("snapshot_interval", value)


def test_counts_reject_negative_numbers() -> None:
    with pytest.raises(ValueError, match=r"snapshot_interval=-1 but a whole number >= 0 was expected"):
        require_non_negative_int("snapshot_interval", -1)
