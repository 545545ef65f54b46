"""Residual add, batch norm and ReLU as one autograd step that saves one skip-sized tensor.

The DCA block ends every stage with ``relu(batch_norm(upsampled + skip))`` on a full-resolution
tensor. Run as three modules (add, ``nn.BatchNorm``, ``nn.ReLU``), autograd keeps two
skip-sized tensors per stage for backward (the norm's input and the ReLU's output) and backward
allocates two more (the ReLU's gradient and the norm's). :func:`residual_batch_norm_relu`
computes the same forward with PyTorch's own batch-norm kernel, writes the result into the
``upsampled`` buffer, and keeps only the norm's output ``p`` (before the ReLU) for backward:

- the ReLU's gradient mask is ``p > 0``, exactly where the output is positive;
- the normalised input is ``x_hat = (p - beta) / gamma``, so the batch-norm backward kernel gets
  ``p`` as its input with ``beta`` as the "mean" and ``1 / gamma`` as the "inverse std"
  (and ``gamma**2 * invstd`` as the weight), which yields the same gradients;
- backward allocates one tensor, the masked gradient, and the batch-norm backward kernel
  overwrites it in place with the input gradient, returned once for both ``upsampled`` and
  ``skip`` (a residual passes its gradient to both summands unchanged).

Deviations from the unfused modules, and when the fused path is taken
(:func:`supports_fused_batch_norm_relu`; the caller keeps the unfused modules otherwise):

- The forward output and running statistics are bit-identical (the same kernel); gradients equal
  the unfused ones to float rounding: recovering ``x_hat`` from ``p`` loses about
  ``eps * |beta / gamma|``, so the fused path is taken only while every
  ``|gamma| >= 1e-2 * (1 + |beta|)`` (gamma of either sign; zero or tiny gamma falls back).
- Only ``nn.BatchNorm1d/2d/3d`` exactly (not ``SyncBatchNorm`` or other subclasses) followed by
  ``nn.ReLU`` (in place or not), on contiguous or channels-last CPU float32/float64 tensors, in
  eager mode without autocast: never while scripting (an ``autograd.Function`` cannot be scripted) or capturing a graph
  (tracing, ONNX, ``torch.export``). Double backward is not supported.
- Without gradients (``no_grad``, inference) everything runs in place in ``upsampled``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import FunctionCtx, once_differentiable

from dca_monai.blocks.graph_capture import capturing_graph

__all__ = ["GAMMA_FLOOR", "residual_batch_norm_relu", "supports_fused_batch_norm_relu"]

GAMMA_FLOOR = 1e-2
"""The fused path needs every ``|gamma| >= GAMMA_FLOOR * (1 + |beta|)`` to recover ``x_hat`` from ``p``."""

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _autocast_enabled() -> bool:
    return torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")


def supports_fused_batch_norm_relu(norm: nn.Module, act: nn.Module | None, x: torch.Tensor) -> bool:
    """Whether :func:`residual_batch_norm_relu` computes what ``act(norm(x))`` computes, for this input.

    True only for an exact ``nn.BatchNorm1d/2d/3d`` and ``nn.ReLU``, a contiguous (or channels-last)
    CPU float32/float64 ``x`` with more than one value per channel in training, eager mode without autocast, and a
    ``gamma`` whose magnitude stays above :data:`GAMMA_FLOOR` ``* (1 + |beta|)``.
    """
    if torch.jit.is_scripting() or capturing_graph() or _autocast_enabled():
        return False
    if type(norm) not in _BATCH_NORMS or type(act) is not nn.ReLU:
        return False
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or not _dense(x):
        return False
    uses_batch_stats = norm.training or norm.running_mean is None
    if uses_batch_stats and x.numel() // x.shape[1] < 2:
        return False  # nn.BatchNorm raises for this; let it
    if norm.weight is None:
        return True
    with torch.no_grad():
        floor = GAMMA_FLOOR * (1 + norm.bias.abs())
        return bool((norm.weight.abs() >= floor).all())


def _dense(x: torch.Tensor) -> bool:
    """Contiguous, or channels-last (a 1x1 convolution's output on CPU), the layouts the kernels handle in place."""
    if x.is_contiguous():
        return True
    if x.dim() == 4:
        return x.is_contiguous(memory_format=torch.channels_last)
    return x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d)


