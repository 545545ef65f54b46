from __future__ import annotations

import pytest
import torch
from monai.inferers import SimpleInferer, SlidingWindowInferer
from torch import nn

from dca_monai.inferers import FlipAveragedInferer


def _asymmetric_net(spatial_dims: int) -> nn.Module:
    """A random convolution: its output changes when its input is mirrored."""
    torch.manual_seed(0)
    conv = nn.Conv3d if spatial_dims == 3 else nn.Conv2d
    return conv(1, 2, 3, padding=1)


class _CallCounter(SimpleInferer):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def __call__(self, inputs: torch.Tensor, network, *args, **kwargs):
        self.inputs.append(inputs)
        return super().__call__(inputs, network, *args, **kwargs)


def test_the_average_is_mirror_symmetric_though_the_network_is_not() -> None:
    net = _asymmetric_net(3)
    x = torch.rand(1, 1, 7, 6, 5)
    flipped = torch.flip(x, [2])
    assert not torch.allclose(torch.flip(net(flipped), [2]), net(x), atol=1e-3)
    inferer = FlipAveragedInferer(SimpleInferer(), spatial_axes=[0])
    with torch.no_grad():
        torch.testing.assert_close(inferer(flipped, net), torch.flip(inferer(x, net), [2]), rtol=0, atol=1e-6)
        torch.testing.assert_close(inferer(x, net), (net(x) + torch.flip(net(flipped), [2])) / 2)


def test_two_axes_average_four_mirror_images() -> None:
    net = _asymmetric_net(2)
    x = torch.rand(2, 1, 9, 8)
    counter = _CallCounter()
    with torch.no_grad():
        out = FlipAveragedInferer(counter, spatial_axes=[0, 1])(x, net)
    seen = {tuple(t.flatten().tolist()) for t in counter.inputs}
    expected = {tuple(torch.flip(x, dims).flatten().tolist()) for dims in ([], [2], [3], [2, 3])}
    assert len(counter.inputs) == 4 and seen == expected
    for dims in ([2], [3], [2, 3]):  # symmetric under each mirror it averaged over
        with torch.no_grad():
            mirrored = FlipAveragedInferer(SimpleInferer(), spatial_axes=[0, 1])(torch.flip(x, dims), net)
        torch.testing.assert_close(torch.flip(mirrored, dims), out, rtol=0, atol=1e-6)


def test_no_axes_is_the_wrapped_inferer() -> None:
    net = _asymmetric_net(2)
    x = torch.rand(1, 1, 8, 8)
    counter = _CallCounter()
    with torch.no_grad():
        out = FlipAveragedInferer(counter, spatial_axes=[])(x, net)
        torch.testing.assert_close(out, net(x), rtol=0, atol=0)
    assert len(counter.inputs) == 1


def test_the_input_is_left_untouched_by_an_identity_network() -> None:
    x = torch.rand(1, 1, 5, 4)
    before = x.clone()
    with torch.no_grad():
        out = FlipAveragedInferer(SimpleInferer(), spatial_axes=[0])(x, nn.Identity())
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    torch.testing.assert_close(out, x)  # each mirror image flipped back is the input again
    assert out.data_ptr() != x.data_ptr()


def test_wraps_a_sliding_window_on_an_odd_size() -> None:
    net = _asymmetric_net(3)
    x = torch.rand(1, 1, 13, 11, 9)
    window = SlidingWindowInferer(roi_size=(8, 8, 8), sw_batch_size=2, overlap=0.25, mode="gaussian")
    inferer = FlipAveragedInferer(window, spatial_axes=[0])
    with torch.no_grad():
        out = inferer(x, net)
        mirrored = inferer(torch.flip(x, [2]), net)
    assert out.shape == (1, 2, 13, 11, 9)
    torch.testing.assert_close(torch.flip(mirrored, [2]), out, rtol=0, atol=1e-5)


def test_gradients_flow_through_every_pass() -> None:
    net = _asymmetric_net(2)
    FlipAveragedInferer(SimpleInferer(), spatial_axes=[1])(torch.rand(1, 1, 6, 6), net).sum().backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("inferer", "axes", "error", "match"),
    [
        (3, [0], TypeError, "inferer=3"),
        (SimpleInferer(), 0, TypeError, "spatial_axes=0"),
        (SimpleInferer(), "0", TypeError, "spatial_axes='0'"),
        (SimpleInferer(), [0.5], TypeError, "must be an int"),
        (SimpleInferer(), [True], TypeError, "must be an int"),
        (SimpleInferer(), [-1], ValueError, "distinct non-negative"),
        (SimpleInferer(), [0, 0], ValueError, "distinct non-negative"),
    ],
)
def test_bad_arguments_are_named(inferer, axes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        FlipAveragedInferer(inferer, spatial_axes=axes)


def test_an_axis_beyond_the_input_is_named_at_call() -> None:
    inferer = FlipAveragedInferer(SimpleInferer(), spatial_axes=[2])
    with pytest.raises(ValueError, match=r"spatial_axes=\[2\] but the input \(1, 1, 4, 4\) has 2 spatial"):
        inferer(torch.rand(1, 1, 4, 4), _asymmetric_net(2))


def test_a_non_tensor_output_is_refused() -> None:
    inferer = FlipAveragedInferer(lambda inputs, network: [network(inputs)], spatial_axes=[0])
    with pytest.raises(TypeError, match="returned list"):
        inferer(torch.rand(1, 1, 4, 4), _asymmetric_net(2))
