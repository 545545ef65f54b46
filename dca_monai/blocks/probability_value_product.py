"""The spatial attention's ``P V`` product, handed to BLAS in the orientation that keeps narrow values fast."""

from __future__ import annotations

import torch

from dca_monai.blocks.graph_capture import capturing_graph, compiling_graph

__all__ = ["TransposedValueProduct", "probability_value_product"]


class TransposedValueProduct(torch.autograd.Function):
    """``P V`` computed as ``(V^T P^T)^T``, and its gradients in the same orientation.

    DCA's spatial attention multiplies ``(N, N)`` probabilities with values of only ``C_l/h``
    columns (8 for a 32-channel stage with 4 heads). ATen's MKL ``sgemm`` runs ``P V`` with such a
    narrow right operand at 19 GFLOP/s on the project's AMD EPYC (1 thread, ``(8, 784, 784) x
    (8, 784, 8)``) and the value gradient ``P^T dO`` at 17, against 105 for a 1024^3 GEMM: below a
    quarter of the machine's rate. The same products with the narrow matrix on the left,
    ``V^T P^T`` and ``dO^T P``, run at 44 and 49 GFLOP/s; for 16 to 120 columns both orientations
    are equally fast (``scripts/bench_dca.py --gemms``, ``docs/benchmarks.md``). The result is the
    same product: only the summation order inside BLAS differs (float rounding).

    Shapes:
        ``probabilities`` ``(..., N, M)``, ``values`` ``(..., M, D)``; output ``(..., N, D)``, a
        transposed view (strides of ``(..., D, N)``). The backward returns ``dP = dO V^T`` and
        ``dV = (dO^T P)^T``; both are themselves differentiable (double backward works).
    """

    @staticmethod
    def forward(ctx, probabilities: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(probabilities, values)
        return torch.matmul(values.mT, probabilities.mT).mT

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        probabilities, values = ctx.saved_tensors
        grad_probabilities = torch.matmul(grad_output, values.mT) if ctx.needs_input_grad[0] else None
        grad_values = torch.matmul(grad_output.mT, probabilities).mT if ctx.needs_input_grad[1] else None
        return grad_probabilities, grad_values


def probability_value_product(probabilities: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``probabilities @ values``, through :class:`TransposedValueProduct` where that is the plain eager product.

    Eager float computation only: while ``torch.compile`` traces (inductor chooses its own layouts),
    while a graph is captured (trace, ONNX, ``torch.export``: the graph keeps plain ops) and under
    autocast (half-precision GEMMs take oneDNN's path) it is ``torch.matmul``. Not scriptable; the
    scripted attention calls ``torch.matmul`` itself.

    Args:
        probabilities: ``(..., N, M)``.
        values: ``(..., M, D)``, the same dtype.

    Returns:
        ``(..., N, D)``.
    """
    if capturing_graph() or compiling_graph() or torch.is_autocast_enabled(values.device.type):
        return torch.matmul(probabilities, values)
    return TransposedValueProduct.apply(probabilities, values)
