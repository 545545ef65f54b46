from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.networks.nets import DynUNet
from monai.networks.utils import convert_to_torchscript

from dca_monai.nets.dca_dynunet import DCADynUNet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
)

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

ISOTROPIC = {"kernel_size": [3, 3, 3, 3], "strides": [1, 2, 2, 2], "upsample_kernel_size": [2, 2, 2]}
# no downsampling along the last axis in the first down block: that axis needs divisibility by 4 only
ANISOTROPIC_3D = {
    "kernel_size": [3, [3, 3, 1], 3, 3],
    "strides": [1, [2, 2, 1], 2, 2],
    "upsample_kernel_size": [[2, 2, 1], 2, 2],
}
FILTERS = [8, 16, 16, 32]


def small(spatial_dims: int, layout: dict | None = None, **kwargs) -> dict:
    return {
        "spatial_dims": spatial_dims,
        "in_channels": 1,
        "out_channels": 2,
        "filters": FILTERS,
        **(layout or ISOTROPIC),
        **kwargs,
    }


def test_output_shape_with_anisotropic_strides() -> None:
    kwargs = small(3, ANISOTROPIC_3D, in_channels=2, out_channels=3)
    assert_refined_shape(DCADynUNet, kwargs, (2, 2, 24, 16, 12), out_channels=3)


@pytest.mark.parametrize("first_stride", [1, 2])
def test_deep_supervision_output(first_stride: int) -> None:
    layout = {**ISOTROPIC, "strides": [first_stride, 2, 2, 2]}
    net = DCADynUNet(**small(2, layout, out_channels=3, deep_supervision=True, deep_supr_num=2))
    x = torch.rand(2, 1, 48, 32)
    out_size = (48 // first_stride, 32 // first_stride)
    with torch.no_grad():
        assert tuple(net.train()(x).shape) == (2, 3, 3, *out_size)
        assert tuple(net.eval()(x).shape) == (2, 3, *out_size)


@pytest.mark.parametrize(
    "spatial_dims, options",
    [
        (2, {"deep_supervision": True, "deep_supr_num": 2}),
        (3, {"deep_supervision": True, "deep_supr_num": 1, "res_block": True}),
    ],
)
def test_dca_off_equals_parent(spatial_dims: int, options: dict) -> None:
    # in train mode with deep supervision both return the stacked heads, compared as a whole
    assert_dca_off_equals_parent(DynUNet, DCADynUNet, small(spatial_dims, **options), (2, 1, *([16] * spatial_dims)))


def test_parent_checkpoint_with_deep_supervision_heads_loads() -> None:
    assert_parent_checkpoint_loads(DynUNet, DCADynUNet, small(3, deep_supervision=True))


def test_gradients_reach_every_dca_parameter_with_deep_supervision() -> None:
    kwargs = small(3, deep_supervision=True, deep_supr_num=2)
    assert_dca_gradients(DCADynUNet, kwargs, (2, 1, 16, 16, 8))


def test_taps_input_block_and_downsamples() -> None:
    net = DCADynUNet(**small(2)).eval()
    encoder = [net.input_block, *net.downsamples]
    seen: dict[str, list[torch.Tensor]] = {"encoder": [], "dca_in": [], "dca_out": []}
    for block in encoder:
        block.register_forward_hook(lambda module, args, output: seen["encoder"].append(output))
    net.dca.register_forward_hook(lambda module, args, output: seen["dca_in"].extend(args[0]))
    net.dca.register_forward_hook(lambda module, args, output: seen["dca_out"].extend(output))
    skip_inputs: list[torch.Tensor] = []
    for upsample in net.upsamples:
        upsample.register_forward_hook(lambda module, args, output: skip_inputs.append(args[1]))
    with torch.no_grad():
        net(torch.rand(1, 1, 32, 24))
    assert net.dca.skip_channels == FILTERS[:-1]
    assert [tuple(t.shape[1:]) for t in seen["dca_in"]] == [(8, 32, 24), (16, 16, 12), (16, 8, 6)]
    for tapped, encoded in zip(seen["dca_in"], seen["encoder"], strict=True):
        assert tapped is encoded
    # the decoder consumes the refined skips, deepest first
    for consumed, refined in zip(skip_inputs, reversed(seen["dca_out"]), strict=True):
        assert consumed is refined


def test_convert_to_torchscript_with_deep_supervision_matches_eager(tmp_path: Path) -> None:
    net = DCADynUNet(**small(2, deep_supervision=True)).eval()
    x = torch.rand(2, 1, 32, 24)
    path = tmp_path / "dca_dynunet.ts"
    # no graph optimisation (it only costs time); verify=True reloads the file and compares it with the eager model
    with torch.jit.optimized_execution(False):
        scripted = convert_to_torchscript(net, path, verify=True, inputs=[x], device=torch.device("cpu"), atol=1e-5)
        with torch.no_grad():
            expected = net(x)
            torch.testing.assert_close(scripted(x), expected, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(torch.jit.load(path)(x), expected, rtol=1e-4, atol=1e-5)


def test_scripted_deep_supervision_in_train_mode_stacks_heads(tmp_path: Path) -> None:
    net = DCADynUNet(**small(2, deep_supervision=True, deep_supr_num=2)).train()
    path = tmp_path / "dca_dynunet_train.ts"
    torch.jit.save(torch.jit.script(net), path)
    loaded = torch.jit.load(path).train()
    x = torch.rand(2, 1, 32, 24)
    with torch.no_grad(), torch.jit.optimized_execution(False):
        expected, actual = net(x), loaded(x)
    assert tuple(actual.shape) == (2, 3, 2, 32, 24)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_saved_torchscript_has_every_weight_once(tmp_path: Path) -> None:
    net = DCADynUNet(**small(2, deep_supervision=True))
    eager = {k: v for k, v in net.state_dict().items() if not k.startswith("skip_layers.")}
    path = tmp_path / "dca_dynunet.ts"
    torch.jit.save(torch.jit.script(net), path)
    scripted = torch.jit.load(path).state_dict()
    assert list(scripted) == list(eager)
    for key, value in eager.items():
        assert torch.equal(scripted[key], value), key
