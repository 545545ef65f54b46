from __future__ import annotations

import numpy as np
import pytest

from dca_monai.nets import DCABasicUNet

SMALL = {"spatial_dims": 2, "features": (8, 8, 16, 16, 32, 8)}


@pytest.mark.parametrize("flag, expected", [(True, True), (False, False), (np.bool_(False), False)])
def test_booleans_switch_dca(flag, expected: bool) -> None:
    net = DCABasicUNet(**SMALL, dca=flag)
    assert (net.dca is not None) is expected


@pytest.mark.parametrize("flag", ["false", "True", "no", 0, None])
def test_anything_but_a_bool_is_rejected_with_the_argument_named(flag) -> None:
    with pytest.raises(TypeError, match=r"dca=.* but True or False was expected"):
        DCABasicUNet(**SMALL, dca=flag)
