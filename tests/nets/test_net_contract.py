"""The contracts every DCA network keeps, run over the small instances of ``tests/nets/net_cases.py``.

Each network's own file (``test_dca_<parent module>.py``) tests only what is specific to it.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from monai.networks.utils import convert_to_torchscript

from tests.nets.net_cases import SMALL_NETS, SmallNet
from tests.nets.net_checks import (
    assert_dca_gradients,
    assert_dca_off_equals_parent,
    assert_parent_checkpoint_loads,
    assert_refined_shape,
    assert_traced_equals_eager,
)


def _cases(per_spec) -> list:
    """``pytest.param`` for every (row, *case) that ``per_spec(row)`` yields, with readable ids."""
    params = []
    for spec in SMALL_NETS:
        for case in per_spec(spec):
            case_id = "-".join(str(part) for part in case).replace(" ", "")
            params.append(pytest.param(spec, *case, id="-".join(filter(None, (spec.name, case_id)))))
    return params


def _build(spec: SmallNet, spatial_dims: int, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return spec.net(**spec.small_kwargs(spatial_dims), **kwargs)


def _input_shape(spec: SmallNet, spatial_dims: int, batch: int = 2) -> tuple[int, ...]:
    return (batch, 1, *spec.input_sizes[spatial_dims][0])


def _shape_cases(spec: SmallNet):
    for spatial_dims, sizes in spec.input_sizes.items():
        for index, size in enumerate(sizes):
            yield spatial_dims, 2 - index % 2, size  # batch 2, 1, 2, ...


@pytest.mark.parametrize("spec, spatial_dims, batch, size", _cases(_shape_cases))
def test_output_shape(spec: SmallNet, spatial_dims: int, batch: int, size: tuple[int, ...]) -> None:
    kwargs = spec.small_kwargs(spatial_dims, size, in_channels=2, out_channels=3)
    assert_refined_shape(spec.net, kwargs, (batch, 2, *size), out_channels=3)


@pytest.mark.parametrize("spec, spatial_dims", _cases(lambda spec: [(dims,) for dims in spec.small]))
def test_dca_off_equals_parent(spec: SmallNet, spatial_dims: int) -> None:
    kwargs = spec.small_kwargs(spatial_dims)
    assert_dca_off_equals_parent(spec.parent, spec.net, kwargs, _input_shape(spec, spatial_dims))


@pytest.mark.parametrize("spec, spatial_dims", _cases(lambda spec: [(dims,) for dims in spec.small]))
def test_parent_checkpoint_loads(spec: SmallNet, spatial_dims: int) -> None:
    assert_parent_checkpoint_loads(spec.parent, spec.net, spec.small_kwargs(spatial_dims))


@pytest.mark.parametrize("spec", _cases(lambda spec: [()]))
def test_gradients_reach_every_dca_parameter(spec: SmallNet) -> None:
    assert_dca_gradients(spec.net, spec.small_kwargs(3), _input_shape(spec, 3))


@pytest.mark.parametrize("spec", _cases(lambda spec: [()]))
def test_dca_refines_the_skips_it_was_built_for(spec: SmallNet) -> None:
    net = _build(spec, 2, dca_args={"token_pool": 2, "n_blocks": 2}).eval()
    assert net.dca.token_pool == [2, 2]
    assert len(net.dca.blocks) == 2
    seen: dict[str, list[tuple[int, ...]]] = {}
    net.dca.register_forward_hook(
        lambda module, args, output: seen.update(inputs=[s.shape for s in args[0]], outputs=[s.shape for s in output])
    )
    with torch.no_grad():
        net(torch.rand(*_input_shape(spec, 2)))
    assert [shape[1] for shape in seen["inputs"]] == list(net.dca.skip_channels)
    assert seen["outputs"] == seen["inputs"]


@pytest.mark.parametrize("spec, fixed", _cases(lambda spec: [("spatial_dims",), ("skip_channels",)]))
def test_dca_args_may_not_set_what_the_network_sets(spec: SmallNet, fixed: str) -> None:
    with pytest.raises(ValueError, match=rf"dca_args\['{fixed}'\]=.* but the network sets {fixed} itself"):
        spec.net(**spec.small_kwargs(2), dca_args={fixed: 1})


@pytest.mark.parametrize("spec", _cases(lambda spec: [()]))
def test_constructor_is_the_parents_plus_dca(spec: SmallNet) -> None:
    ours = list(inspect.signature(spec.net).parameters.values())
    theirs = [(p.name, p.default) for p in inspect.signature(spec.parent).parameters.values()]
    passes_on_more = ours[-1].kind is inspect.Parameter.VAR_KEYWORD  # e.g. arguments newer MONAI versions add
    named = [(p.name, p.default) for p in (ours[:-1] if passes_on_more else ours)]
    assert named[-2:] == [("dca", True), ("dca_args", None)]
    explicit = named[:-2]
    assert explicit == (theirs[: len(explicit)] if passes_on_more else theirs)


# with DCA in 2D and without in 3D: the parent's 2D and 3D layers and the block in the seam (the block
# alone is scripted in 3D in tests/blocks)
@pytest.mark.parametrize("spec, spatial_dims, dca", _cases(lambda spec: [(2, True), (3, False)]))
def test_torchscript_matches_eager(spec: SmallNet, spatial_dims: int, dca: bool, tmp_path: Path) -> None:
    net = _build(spec, spatial_dims, dca=dca).eval()
    shape = _input_shape(spec, spatial_dims)
    if not spec.scriptable:
        assert_traced_equals_eager(net, shape)
        return
    path = tmp_path / f"{spec.name}.ts"
    x, x_new = torch.rand(*shape), torch.rand(1, *shape[1:])
    # no graph optimisation: it only costs time (seconds per run) in a test of correctness
    with torch.jit.optimized_execution(False):
        # verify=True reloads the file and compares it with the eager network on x, raising on a mismatch
        convert_to_torchscript(net, path, verify=True, inputs=[x], device=torch.device("cpu"), atol=1e-5)
        loaded = torch.jit.load(path)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x_new), net(x_new), rtol=1e-4, atol=1e-5)
    ignored = tuple(f"{name}." for name in getattr(net, "__jit_ignored_attributes__", ()))
    assert list(loaded.state_dict()) == [key for key in net.state_dict() if not key.startswith(ignored)]
