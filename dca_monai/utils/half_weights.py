"""Store a checkpoint's floating-point tensors as float16, keeping tensors that share storage shared.

Some MONAI networks register one module under two names (``DynUNet`` keeps its encoder blocks also
in ``skip_layers``), so their state dicts hold the same tensor under two keys. ``torch.save`` writes a
shared storage once; converting each entry on its own (``{k: v.half() ...}``) makes two copies and the
float16 file ends as large as the float32 one. Here each storage is converted once and its keys keep
pointing at the one float16 tensor.

    python -m dca_monai.utils.half_weights models/model.pt models/model_fp16.pt
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Mapping

import torch

from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = ["half_state_dict", "save_half_weights", "tensor_view_key"]

TensorView = tuple[int, int, tuple[int, ...], tuple[int, ...]]


def tensor_view_key(tensor: torch.Tensor) -> TensorView:
    """What makes two state dict entries the same tensor: storage address, offset, shape and strides."""
    return (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()))


def half_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with floating-point tensors in float16; entries that were views of one tensor stay one tensor.

    Args:
        state: a state dict (``{name: tensor}``), e.g. ``torch.load(path, weights_only=True)``.

    Returns:
        A new dict with the same keys and order; integer and boolean tensors are returned unchanged.
    """
    converted: dict[TensorView, torch.Tensor] = {}
    result: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            result[name] = tensor
            continue
        view = tensor_view_key(tensor)
        if view not in converted:
            converted[view] = tensor.detach().to(torch.float16)
        result[name] = converted[view]
    return result


def save_half_weights(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Read the state dict at ``source`` and write its float16 copy to ``destination`` (atomically).

    The same input gives the same bytes (and sha256) whatever the destination's name.

    Raises:
        ValueError: when ``source`` does not hold a ``{name: tensor}`` state dict.
    """
    state = torch.load(source, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{os.fspath(source)!r} does not hold a state dict of tensors (a network's state_dict())")
    buffer = io.BytesIO()  # not a temporary file: torch.save names its archive after the file
    torch.save(half_state_dict(state), buffer)
    write_bytes_atomic(destination, buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m dca_monai.utils.half_weights SOURCE DESTINATION``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a float32 state dict (.pt)")
    parser.add_argument("destination", help="where to write its float16 copy")
    arguments = parser.parse_args(argv)
    save_half_weights(arguments.source, arguments.destination)


if __name__ == "__main__":
    main()
