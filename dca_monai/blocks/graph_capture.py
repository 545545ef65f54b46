"""Whether the model is being traced or exported, where its sizes must stay symbolic."""

from __future__ import annotations

import torch

__all__ = ["capturing_graph", "compiling_graph"]


def capturing_graph() -> bool:
    """True under ``torch.jit.trace`` (and the TorchScript-based ONNX exporter) and ``torch.export``.

    Code branching on sizes picks its size-independent path then, so the captured graph runs at any
    input size. Under ``torch.jit.script`` it is False: a scripted graph keeps every branch.
    """
    if torch.jit.is_scripting():
        return False
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def compiling_graph() -> bool:
    """True while ``torch.compile`` (dynamo) traces the model.

    A Python comparison of sizes there becomes a guard on them, and an input size that flips it
    compiles the graph again: code that only skips work on equal sizes should not skip then.
    False under ``torch.jit.script``.
    """
    if torch.jit.is_scripting():
        return False
    return torch.compiler.is_compiling()
