from __future__ import annotations

import pytest

from dca_monai import nets
from dca_monai.nets.registry import DCA_NETS, dca_net_spec
from dca_monai.nets.skip_refinement import SkipRefinement
from tests.nets.net_cases import SMALL_NETS, small_net


def test_every_exported_dca_net_has_one_row() -> None:
    exported = {name for name in nets.__all__ if name != "SkipRefinement"}
    assert sorted(spec.name for spec in DCA_NETS) == sorted(exported)


@pytest.mark.parametrize("spec", DCA_NETS, ids=lambda spec: spec.name)
def test_rows_are_consistent(spec) -> None:
    assert issubclass(spec.net, SkipRefinement) and issubclass(spec.net, spec.parent)
    assert spec.typical, "count_parameters.py prints a typical configuration of every net"


def test_every_row_has_a_small_test_instance() -> None:
    assert [case.spec for case in SMALL_NETS] == list(DCA_NETS)


@pytest.mark.parametrize("case", SMALL_NETS, ids=lambda case: case.name)
def test_small_instances_are_consistent(case) -> None:
    assert set(case.input_sizes) == set(case.small)
    assert all(len(size) == dims for dims, sizes in case.input_sizes.items() for size in sizes)


def test_small_kwargs_fix_the_input_size_where_the_parent_needs_it() -> None:
    unetr = small_net("DCAUNETR")
    assert unetr.small_kwargs(2, (32, 48), in_channels=3)["img_size"] == (32, 48)
    assert unetr.small_kwargs(3)["img_size"] == unetr.input_sizes[3][0]
    assert "img_size" not in small_net("DCABasicUNet").small_kwargs(2)


def test_unknown_names_and_dims_are_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="'DCAUNet' is not in DCA_NETS"):
        dca_net_spec("DCAUNet")
    with pytest.raises(ValueError, match=r"DCAVNet: spatial_dims=1 but the table has \[2, 3\]"):
        small_net("DCAVNet").small_kwargs(1)
