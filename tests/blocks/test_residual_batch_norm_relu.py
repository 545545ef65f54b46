from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from dca_monai.blocks import DualCrossAttention
from dca_monai.blocks.residual_batch_norm_relu import residual_batch_norm_relu, supports_fused_batch_norm_relu

CHANNELS = [8, 16, 24, 32]
SIZES = {2: (32, 24), 3: (16, 12, 20)}


def _skips(spatial_dims: int, batch: int = 2) -> list[torch.Tensor]:
    skips, current = [], list(SIZES[spatial_dims])
    for c in CHANNELS:
        skips.append(torch.randn(batch, c, *current, dtype=torch.float64))
        current = [(s + 1) // 2 for s in current]
    return skips


def _randomise_norms(block: DualCrossAttention, gamma: str) -> None:
    with torch.no_grad():
        for adn in block.output_adn:
            adn.N.weight.uniform_(0.5, 1.5)
            adn.N.bias.uniform_(-0.5, 0.5)
            adn.N.running_mean.uniform_(-0.2, 0.2)
            adn.N.running_var.uniform_(0.5, 2.0)
            if gamma == "negative":
                adn.N.weight[::2] *= -1
            elif gamma == "zero":
                adn.N.weight[0] = 0.0


def _run(block: DualCrossAttention, skips: list[torch.Tensor], steps: int = 2):
    """Outputs of the last of ``steps`` forward+backward passes, the skips' and parameters' gradients, buffers."""
    for _ in range(steps):
        block.zero_grad(set_to_none=True)
        inputs = [s.clone().requires_grad_() for s in skips]
        outputs = block(inputs)
        seeds = [torch.Generator().manual_seed(i) for i in range(len(outputs))]
        weights = [torch.randn(o.shape, dtype=o.dtype, generator=g) for o, g in zip(outputs, seeds)]
        torch.autograd.backward(outputs, weights)
    grads = {name: p.grad for name, p in block.named_parameters()}
    buffers = {name: b.clone() for name, b in block.named_buffers()}
    return outputs, [x.grad for x in inputs], grads, buffers


def _fused_stages(outputs: list[torch.Tensor]) -> list[bool]:
    return ["ResidualBatchNormReLU" in type(o.grad_fn).__name__ for o in outputs]


@pytest.mark.parametrize("gamma", ["positive", "negative", "zero"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_fused_tail_equals_adn_modules_in_float64(spatial_dims: int, training: bool, gamma: str) -> None:
    torch.manual_seed(0)
    fused = DualCrossAttention(spatial_dims, CHANNELS, fused_tail=True).double()
    _randomise_norms(fused, gamma)
    plain = copy.deepcopy(fused)
    plain.fused_tail = False
    skips = _skips(spatial_dims)
    out_f, skip_grads_f, grads_f, buffers_f = _run(fused.train(training), skips)
    out_p, skip_grads_p, grads_p, buffers_p = _run(plain.train(training), skips)
    # the fused path runs where it is exact; a zero gamma falls back to the ADN modules
    assert _fused_stages(out_f) == [gamma != "zero"] * len(CHANNELS)
    assert _fused_stages(out_p) == [False] * len(CHANNELS)
    for a, b in zip(out_f, out_p):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # the same batch-norm kernel: bit-identical
    for name in buffers_p:  # running mean/var and num_batches_tracked
        torch.testing.assert_close(buffers_f[name], buffers_p[name], rtol=0, atol=0)
    for a, b in zip(skip_grads_f, skip_grads_p):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert grads_f.keys() == grads_p.keys()
    for name in grads_p:  # every parameter, incl. gamma/beta, the 1x1 convolutions and the attention
        torch.testing.assert_close(grads_f[name], grads_p[name], rtol=0, atol=1e-10, msg=name)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_fused_tail_keeps_one_skip_sized_tensor_per_stage_for_backward(spatial_dims: int) -> None:
    torch.manual_seed(0)
    skips = [s.float().requires_grad_() for s in _skips(spatial_dims)]
    full = skips[0].numel()
    counts = {}
    for fused_tail in (True, False):
        block = DualCrossAttention(spatial_dims, CHANNELS, fused_tail=fused_tail)
        saved: list[int] = []

        def pack(t: torch.Tensor, saved=saved) -> torch.Tensor:
            if t.numel() == full and t.data_ptr() != skips[0].data_ptr():  # the block's own, not the skip
                saved.append(t.data_ptr())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            block(skips)
        counts[fused_tail] = len(set(saved))
    # unfused: batch norm keeps its input, ReLU its output; fused: only the norm's output
    assert counts == {True: 1, False: 2}


def _assert_same_gradients(
    out_fused: torch.Tensor, fused: nn.Module, out_ref: torch.Tensor, reference: nn.Module, inputs: list[torch.Tensor]
) -> None:
    """The gradients of ``inputs`` and of each module's parameters agree (1e-12) for one random output gradient."""
    grad = torch.randn_like(out_ref)
    expected = torch.autograd.grad(out_ref, [*inputs, *reference.parameters()], grad)
    got = torch.autograd.grad(out_fused, [*inputs, *fused.parameters()], grad)
    assert len(got) == len(expected) == len(inputs) + len(list(reference.parameters()))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def _norm_relu(norm: nn.Module, inplace: bool) -> nn.Sequential:
    return nn.Sequential(norm, nn.ReLU(inplace=inplace)).double()


@pytest.mark.parametrize(
    "norm_args",
    [
        {},
        {"momentum": None},
        {"affine": False},
        {"track_running_stats": False},
        {"momentum": 0.3, "eps": 1e-3},
    ],
    ids=["default", "cumulative", "no-affine", "no-running-stats", "momentum-eps"],
)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_function_equals_batch_norm_then_relu(norm_args: dict, training: bool) -> None:
    torch.manual_seed(0)
    reference = _norm_relu(nn.BatchNorm3d(5, **norm_args), inplace=False).train(training)
    if reference[0].weight is not None:
        with torch.no_grad():
            reference[0].weight.uniform_(-1.5, 1.5).add_(torch.sign(reference[0].weight) * 0.5)
            reference[0].bias.uniform_(-0.5, 0.5)
    fused = copy.deepcopy(reference)
    for _ in range(3):  # num_batches_tracked and the running averages over several steps
        x = torch.randn(2, 5, 6, 4, 3, dtype=torch.float64)
        skip = torch.randn_like(x, requires_grad=True)
        upsampled = (x * 1.0).requires_grad_()
        assert supports_fused_batch_norm_relu(fused[0], fused[1], x)
        out_ref = reference(upsampled + skip)
        upsampled_f = upsampled.clone()
        out_fused = residual_batch_norm_relu(upsampled_f, skip, fused[0])
        assert out_fused.data_ptr() == upsampled_f.data_ptr()  # written into the caller's buffer
        torch.testing.assert_close(out_fused, out_ref, rtol=0, atol=0)
        _assert_same_gradients(out_fused, fused, out_ref, reference, [upsampled, skip])
        for a, b in zip(fused.buffers(), reference.buffers()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels-last"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_function_on_channels_last_equals_batch_norm_then_relu(training: bool, channels_last: bool) -> None:
    torch.manual_seed(0)
    reference = _norm_relu(nn.BatchNorm2d(6), inplace=True).train(training)
    with torch.no_grad():
        reference[0].weight.uniform_(0.5, 1.5)
        reference[0].bias.uniform_(-0.5, 0.5)
    fused = copy.deepcopy(reference)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    upsampled = torch.randn(3, 6, 9, 7, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
    skip = torch.randn(3, 6, 9, 7, dtype=torch.float64, requires_grad=True)
    out_ref = reference(upsampled + skip)
    out_fused = residual_batch_norm_relu(upsampled.clone(), skip, fused[0])
    torch.testing.assert_close(out_fused, out_ref, rtol=0, atol=0)
    _assert_same_gradients(out_fused, fused, out_ref, reference, [upsampled, skip])


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_without_gradients_everything_runs_in_place(training: bool) -> None:
    torch.manual_seed(0)
    reference = _norm_relu(nn.BatchNorm2d(4), inplace=True).train(training)
    fused = copy.deepcopy(reference)
    x, skip = torch.randn(2, 4, 7, 5, dtype=torch.float64), torch.randn(2, 4, 7, 5, dtype=torch.float64)
    with torch.no_grad():
        expected = reference(x + skip)
        buffer = x.clone()
        out = residual_batch_norm_relu(buffer, skip, fused[0])
    assert out.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    for a, b in zip(fused.buffers(), reference.buffers()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_unsupported_configurations_keep_the_modules() -> None:
    x = torch.randn(2, 4, 6, 6)
    bn, relu = nn.BatchNorm2d(4), nn.ReLU()
    assert supports_fused_batch_norm_relu(bn, relu, x)
    assert supports_fused_batch_norm_relu(bn, nn.ReLU(inplace=True), x.double())
    assert not supports_fused_batch_norm_relu(nn.InstanceNorm2d(4, affine=True), relu, x)
    assert not supports_fused_batch_norm_relu(nn.SyncBatchNorm(4), relu, x)
    assert not supports_fused_batch_norm_relu(bn, nn.LeakyReLU(), x)
    assert not supports_fused_batch_norm_relu(bn, nn.PReLU(), x)
    assert not supports_fused_batch_norm_relu(bn, None, x)
    assert not supports_fused_batch_norm_relu(bn, relu, x.half())
    assert not supports_fused_batch_norm_relu(bn, relu, x.bfloat16())
    assert not supports_fused_batch_norm_relu(bn, relu, x.transpose(2, 3))  # not contiguous
    assert supports_fused_batch_norm_relu(bn, relu, x.contiguous(memory_format=torch.channels_last))
    single = x[:1, :, :1, :1].contiguous()
    assert not supports_fused_batch_norm_relu(bn, relu, single)  # one value per channel: BatchNorm raises in training
    assert supports_fused_batch_norm_relu(bn.eval(), relu, single)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not supports_fused_batch_norm_relu(bn, relu, x)
    with torch.no_grad():
        bn.weight[2] = 1e-3  # x_hat = (p - beta) / gamma would lose precision
    assert not supports_fused_batch_norm_relu(bn, relu, x)
    with torch.no_grad():
        bn.weight[2] = -0.5  # negative gamma is fine
    assert supports_fused_batch_norm_relu(bn, relu, x)


@pytest.mark.parametrize(
    "norm, act",
    [("instance", "relu"), ("batch", "prelu"), (None, "relu"), ("batch", None), (("batch", {"affine": False}), "relu")],
)
def test_block_falls_back_or_fuses_by_configuration(norm, act) -> None:
    torch.manual_seed(0)
    block = DualCrossAttention(2, CHANNELS, norm=norm, act=act, fused_tail=True).double()
    plain = copy.deepcopy(block)
    plain.fused_tail = False
    skips = _skips(2)
    out_f, skip_grads_f, grads_f, _ = _run(block.train(), skips, steps=1)
    out_p, skip_grads_p, grads_p, _ = _run(plain.train(), skips, steps=1)
    assert _fused_stages(out_f) == [norm in ("batch", ("batch", {"affine": False})) and act == "relu"] * len(CHANNELS)
    for a, b in zip(out_f + skip_grads_f, out_p + skip_grads_p):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    for name in grads_p:
        torch.testing.assert_close(grads_f[name], grads_p[name], rtol=0, atol=1e-10, msg=name)


def test_sync_batch_norm_blocks_keep_the_adn_modules() -> None:
    block = nn.SyncBatchNorm.convert_sync_batchnorm(DualCrossAttention(2, CHANNELS, fused_tail=True)).eval()
    with torch.no_grad():
        outputs = block([s.float() for s in _skips(2)])
    assert not any(block._fuses_tail(o, i) for i, o in enumerate(outputs))


def test_state_dict_is_the_same_with_and_without_the_fused_tail() -> None:
    torch.manual_seed(0)
    plain = DualCrossAttention(3, CHANNELS, fused_tail=False)
    fused = DualCrossAttention(3, CHANNELS, fused_tail=True)
    assert list(fused.state_dict()) == list(plain.state_dict())
    assert "output_adn.0.N.weight" in fused.state_dict()
    fused.load_state_dict(plain.state_dict())
    skips = [s.float() for s in _skips(3, batch=1)]
    for a, b in zip(fused.eval()(skips), plain.eval()(skips)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("grad", [True, False], ids=["train-step", "no-grad"])
def test_metatensor_skips_take_the_fused_path(grad: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # MONAI's engines feed MetaTensors through the network, so the skips reaching the block are MetaTensors
    from monai.data import MetaTensor

    import dca_monai.blocks.dual_cross_attention as block_module

    calls: list[type] = []

    def counting(upsampled: torch.Tensor, skip: torch.Tensor, norm: nn.Module) -> torch.Tensor:
        calls.append(type(upsampled))
        return residual_batch_norm_relu(upsampled, skip, norm)

    monkeypatch.setattr(block_module, "residual_batch_norm_relu", counting)

    torch.manual_seed(0)
    fused = DualCrossAttention(3, CHANNELS, fused_tail=True).double()
    _randomise_norms(fused, "positive")
    plain = copy.deepcopy(fused)
    plain.fused_tail = False
    skips = _skips(3)
    meta_inputs = [MetaTensor(s.clone()).requires_grad_(grad) for s in skips]
    plain_inputs = [s.clone().requires_grad_(grad) for s in skips]
    with torch.set_grad_enabled(grad):
        out_f, out_p = fused(meta_inputs), plain(plain_inputs)
    for a, b in zip(out_f, out_p):
        torch.testing.assert_close(torch.as_tensor(a), b, rtol=0, atol=0)
    for a, b in zip(fused.buffers(), plain.buffers()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert calls == [MetaTensor] * len(CHANNELS)  # every stage of the fused block, none of the plain one
    if grad:
        weights = [torch.randn(o.shape, dtype=o.dtype) for o in out_p]
        torch.autograd.backward(out_f, weights)
        torch.autograd.backward(out_p, weights)
        for a, b in zip(meta_inputs, plain_inputs):
            torch.testing.assert_close(torch.as_tensor(a.grad), b.grad, rtol=0, atol=1e-10)
        for (name, a), (_, b) in zip(fused.named_parameters(), plain.named_parameters()):
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-10, msg=name)


def test_the_default_block_runs_the_adn_modules() -> None:
    # opt-in: measured on CPU the fused tail saves some 2D memory but no time (docs/benchmarks.md)
    torch.manual_seed(0)
    block = DualCrossAttention(2, CHANNELS).double()
    assert block.fused_tail is False
    outputs, _, _, _ = _run(block.train(), _skips(2), steps=1)
    assert _fused_stages(outputs) == [False] * len(CHANNELS)
