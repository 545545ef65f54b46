from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.networks.nets import DynUNet

from dca_monai.utils.half_weights import half_state_dict, main, save_half_weights


def _dynunet() -> DynUNet:
    return DynUNet(3, 1, 3, kernel_size=[3, 3, 3], strides=[1, 2, 2], upsample_kernel_size=[2, 2], filters=[8, 16, 32])


def test_shared_entries_stay_shared_and_the_file_halves(tmp_path: Path) -> None:
    network = _dynunet()
    state = network.state_dict()
    source, destination = tmp_path / "fp32.pt", tmp_path / "fp16.pt"
    torch.save(state, source)

    save_half_weights(source, destination)

    half = torch.load(destination, weights_only=True)
    assert list(half) == list(state)
    assert half["input_block.conv1.conv.weight"] is half["skip_layers.downsample.conv1.conv.weight"]
    assert all(value.dtype == torch.float16 for value in half.values() if value.is_floating_point())
    assert destination.stat().st_size < 0.6 * source.stat().st_size  # DynUNet's duplicated skip entries written once
    _dynunet().load_state_dict(half)  # strict, into a float32 network
    save_half_weights(source, tmp_path / "another_name.pt")
    assert (tmp_path / "another_name.pt").read_bytes() == destination.read_bytes()  # reproducible sha256


def test_integer_entries_are_kept_and_values_round_to_float16() -> None:
    state = {"weight": torch.tensor([0.1, 1.0]), "count": torch.tensor([3])}
    half = half_state_dict(state)
    assert half["count"] is state["count"]
    assert torch.equal(half["weight"], state["weight"].half())


def test_a_file_without_a_state_dict_is_named(tmp_path: Path) -> None:
    source = tmp_path / "not_a_state.pt"
    torch.save([1, 2], source)
    with pytest.raises(ValueError, match=r"not_a_state\.pt' does not hold a state dict"):
        main([str(source), str(tmp_path / "out.pt")])
    assert not (tmp_path / "out.pt").exists()
