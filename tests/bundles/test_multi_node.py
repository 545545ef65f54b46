"""Two torchrun agents as two "nodes" on 127.0.0.1 (c10d rendezvous, gloo), CI-sized CT bundle.

The first run trains 4 epochs undisturbed; the second trains the same 4 epochs, but the rank-1 worker
is killed by pid after a checkpoint, and ``--max-restarts=1`` must bring the run to its end without
losing a completed epoch and with the weights of the undisturbed run.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from tests.bundles.bundle_runner import BUNDLES, REPO_ROOT, TORCHRUN, config_files, override_args

BUNDLE = "ct_dca_segmentation"
EPOCHS = 4
OVERRIDES = {
    "num_classes": 2,
    "finetune": False,
    "pixdim": [3.0, 3.0, 3.0],
    "filters": [4, 4, 8, 8, 8],
    "roi_size": [32, 32, 32],
    "sw_batch_size": 2,
    "epochs": EPOCHS,
    "val_interval": 1,
    "num_samples": 1,
    "batch_size": 2,
    "num_workers": 0,
}
TIMEOUT = 240
TRAINED_EPOCH = r"SupervisedTrainer: Epoch\[(\d+)\] Complete"  # ignite, on every rank


@dataclass
class Agents:
    """Two torchrun agents: their processes and the files their output goes to."""

    processes: list[subprocess.Popen]
    logs: list[Path]

    def wait(self) -> list[str]:
        """Wait for both agents; fail with their output unless both exit with 0; return the outputs."""
        codes = [process.wait(timeout=TIMEOUT) for process in self.processes]
        outputs = [log.read_text() for log in self.logs]
        if codes != [0, 0]:
            raise AssertionError(f"agents exited with {codes}\n" + "\n".join(text[-5000:] for text in outputs))
        return outputs


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 training cases (one per rank) and 1 validation case: soft tissue (40 HU) with a bone ball (300 HU)."""
    folder = tmp_path_factory.mktemp("ct_dataset")
    for kind in ("images", "labels"):
        (folder / kind).mkdir()
    grid = np.stack(np.meshgrid(*[np.arange(36)] * 3, indexing="ij"), axis=-1)
    for seed, name in enumerate(("train_000", "train_001", "val_000")):
        rng = np.random.default_rng(seed)
        ball = np.linalg.norm(grid - rng.uniform(12, 24, size=3), axis=-1) < rng.uniform(5, 9)
        image = np.where(ball, 300.0, 40.0) + rng.normal(0.0, 10.0, ball.shape)
        affine = np.diag([3.0, 3.0, 3.0, 1.0])
        nib.save(nib.Nifti1Image(image.astype(np.int16), affine), folder / "images" / f"{name}.nii.gz")
        nib.save(nib.Nifti1Image(ball.astype(np.uint8), affine), folder / "labels" / f"{name}.nii.gz")

    def entry(name: str) -> dict[str, str]:
        return {"image": f"images/{name}.nii.gz", "label": f"labels/{name}.nii.gz"}

    datalist = {"training": [entry("train_000"), entry("train_001")], "validation": [entry("val_000")]}
    (folder / "datalist.json").write_text(json.dumps(datalist))
    return folder


