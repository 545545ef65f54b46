from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.networks.nets import DynUNet

from dca_monai.utils.average_weights import average_state_dicts, main, save_average_weights
from dca_monai.utils.half_weights import tensor_view_key


def small_dynunet(seed: int) -> DynUNet:
    torch.manual_seed(seed)
    return DynUNet(2, 1, 2, kernel_size=[3, 3, 3], strides=[1, 2, 2], upsample_kernel_size=[2, 2], norm_name="batch")


def test_floating_tensors_are_averaged_and_counters_come_from_the_last_state() -> None:
    first = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    states = [first, {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)}]
    result = average_state_dicts(states)
    torch.testing.assert_close(result["w"], torch.tensor([2.0, 4.0]))
    assert result["n"].item() == 7


def test_float16_tensors_keep_their_dtype_and_are_summed_in_float64() -> None:
    big = torch.tensor([60000.0], dtype=torch.float16)  # the float16 sum of two would overflow to inf
    result = average_state_dicts([{"w": big}, {"w": big}])
    assert result["w"].dtype == torch.float16 and torch.isfinite(result["w"]).all()
    assert result["w"].item() == big.item()


def test_names_that_share_a_tensor_stay_one_tensor() -> None:
    # DynUNet registers its encoder blocks twice (skip_layers), so its state dict aliases them
    states = [small_dynunet(seed).state_dict() for seed in (0, 1)]
    views = {name: tensor_view_key(tensor) for name, tensor in states[0].items()}
    aliased = [(a, b) for a in views for b in views if a < b and views[a] == views[b]]
    assert aliased, "DynUNet's state dict no longer aliases tensors; the test needs another network"
    result = average_state_dicts(states)
    for first, second in aliased:
        assert tensor_view_key(result[first]) == tensor_view_key(result[second])
    net = small_dynunet(2)
    net.load_state_dict(result)  # strict
    key = next(k for k, v in states[0].items() if v.is_floating_point() and not torch.equal(v, states[1][k]))
    torch.testing.assert_close(net.state_dict()[key], (states[0][key] + states[1][key]) / 2)


def test_mismatched_states_are_refused_naming_the_key() -> None:
    with pytest.raises(ValueError, match=r"state 1 differs from state 0 in its keys: missing \['b'\], extra \['c'\]"):
        average_state_dicts([{"a": torch.zeros(1), "b": torch.zeros(1)}, {"a": torch.zeros(1), "c": torch.zeros(1)}])
    with pytest.raises(ValueError, match=r"state 1, key 'a': shape \(2,\) but state 0 has \(1,\)"):
        average_state_dicts([{"a": torch.zeros(1)}, {"a": torch.zeros(2)}])
    with pytest.raises(ValueError, match="at least one state dict"):
        average_state_dicts([])


def test_command_line_reads_training_checkpoints_with_key(tmp_path: Path) -> None:
    for seed in (0, 1):
        torch.save({"network": small_dynunet(seed).state_dict(), "epoch": seed}, tmp_path / f"last_{seed}.pt")
    main([str(tmp_path / "swa.pt"), str(tmp_path / "last_0.pt"), str(tmp_path / "last_1.pt"), "--key", "network"])
    small_dynunet(2).load_state_dict(torch.load(tmp_path / "swa.pt", weights_only=True))


def test_training_checkpoint_without_key_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    torch.save({"network": small_dynunet(0).state_dict(), "optimizer": {}}, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"last\.pt' holds no state dict of tensors .* --key network"):
        save_average_weights([tmp_path / "last.pt"], tmp_path / "swa.pt")
    with pytest.raises(ValueError, match=r"last\.pt' has no entry 'model' \(--key\)"):
        save_average_weights([tmp_path / "last.pt"], tmp_path / "swa.pt", key="model")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["last.pt"]