def _momentum_and_batch_stats(norm: nn.modules.batchnorm._BatchNorm) -> tuple[float, bool]:
    """The running-average factor and whether batch statistics are used, as ``_BatchNorm.forward`` decides."""
    factor = 0.0 if norm.momentum is None else norm.momentum
    if norm.training and norm.track_running_stats and norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    return factor, norm.training or (norm.running_mean is None and norm.running_var is None)


def _channel_view(values: torch.Tensor, dims: int) -> torch.Tensor:
    return values.view([1, -1] + [1] * (dims - 2))


class _ResidualBatchNormReLU(torch.autograd.Function):
    """``upsampled += skip; upsampled = relu(batch_norm(upsampled))`` in place, saving only ``p``."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        upsampled: torch.Tensor,
        skip: torch.Tensor,
        weight: torch.Tensor | None,
        bias: torch.Tensor | None,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        batch_stats: bool,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
        upsampled.add_(skip)
        normed = torch.empty_like(upsampled)
        empty = upsampled.new_empty((0,))
        _, _, invstd = torch.ops.aten.native_batch_norm.out(
            upsampled, weight, bias, running_mean, running_var, batch_stats, momentum, eps,
            out=normed, save_mean=empty, save_invstd=empty.clone(),
        )  # fmt: skip
        torch.clamp_min(normed, 0, out=upsampled)  # relu, into the caller's buffer
        if not batch_stats:  # the kernel's eval-mode scale, for backward
            invstd = torch.rsqrt(running_var + eps)
        ctx.mark_dirty(upsampled)
        ctx.save_for_backward(normed, weight, bias, invstd)
        ctx.batch_stats, ctx.eps = batch_stats, eps
        return upsampled

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        normed, weight, bias, invstd = ctx.saved_tensors
        grad = torch.empty_like(normed)
        torch.ops.aten.threshold_backward.grad_input(grad_output, normed, 0, grad_input=grad)
        dims = normed.dim()
        if weight is None:  # no affine: p is x_hat itself
            gamma, beta = torch.ones_like(invstd), torch.zeros_like(invstd)
        else:
            gamma, beta = weight.detach(), bias.detach()
        reduce_dims = [0] + list(range(2, dims))
        if ctx.batch_stats:
            # the kernel's (input - mean) * invstd is x_hat for input p, "mean" beta, "invstd" 1 / gamma
            _, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward.out(
                grad, normed, gamma * gamma * invstd, None, None, beta, gamma.reciprocal(), True, ctx.eps,
                [True, True, True], out0=grad, out1=invstd.new_empty((0,)), out2=invstd.new_empty((0,)),
            )  # fmt: skip
        else:
            grad_bias = grad.sum(reduce_dims)
            grad_weight = ((normed - _channel_view(beta, dims)) * grad).sum(reduce_dims) / gamma
            grad.mul_(_channel_view(gamma * invstd, dims))
        if weight is None:
            grad_weight = grad_bias = None
        return grad, grad, grad_weight, grad_bias, None, None, None, None, None


def residual_batch_norm_relu(upsampled: torch.Tensor, skip: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    """``relu(norm(upsampled + skip))``, written into ``upsampled`` (which must be the caller's own buffer).

    Check :func:`supports_fused_batch_norm_relu` first; this updates ``norm``'s running statistics
    and ``num_batches_tracked`` exactly as calling ``norm`` would.

    Args:
        upsampled: ``(B, C, *S)``, contiguous or channels-last, overwritten with the result.
        skip: ``(B, C, *S)``, the residual.
        norm: an ``nn.BatchNorm1d/2d/3d`` over ``C`` channels.

    Returns:
        ``upsampled``, now holding ``(B, C, *S)`` the activated, normalised sum.
    """
    momentum, batch_stats = _momentum_and_batch_stats(norm)
    running_mean = norm.running_mean if not norm.training or norm.track_running_stats else None
    running_var = norm.running_var if not norm.training or norm.track_running_stats else None
    params = [t for t in (upsampled, skip, norm.weight, norm.bias) if t is not None]
    if torch.is_grad_enabled() and any(t.requires_grad for t in params):
        return _ResidualBatchNormReLU.apply(
            upsampled, skip, norm.weight, norm.bias, running_mean, running_var, batch_stats, momentum, norm.eps
        )
    upsampled.add_(skip)
    empty = upsampled.new_empty((0,))
    torch.ops.aten.native_batch_norm.out(
        upsampled, norm.weight, norm.bias, running_mean, running_var, batch_stats, momentum, norm.eps,
        out=upsampled, save_mean=empty, save_invstd=empty.clone(),
    )  # fmt: skip
    return upsampled.clamp_min_(0)