@pytest.fixture(scope="module")
def shard_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.json's ``run``, preceded by a line that prints each rank's training files."""
    run = json.loads((BUNDLES / BUNDLE / "configs" / "train.json").read_text())["run"]
    files = "sorted(os.path.basename(item['image']) for item in @train#dataset#data)"
    show = f"$print('shard', dist.get_rank(), {files}, flush=True)"
    path = tmp_path_factory.mktemp("configs") / "show_shard.json"
    path.write_text(json.dumps({"run": [show, *run]}))
    return path


def launch(bundle_root: Path, dataset_dir: Path, shard_config: Path, max_restarts: int) -> Agents:
    """Start two agents, ``--nnodes=2 --nproc-per-node=1``, rendezvous on a free port of 127.0.0.1."""
    bundle_root.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configs = config_files(BUNDLE, "train.json", "multi_gpu_train.json")[:-1] + f",'{shard_config}']"
    argv = [
        str(TORCHRUN),
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--rdzv-id=test_multi_node",
        "--local-addr=127.0.0.1",
        f"--max-restarts={max_restarts}",
        "--monitor-interval=0.2",
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        configs,
        *override_args({"bundle_root": bundle_root, "dataset_dir": dataset_dir, **OVERRIDES}),
    ]
    env = {**os.environ, "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1", "OMP_NUM_THREADS": "1"}
    logs = [bundle_root / f"agent{index}.log" for index in range(2)]
    processes = []
    for log in logs:
        with open(log, "w") as stream:
            processes.append(
                subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=stream, stderr=subprocess.STDOUT, text=True)
            )
    return Agents(processes, logs)


def worker_of_rank(agents: Agents, rank: int) -> int:
    """The pid of the worker with ``RANK=rank`` among the agents' children (read from /proc)."""
    parents = {process.pid for process in agents.processes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(re.search(r"^PPid:\s+(\d+)", status, re.MULTILINE).group(1))
        if parent in parents and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no worker with RANK={rank} among the children of {sorted(parents)}")


def saved_epochs(text: str) -> list[int]:
    return [int(epoch) for epoch in re.findall(r"Saved checkpoint at epoch: (\d+)", text)]


@pytest.fixture(scope="module")
def undisturbed(
    dataset_dir: Path, shard_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    bundle_root = tmp_path_factory.mktemp("undisturbed")
    outputs = launch(bundle_root, dataset_dir, shard_config, max_restarts=0).wait()
    return bundle_root, outputs


@pytest.mark.slow
def test_two_nodes_train_disjoint_shards_and_only_rank_zero_writes(undisturbed: tuple[Path, list[str]]) -> None:
    bundle_root, outputs = undisturbed
    everything = "\n".join(outputs)

    shards = dict(re.findall(r"shard (\d) (\[.*\])", everything))
    assert sorted(shards) == ["0", "1"]
    first, second = (set(ast.literal_eval(shards[rank])) for rank in ("0", "1"))
    assert first and second and not first & second
    assert first | second == {"train_000.nii.gz", "train_001.nii.gz"}

    # rank 0 alone writes and reports: one agent's output has every save, the other none
    assert sorted(len(saved_epochs(text)) for text in outputs) == [0, EPOCHS]
    rank_zero = next(text for text in outputs if saved_epochs(text))
    assert "Got new best metric" in rank_zero
    assert all("Got new best metric" not in text for text in outputs if text is not rank_zero)
    assert sorted(path.name for path in (bundle_root / "checkpoints").iterdir()) == ["last.pt"]
    assert sorted(path.name for path in (bundle_root / "models").iterdir()) == ["model.pt"]
    writers = {path.name.split(".")[-2] for path in (bundle_root / "eval").glob("events.out.tfevents.*")}
    assert len(writers) == 1

    last = torch.load(bundle_root / "checkpoints" / "last.pt", weights_only=True)
    assert last["trainer"]["iteration"] == EPOCHS  # one batch per rank and epoch
    # the learning rate follows the global batch: 2 processes, twice train.json's learning_rate
    learning_rate = json.loads((BUNDLES / BUNDLE / "configs" / "train.json").read_text())["learning_rate"]
    assert last["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(2 * learning_rate)
    # each rank's random state is saved, and the ranks were seeded differently
    ranks = last["random_state"]["ranks"]
    assert len(ranks) == 2
    assert not torch.equal(ranks[0]["torch"], ranks[1]["torch"])


@pytest.mark.slow
def test_killed_worker_is_restarted_and_no_completed_epoch_is_lost(
    undisturbed: tuple[Path, list[str]], dataset_dir: Path, shard_config: Path, tmp_path: Path
) -> None:
    agents = launch(tmp_path, dataset_dir, shard_config, max_restarts=1)
    last = tmp_path / "checkpoints" / "last.pt"
    deadline = time.monotonic() + TIMEOUT
    while not (last.exists() and torch.load(last, weights_only=True)["trainer"]["iteration"] >= 1):
        assert time.monotonic() < deadline, "no checkpoint of epoch 1"
        assert all(process.poll() is None for process in agents.processes), "an agent ended before epoch 1"
        time.sleep(0.05)
    os.kill(worker_of_rank(agents, 1), signal.SIGKILL)
    outputs = agents.wait()

    restart_marks = [text.find("Restored all variables from") for text in outputs]
    assert all(mark >= 0 for mark in restart_marks), "a restarted worker did not resume from last.pt"
    before = [epoch for text, mark in zip(outputs, restart_marks) for epoch in saved_epochs(text[:mark])]
    after = [epoch for text, mark in zip(outputs, restart_marks) for epoch in saved_epochs(text[mark:])]
    resumed = [
        int(epoch) for text, mark in zip(outputs, restart_marks) for epoch in re.findall(TRAINED_EPOCH, text[mark:])
    ]
    assert before and resumed
    lost = max(before) + 1 - min(resumed)
    print(f"checkpoints before the kill: {before}, first epoch after the restart: {min(resumed)}, lost: {lost}")
    assert lost == 0
    assert after == list(range(max(before) + 1, EPOCHS + 1))

    final = torch.load(last, weights_only=True)
    assert final["trainer"]["iteration"] == EPOCHS  # one iteration per epoch
    # same shards, seeds and restored random state: the weights of the undisturbed run
    reference = torch.load(undisturbed[0] / "checkpoints" / "last.pt", weights_only=True)["network"]
    difference = max((final["network"][key] - value).abs().max().item() for key, value in reference.items())
    print(f"max |resumed - undisturbed| weight difference: {difference:.3g}")
    assert difference <= 1e-6
