from __future__ import annotations

import pytest
import torch
from monai.networks.nets import BasicUNet
from monai.networks.utils import convert_to_torchscript

from dca_monai.nets import DCABasicUNet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
)

SMALL = {"features": (8, 8, 16, 16, 32, 8)}


@pytest.mark.parametrize(
    "spatial_dims, batch, size",
    [(2, 1, (48, 80)), (2, 2, (35, 51)), (3, 1, (32, 48, 16)), (3, 2, (33, 17, 40))],
)
def test_output_shape(spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 2, "out_channels": 3, **SMALL}
    assert_refined_shape(DCABasicUNet, kwargs, (batch, 2, *size), out_channels=3)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_dca_off_equals_parent(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_dca_off_equals_parent(BasicUNet, DCABasicUNet, kwargs, (2, 1, *([32] * spatial_dims)))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parent_checkpoint_loads(spatial_dims: int) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_parent_checkpoint_loads(BasicUNet, DCABasicUNet, kwargs)


def test_gradients_reach_every_dca_parameter() -> None:
    kwargs = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, **SMALL}
    assert_dca_gradients(DCABasicUNet, kwargs, (2, 1, 32, 32, 32))


def test_dca_args_are_passed_to_the_block() -> None:
    net = DCABasicUNet(spatial_dims=2, features=(8, 8, 16, 16, 32, 8), dca_args={"token_pool": 2, "n_blocks": 2})
    assert net.dca is not None
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2


def test_dca_args_may_not_override_skip_channels() -> None:
    with pytest.raises(ValueError, match=r"dca_args\['skip_channels'\]"):
        DCABasicUNet(spatial_dims=2, dca_args={"skip_channels": [1, 2, 3, 4]})


@pytest.mark.parametrize("dca", [True, False])
def test_torchscript_through_monai_export_matches_eager(tmp_path, dca: bool) -> None:
    net = DCABasicUNet(spatial_dims=3, in_channels=1, out_channels=2, dca=dca, **SMALL).eval()
    path = tmp_path / "net.ts"
    convert_to_torchscript(net, filename_or_obj=str(path), verify=True, inputs=[torch.rand(1, 1, 32, 32, 16)])
    loaded = torch.jit.load(str(path))
    x = torch.rand(2, 1, 48, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), rtol=1e-4, atol=1e-5)
