from __future__ import annotations

import numpy as np
import pytest

from dca_monai.utils.config_flags import require_bool


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
