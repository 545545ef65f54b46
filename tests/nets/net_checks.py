"""Checks every DCA network must pass, shared by the per-network test modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "assert_dca_gradients",
    "assert_dca_off_equals_parent",
    "assert_parent_checkpoint_loads",
    "assert_refined_shape",
    "assert_traced_equals_eager",
]


def _first_output(output: Any) -> torch.Tensor:
    """The main prediction of a network output (a tensor, or the first of a list/tuple)."""
    return output[0] if isinstance(output, (list, tuple)) else output


def _build(factory: Callable[..., nn.Module], seed: int, **kwargs: Any) -> nn.Module:
    torch.manual_seed(seed)
    return factory(**kwargs)


def assert_dca_off_equals_parent(
    parent: Callable[..., nn.Module], variant: Callable[..., nn.Module], kwargs: dict, input_shape: Sequence[int]
) -> None:
    """``variant(dca=False)`` has the parent's exact weights (same seed) and outputs, in eval and train mode.

    Each forward starts from the same random state, so active dropout draws the same masks in both.
    """
    reference = _build(parent, 0, **kwargs)
    plain = _build(variant, 0, dca=False, **kwargs)
    assert getattr(plain, "dca", "missing") is None
    ref_state, plain_state = reference.state_dict(), plain.state_dict()
    assert list(ref_state) == list(plain_state)
    for key, value in ref_state.items():
        assert torch.equal(value, plain_state[key]), key
    x = torch.rand(*input_shape)
    for mode in (False, True):
        reference.train(mode)
        plain.train(mode)
        with torch.no_grad():
            torch.manual_seed(3)
            expected = _first_output(reference(x))
            torch.manual_seed(3)
            torch.testing.assert_close(_first_output(plain(x)), expected, rtol=0, atol=0)


def assert_parent_checkpoint_loads(
    parent: Callable[..., nn.Module], variant: Callable[..., nn.Module], kwargs: dict
) -> None:
    """A parent state dict loads into the DCA variant with only ``dca.*`` keys missing, and is used."""
    source = _build(parent, 1, **kwargs)
    target = _build(variant, 2, **kwargs)
    result = target.load_state_dict(source.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys, "the DCA variant should have dca.* parameters the parent lacks"
    assert all(key.startswith("dca.") for key in result.missing_keys), result.missing_keys
    target_state = target.state_dict()
    for key, value in source.state_dict().items():
        assert torch.equal(target_state[key], value), key


def assert_refined_shape(
    variant: Callable[..., nn.Module], kwargs: dict, input_shape: Sequence[int], out_channels: int
) -> None:
    """The DCA variant maps ``(B, in, *S)`` to ``(B, out_channels, *S)`` in train and eval mode, finite."""
    net = _build(variant, 0, **kwargs)
    x = torch.rand(*input_shape)
    for mode in (True, False):
        net.train(mode)
        with torch.no_grad():
            y = _first_output(net(x))
        assert tuple(y.shape) == (input_shape[0], out_channels, *input_shape[2:])
        assert torch.isfinite(y).all()


def assert_dca_gradients(variant: Callable[..., nn.Module], kwargs: dict, input_shape: Sequence[int]) -> None:
    """A backward pass gives every ``dca`` parameter a finite, non-zero gradient."""
    net = _build(variant, 0, **kwargs).train()
    output = net(torch.rand(*input_shape))
    loss = (
        sum(_first_output(o).pow(2).mean() for o in output)
        if isinstance(output, (list, tuple))
        else output.pow(2).mean()
    )
    loss.backward()
    dca_params = dict(net.dca.named_parameters())
    assert dca_params
    for name, parameter in dca_params.items():
        assert parameter.grad is not None, f"dca.{name} got no gradient"
        assert torch.isfinite(parameter.grad).all(), f"dca.{name} has a non-finite gradient"
        assert parameter.grad.abs().sum() > 0, f"dca.{name} has an all-zero gradient"


def assert_traced_equals_eager(net: nn.Module, input_shape: Sequence[int], atol: float = 1e-5) -> None:
    """``torch.jit.trace`` of the network gives the eager outputs (eval mode), also on a new input."""
    net = net.eval()
    # no trace check run and no graph optimisation: both only cost time in a test of correctness
    with torch.no_grad(), torch.jit.optimized_execution(False):
        traced = torch.jit.trace(net, torch.rand(*input_shape), check_trace=False)
        x = torch.rand(*input_shape)
        torch.testing.assert_close(traced(x), net(x), rtol=1e-4, atol=atol)
