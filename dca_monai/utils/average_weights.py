"""Average the weights of several checkpoints of one training run (stochastic weight averaging).

A network trained on little data swings between checkpoints: on scans it never saw, one epoch's weights
find an organ that the next epoch's miss. The uniform average of snapshots taken along one run (Izmailov
et al., "Averaging Weights Leads to Wider Optima and Better Generalization", 2018) lies in a flatter
region of the loss, which they found to generalise better. Averaging the weights before and after a
fine-tuning (Wortsman et al., "Robust fine-tuning of zero-shot models", 2022) is the same operation on
two files: the brain bundle's 0.4.0 weights are made so. The bundles save snapshots with
``--snapshot_interval N`` (``checkpoints/snapshots/model_epoch=*.pt``); this module averages them:

    python -m dca_monai.utils.average_weights outputs/ct/models/model_swa.pt \\
        outputs/ct/checkpoints/snapshots/model_epoch=*.pt

``torch.optim.swa_utils.AveragedModel`` does the same during training for a live module; this works on
saved state dicts after the run. Deviation from SWA as published: batch-norm running statistics are
averaged like the weights instead of being recomputed over the training data (``update_bn``); integer
buffers (``num_batches_tracked``) are taken from the last checkpoint.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Mapping, Sequence

import torch

from dca_monai.utils.atomic_file import write_bytes_atomic
from dca_monai.utils.half_weights import TensorView, tensor_view_key

__all__ = ["average_state_dicts", "load_state_dict_file", "save_average_weights"]


def average_state_dicts(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Uniform average of the floating-point tensors of ``states``; other tensors from the last state.

    Entries that are views of one tensor in the first state (``DynUNet`` holds its encoder blocks under
    two names) stay one tensor in the result, so ``torch.save`` writes them once.

    Args:
        states: state dicts of one architecture, ``{name: tensor}``, all with the same names and shapes.

    Returns:
        A new state dict with the first state's key order; each floating tensor is the mean (summed in
        float64) cast back to that tensor's dtype.

    Raises:
        ValueError: when ``states`` is empty, or a state lacks or adds a name, or a tensor's shape
            differs from the first state's (the message names the state's position and the key).
    """
    if not states:
        raise ValueError("average_state_dicts needs at least one state dict, got none")
    first = states[0]
    for index, state in enumerate(states[1:], start=1):
        missing, extra = sorted(set(first) - set(state)), sorted(set(state) - set(first))
        if missing or extra:
            raise ValueError(
                f"state {index} differs from state 0 in its keys: missing {missing[:5]}, extra {extra[:5]}"
            )
        for name, tensor in first.items():
            if state[name].shape != tensor.shape:
                raise ValueError(
                    f"state {index}, key {name!r}: shape {tuple(state[name].shape)}"
                    f" but state 0 has {tuple(tensor.shape)}"
                )
    averaged: dict[TensorView, torch.Tensor] = {}
    result: dict[str, torch.Tensor] = {}
    for name, tensor in first.items():
        if not tensor.is_floating_point():
            result[name] = states[-1][name]
            continue
        view = tensor_view_key(tensor)
        if view not in averaged:
            total = torch.zeros(tensor.shape, dtype=torch.float64)
            for state in states:
                total += state[name].detach().to(device="cpu", dtype=torch.float64)
            averaged[view] = (total / len(states)).to(tensor.dtype)
        result[name] = averaged[view]
    return result


def load_state_dict_file(path: str | os.PathLike, key: str | None = None) -> dict[str, torch.Tensor]:
    """The ``{name: tensor}`` state dict in the checkpoint at ``path`` (``key``: its entry in a training checkpoint).

    Raises:
        ValueError: naming ``path`` when ``key`` is not in it, or it holds no state dict of tensors (the
            message lists the file's keys, one of which ``--key`` may name, e.g. ``network`` in ``last.pt``).
    """
    content = torch.load(path, map_location="cpu", weights_only=True)
    if key is not None:
        if not isinstance(content, Mapping) or key not in content:
            found = sorted(content) if isinstance(content, Mapping) else type(content).__name__
            raise ValueError(f"{os.fspath(path)!r} has no entry {key!r} (--key); it holds {found}")
        content = content[key]
    if not isinstance(content, Mapping) or not all(isinstance(value, torch.Tensor) for value in content.values()):
        found = sorted(content)[:8] if isinstance(content, Mapping) else type(content).__name__
        raise ValueError(
            f"{os.fspath(path)!r} holds no state dict of tensors ({found}); for a training checkpoint such as "
            "checkpoints/last.pt, name the network's entry with --key network"
        )
    return dict(content)


def save_average_weights(
    sources: Sequence[str | os.PathLike], destination: str | os.PathLike, key: str | None = None
) -> None:
    """Average the state dicts at ``sources`` and write the result to ``destination`` atomically.

    Raises:
        ValueError: as :func:`load_state_dict_file` and :func:`average_state_dicts`; nothing is written then.
    """
    states = [load_state_dict_file(source, key) for source in sources]
    buffer = io.BytesIO()
    torch.save(average_state_dicts(states), buffer)
    write_bytes_atomic(destination, buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m dca_monai.utils.average_weights DESTINATION SOURCE [SOURCE ...] [--key KEY]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("destination", help="where to write the averaged state dict (.pt)")
    parser.add_argument("sources", nargs="+", help="checkpoints of one run (state dicts of the same network)")
    parser.add_argument("--key", default=None, help="the network's entry in training checkpoints (e.g. network)")
    arguments = parser.parse_args(argv)
    save_average_weights(arguments.sources, arguments.destination, arguments.key)


if __name__ == "__main__":
    main()
