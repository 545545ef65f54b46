from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint
from monai.handlers import CheckpointLoader

from dca_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver

# the record key of the installed ignite: "_saved" from 0.5, "saved" in 0.4.11 (monai 1.5.2's pin)
SAVED_KEY = Checkpoint._state_dict_all_req_keys[0]


def make_engine(scores: list[float] | None = None) -> Engine:
    """An engine of 2 iterations per epoch whose metric ``score`` at epoch ``e`` is ``scores[e - 1]``."""
    engine = Engine(lambda engine, batch: None)
    if scores is not None:

        @engine.on(Events.EPOCH_COMPLETED)
        def set_score(engine: Engine) -> None:
            engine.state.metrics["score"] = scores[engine.state.epoch - 1]

    return engine


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_interval_checkpoint_has_a_fixed_name_and_loads_weights_only(tmp_path: Path) -> None:
    network = torch.nn.Linear(2, 3)
    engine = make_engine()
    saver = AtomicCheckpointSaver(
        str(tmp_path), {"network": network, "trainer": engine}, save_interval=1, n_saved=1, interval_filename="last.pt"
    )
    saver.attach(engine)
    engine.run([0, 1], max_epochs=3)

    assert files(tmp_path) == ["last.pt"]
    checkpoint = torch.load(tmp_path / "last.pt", weights_only=True)
    assert checkpoint["trainer"]["iteration"] == 6  # 3 epochs of 2 iterations
    assert torch.equal(checkpoint["network"]["weight"], network.weight)


def test_files_are_world_readable(tmp_path: Path) -> None:
    engine = make_engine()
    saver = AtomicCheckpointSaver(str(tmp_path), {"network": torch.nn.Linear(1, 1)}, save_interval=1, n_saved=1)
    saver.attach(engine)
    engine.run([0], max_epochs=1)
    (path,) = tmp_path.iterdir()
    assert path.stat().st_mode & 0o044 == 0o044


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine()
    saver = AtomicCheckpointSaver(
        str(tmp_path), {"trainer": engine}, save_interval=1, n_saved=1, interval_filename="last.pt"
    )
    saver.attach(engine)
    real_save = torch.save

    @engine.on(Events.EPOCH_STARTED(once=2))
    def break_saving(engine: Engine) -> None:
        def partial_save(obj: object, file: object, *args: object, **kwargs: object) -> None:
            file.write(b"truncated")  # type: ignore[attr-defined]
            raise OSError("disk full")

        monkeypatch.setattr(torch, "save", partial_save)

    with pytest.raises(OSError, match="disk full"):
        engine.run([0], max_epochs=2)

    monkeypatch.setattr(torch, "save", real_save)
    assert files(tmp_path) == ["last.pt"]  # no temporary file left behind
    # a single saved object is stored as its bare state dict
    assert torch.load(tmp_path / "last.pt", weights_only=True)["iteration"] == 1


def test_best_model_file_is_replaced_not_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    network = torch.nn.Linear(2, 2)
    engine = make_engine(scores=[0.2, 0.5, 0.4])
    saver = AtomicCheckpointSaver(
        str(tmp_path), {"model": network}, save_key_metric=True, key_metric_name="score", key_metric_filename="model.pt"
    )
    saver.attach(engine)
    removed: list[str] = []
    monkeypatch.setattr(Path, "unlink", lambda path, missing_ok=False: removed.append(path.name))

    engine.run([0], max_epochs=3)

    assert files(tmp_path) == ["model.pt"]
    assert removed == []
    # a single saved object is stored as its bare state dict, as MONAI's saver does
    assert set(torch.load(tmp_path / "model.pt", weights_only=True)) == {"weight", "bias"}
    assert saver.state_dict() == {SAVED_KEY: [(0.5, "model_key_metric=0.5000.pt")]}


def test_best_record_survives_a_resume(tmp_path: Path) -> None:
    """A resumed run replaces the best model only when it beats the interrupted run's best score."""
    first = AtomicCheckpointSaver(
        str(tmp_path), {"model": torch.nn.Linear(1, 1)}, save_key_metric=True, key_metric_name="score"
    )
    engine = make_engine(scores=[0.7])
    first.attach(engine)
    engine.run([0], max_epochs=1)
    torch.save({"record": first.state_dict()}, tmp_path / "resume.pt")

    resumed = AtomicCheckpointSaver(
        str(tmp_path), {"model": torch.nn.Linear(1, 1)}, save_key_metric=True, key_metric_name="score"
    )
    engine = make_engine(scores=[0.6])
    CheckpointLoader(str(tmp_path / "resume.pt"), {"record": resumed}).attach(engine)
    resumed.attach(engine)
    engine.run([0], max_epochs=1)

    assert resumed.state_dict() == {SAVED_KEY: [(0.7, "model_key_metric=0.7000.pt")]}
    assert files(tmp_path) == ["model_key_metric=0.7000.pt", "resume.pt"]


def test_state_dict_without_key_metric_is_empty(tmp_path: Path) -> None:
    saver = AtomicCheckpointSaver(str(tmp_path), {"model": torch.nn.Linear(1, 1)}, save_interval=1)
    assert saver.state_dict() == {SAVED_KEY: []}


@pytest.mark.parametrize("n_saved", [None, 2])
def test_interval_filename_requires_a_single_checkpoint(tmp_path: Path, n_saved: int | None) -> None:
    with pytest.raises(ValueError, match=rf"n_saved={n_saved} but 1 is required with interval_filename='last.pt'"):
        AtomicCheckpointSaver(
            str(tmp_path),
            {"model": torch.nn.Linear(1, 1)},
            save_interval=1,
            n_saved=n_saved,
            interval_filename="last.pt",
        )
