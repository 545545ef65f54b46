from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from monai.transforms import Compose, RandAffined, RandFlipd, RandGaussianNoised, ScaleIntensityd

from dca_monai.handlers.random_state_record import RandomStateRecord


def pipeline() -> Compose:
    return Compose(
        [
            ScaleIntensityd("image"),
            RandFlipd("image", prob=0.5),
            RandAffined("image", prob=1.0, rotate_range=0.3),  # draws through its nested RandAffine
            RandGaussianNoised("image", prob=1.0),
        ]
    ).set_random_state(seed=3)


def draws(transform: Compose) -> list[object]:
    """Numbers from every generator the record covers, and one pass of the random pipeline."""
    image = transform({"image": torch.arange(4 * 8 * 8, dtype=torch.float32).reshape(1, 4, 8, 8)})["image"]
    return [random.random(), float(np.random.rand()), float(torch.rand(())), image.as_tensor().clone()]


def assert_same(first: list[object], second: list[object]) -> None:
    assert first[:3] == second[:3]
    torch.testing.assert_close(first[3], second[3], rtol=0, atol=0)


def test_finds_nested_randomizable_transforms() -> None:
    transform = pipeline()
    found = RandomStateRecord(transform).randomizable_transforms()
    names = [type(item).__name__ for item in found]
    # Compose itself, then the random transforms; RandAffined's own RandAffine (and its grid) too
    assert {"RandFlipd", "RandAffined", "RandAffine", "RandGaussianNoised"} <= set(names)
    assert "ScaleIntensityd" not in names
    assert len(found) == len({id(item) for item in found})


def test_restores_the_generators_from_a_weights_only_checkpoint(tmp_path: Path) -> None:
    transform = pipeline()
    record = RandomStateRecord(transform)
    draws(transform)  # move every generator away from its seed
    torch.save({"random_state": record.state_dict()}, tmp_path / "last.pt")
    expected = draws(transform)

    draws(transform)  # the generators move on, as they would in the rest of an interrupted run
    record.load_state_dict(torch.load(tmp_path / "last.pt", weights_only=True)["random_state"])

    assert_same(draws(transform), expected)


def test_without_the_record_the_draws_differ() -> None:
    # the control of the test above: draws after a state is taken are not those after more draws
    transform = pipeline()
    draws(transform)
    first = draws(transform)
    second = draws(transform)
    assert first[:3] != second[:3]
    assert not torch.equal(first[3], second[3])


def test_changed_pipeline_is_refused() -> None:
    state = RandomStateRecord(pipeline()).state_dict()
    shorter = Compose([RandFlipd("image", prob=0.5)])
    with pytest.raises(ValueError, match=r"\['transforms'\] has \d+ states but the training transform has \d+"):
        RandomStateRecord(shorter).load_state_dict(state)


def _two_ranks(rank: int, init_file: str, folder: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        random.seed(rank)
        np.random.seed(rank)
        torch.manual_seed(rank)
        transform = pipeline().set_random_state(seed=10 + rank)
        record = RandomStateRecord(transform)
        state = record.state_dict()  # collective: both ranks call it
        if rank == 0:
            torch.save(state, Path(folder) / "random_state.pt")
        expected = draws(transform)
        draws(transform)
        dist.barrier()
        record.load_state_dict(torch.load(Path(folder) / "random_state.pt", weights_only=True))
        restored = draws(transform)
        torch.save({"expected": expected, "restored": restored}, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_each_rank_gets_its_own_state_back(tmp_path: Path) -> None:
    mp.spawn(_two_ranks, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)

    saved = torch.load(tmp_path / "random_state.pt", weights_only=True)
    assert len(saved["ranks"]) == 2
    assert not torch.equal(saved["ranks"][0]["torch"], saved["ranks"][1]["torch"])
    results = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    for result in results:
        assert_same(result["restored"], result["expected"])
    assert results[0]["expected"][:3] != results[1]["expected"][:3]  # per-rank seeds: different draws


def test_a_rank_missing_from_the_record_warns_and_keeps_its_state(monkeypatch: pytest.MonkeyPatch) -> None:
    state = RandomStateRecord().state_dict()
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    before = torch.get_rng_state()
    with pytest.warns(UserWarning, match="random_state has 1 rank"):
        RandomStateRecord().load_state_dict(state)
    assert torch.equal(torch.get_rng_state(), before)
