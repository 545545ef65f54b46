from __future__ import annotations

import inspect

import pytest
import torch
from monai.networks.nets import SwinUNETR
from torch._dynamo.testing import CompileCounterWithBackend

from dca_monai.nets.dca_swin_unetr import DCASwinUNETR
from tests.nets.net_checks import assert_dca_off_equals_parent

# the contracts every DCA network keeps (shapes, parent weights, TorchScript, ...) are in test_net_contract.py

# skips of 12, 12, 24, 48, 96 channels; one Swin block per stage keeps the tests fast; group norm (unlike
# the default instance norm) accepts the 1-voxel stride-32 bottleneck of a 32-voxel input
SMALL = {"feature_size": 12, "depths": (1, 1, 1, 1), "norm_name": ("group", {"num_groups": 4})}


def test_dca_sees_the_documented_skips() -> None:
    net = DCASwinUNETR(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    seen: list[tuple[int, ...]] = []
    net.dca.register_forward_pre_hook(lambda module, args: seen.extend(tuple(s.shape) for s in args[0]))
    net(torch.rand(1, 1, 64, 96))
    assert seen == [(1, 12, 64, 96), (1, 12, 32, 48), (1, 24, 16, 24), (1, 48, 8, 12), (1, 96, 4, 6)]


def test_input_size_is_checked_with_the_parents_message() -> None:
    net = DCASwinUNETR(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    parent = SwinUNETR(spatial_dims=2, in_channels=1, out_channels=2, **SMALL)
    x = torch.rand(1, 1, 48, 64)
    with pytest.raises(ValueError) as expected:
        parent(x)
    with pytest.raises(ValueError) as got:
        net(x)
    assert str(got.value) == str(expected.value)
    assert "spatial dimensions [2]" in str(got.value)


def test_compiles_without_the_parents_graph_break() -> None:
    # MONAI's NumPy size check breaks SwinUNETR's graph at its first line; here that break would leave the skip
    # refinement a frame of its own, with skip sizes unrelated to the input's (inductor spent over 48 minutes on it)
    x = torch.rand(1, 1, 64, 96)
    nets = [cls(spatial_dims=2, in_channels=1, out_channels=2, **SMALL).eval() for cls in (SwinUNETR, DCASwinUNETR)]
    breaks = []
    for net in nets:
        torch._dynamo.reset()
        with torch.no_grad():
            breaks.append(torch._dynamo.explain(net)(x).graph_break_count)
    torch._dynamo.reset()
    assert breaks[1] == 0 and breaks[0] >= breaks[1], breaks


def test_constructor_is_the_parents_plus_dca() -> None:
    # the arguments MONAI 1.5 and 1.6 share are explicit, in the parent's order (checked for every net in
    # test_net_contract.py); newer ones go through **swin_kwargs
    ours = list(inspect.signature(DCASwinUNETR).parameters.values())
    assert [p.name for p in ours[-4:-1]] == ["use_v2", "dca", "dca_args"]
    assert ours[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_version_specific_parent_arguments_pass_through() -> None:
    extra = [p.name for p in inspect.signature(SwinUNETR).parameters.values()][len(SWIN_SHARED_ARGS) :]
    if not extra:
        pytest.skip(f"this MONAI's SwinUNETR has no arguments beyond {SWIN_SHARED_ARGS[-1]!r}")
    name = extra[-1]
    default = inspect.signature(SwinUNETR).parameters[name].default
    net = DCASwinUNETR(in_channels=1, out_channels=2, spatial_dims=2, **SMALL, **{name: default})
    assert net.dca is not None
    with pytest.raises(TypeError, match="not_an_argument"):
        DCASwinUNETR(in_channels=1, out_channels=2, spatial_dims=2, **SMALL, not_an_argument=1)


SWIN_SHARED_ARGS = [p.name for p in list(inspect.signature(DCASwinUNETR).parameters.values())[:-3]]


@pytest.mark.parametrize(
    "spatial_dims, extra",
    [
        # the parent's defaults (two Swin blocks per stage, instance norm) need one axis of 64 in training
        (2, {"depths": (2, 2, 2, 2), "norm_name": "instance"}),
        (2, {"use_v2": True, "normalize": False, "norm_name": "batch"}),
    ],
)
def test_dca_off_equals_parent(spatial_dims: int, extra: dict) -> None:
    kwargs = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": 2, **SMALL, **extra}
    assert_dca_off_equals_parent(SwinUNETR, DCASwinUNETR, kwargs, (2, 1, 64, *([32] * (spatial_dims - 1))))


@pytest.mark.slow
@pytest.mark.parametrize("train", [False, True])
def test_one_graph_for_every_batch_size_with_static_spatial_sizes(train: bool) -> None:
    # SwinUNETR's recipe in docs/gpu.md: symbolic batch, static spatial sizes (its dynamic=True compile does
    # not finish here); no DCA code may specialise on the batch. aot_eager: the same graphs as inductor's input.
    torch.manual_seed(0)
    net = DCASwinUNETR(spatial_dims=3, in_channels=1, out_channels=2, **SMALL).train(train)
    counter = CompileCounterWithBackend("aot_eager")
    torch._dynamo.reset()
    compiled = torch.compile(net, backend=counter)
    with torch._dynamo.config.patch(automatic_dynamic_shapes=False):
        for batch in (2, 3, 5):
            x = torch.rand(batch, 1, 32, 64, 32)
            torch._dynamo.mark_dynamic(x, 0)
            state = {k: v.clone() for k, v in net.state_dict().items()}
            expected = net(x)
            net.load_state_dict(state)  # the same normalisation statistics for both
            got = compiled(x)
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
            if train:
                got.pow(2).mean().backward()
    torch._dynamo.reset()
    assert counter.frame_count == 1, f"{counter.frame_count} frames compiled for batches 2, 3 and 5"
