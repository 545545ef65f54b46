from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from dca_monai.utils import distributed
from dca_monai.utils.distributed import (
    check_elastic_environment,
    exists_on_rank_zero,
    init_distributed,
    log_info_on_rank_zero,
    match_slurm_local_rank,
)


@pytest.mark.parametrize("restarts", ["1", "3"])
def test_restarts_without_a_private_store_are_refused(restarts: str) -> None:
    environ = {"TORCHELASTIC_MAX_RESTARTS": restarts}
    with pytest.raises(RuntimeError, match=rf"--max-restarts={restarts} but TORCH_DISABLE_SHARE_RDZV_TCP_STORE=None"):
        check_elastic_environment(environ)
    with pytest.raises(RuntimeError, match="TORCH_DISABLE_SHARE_RDZV_TCP_STORE='0' \\(expected '1'\\)"):
        check_elastic_environment({**environ, "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "0"})


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"TORCHELASTIC_MAX_RESTARTS": "0"},
        {"TORCHELASTIC_MAX_RESTARTS": "2", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"},
    ],
)
def test_runs_without_restarts_or_with_a_private_store_pass(environ: dict[str, str]) -> None:
    check_elastic_environment(environ)


def test_slurm_local_id_follows_torchrun_local_rank() -> None:
    environ = {"SLURM_JOB_ID": "7", "SLURM_LOCALID": "0", "LOCAL_RANK": "3"}
    match_slurm_local_rank(environ)
    assert environ["SLURM_LOCALID"] == "3"

    outside_slurm = {"LOCAL_RANK": "3"}
    match_slurm_local_rank(outside_slurm)
    assert "SLURM_LOCALID" not in outside_slurm


def test_info_records_pass_on_rank_zero_only(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    logger = log_info_on_rank_zero(logging.getLogger("tests.distributed.evaluator"))
    log_info_on_rank_zero(logger)
    assert len(logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("rank 0 info")
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "get_rank", lambda: 1)
        logger.info("rank 1 info")
        logger.warning("rank 1 warning")
    assert [record.getMessage() for record in caplog.records] == ["rank 0 info", "rank 1 warning"]


def test_init_distributed_starts_a_single_process_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    monkeypatch.delenv("TORCHELASTIC_MAX_RESTARTS", raising=False)
    init_distributed()
    try:
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        init_distributed()  # a second call keeps the group
        (tmp_path / "last.pt").touch()
        assert exists_on_rank_zero(tmp_path / "last.pt")
        assert not exists_on_rank_zero(tmp_path / "missing.pt")
    finally:
        dist.destroy_process_group()


def test_init_distributed_checks_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "1")
    monkeypatch.delenv("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", raising=False)
    monkeypatch.setattr(distributed.dist, "init_process_group", pytest.fail)
    with pytest.raises(RuntimeError, match="TORCH_DISABLE_SHARE_RDZV_TCP_STORE"):
        init_distributed()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_local_device_is_the_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert distributed.local_device({"LOCAL_RANK": "3"}) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert distributed.local_device({"LOCAL_RANK": "3"}) == torch.device("cuda:3")


@pytest.mark.parametrize("sync", [True, False])
def test_prepare_ddp_module_converts_batch_norms_only_when_asked(sync: bool) -> None:
    from dca_monai.nets import DCABasicUNet

    net = DCABasicUNet(spatial_dims=2, features=(8, 8, 16, 16, 32, 8))
    module = distributed.prepare_ddp_module(net, "cpu", sync)
    kinds = {type(layer) for layer in module.modules()}
    assert (torch.nn.SyncBatchNorm in kinds) is sync
    with pytest.raises(TypeError, match=r"sync_batch_norm=.false."):
        distributed.prepare_ddp_module(net, "cpu", "false")  # type: ignore[arg-type]


def test_rank_shard_without_a_process_group_is_the_whole_list_shuffled() -> None:
    data = [{"image": str(i)} for i in range(7)]
    shard = distributed.rank_shard(data, seed=0)
    assert sorted(item["image"] for item in shard) == [str(i) for i in range(7)]
    assert shard == distributed.rank_shard(data, seed=0)
