from __future__ import annotations

import pytest

from dca_monai.nets import DCABasicUNet
from dca_monai.nets.skip_refinement import parse_dca_flag

SMALL = {"spatial_dims": 2, "features": (8, 8, 16, 16, 32, 8)}


@pytest.mark.parametrize("flag, expected", [(True, True), (False, False), ("false", False), ("True", True)])
def test_command_line_strings_switch_dca(flag, expected: bool) -> None:
    assert parse_dca_flag(flag) is expected
    net = DCABasicUNet(**SMALL, dca=flag)
    assert (net.dca is not None) is expected


@pytest.mark.parametrize("flag", ["no", 0, None, "falsy"])
def test_other_values_are_rejected_with_the_argument_named(flag) -> None:
    with pytest.raises(ValueError, match=r"dca=.* but True, False, 'true' or 'false' was expected"):
        DCABasicUNet(**SMALL, dca=flag)
