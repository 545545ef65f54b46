"""scripts/slurm_train.sh with stand-ins for SLURM's ``scontrol`` and ``srun`` on PATH."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "slurm_train.sh"
BUNDLE = REPO_ROOT / "bundles" / "brain_mri_dca_segmentation"


def stand_ins(folder: Path, num_hosts: int) -> dict[str, str]:
    """``scontrol show hostnames`` prints ``num_hosts`` names; ``srun`` writes its arguments and one variable."""
    folder.mkdir(exist_ok=True)
    (folder / "scontrol").write_text(
        '#!/usr/bin/env bash\n[ "$1 $2" = "show hostnames" ] || exit 3\n'
        f'for i in $(seq 1 {num_hosts}); do echo "gpu$i"; done\n'
    )
    (folder / "srun").write_text(
        f'#!/usr/bin/env bash\necho "store=$TORCH_DISABLE_SHARE_RDZV_TCP_STORE" > {folder}/srun.txt\n'
        f'printf "%s\\n" "$@" >> {folder}/srun.txt\n'
    )
    for name in ("scontrol", "srun"):
        (folder / name).chmod(0o755)
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "TORCH_DISABLE"))}
    return {
        **environ,
        "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
        "SLURM_JOB_NODELIST": f"gpu[1-{num_hosts}]",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NUM_NODES": str(num_hosts),
        "GPUS_PER_NODE": "4",
    }


def run(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def test_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, check=False).returncode == 0


def test_dry_run_prints_one_torchrun_per_node_with_rendezvous_on_the_first(tmp_path: Path) -> None:
    result = run({**stand_ins(tmp_path, 3), "DRY_RUN": "1"}, str(BUNDLE), "--epochs", "7")
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout)
    assert argv[:3] == ["srun", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    for expected in ("--nnodes=3", "--nproc-per-node=4", "--rdzv-backend=c10d", "--rdzv-endpoint=gpu1:29500"):
        assert expected in argv
    assert "--rdzv-id=4242" in argv
    config = argv[argv.index("--config_file") + 1]
    assert config == f"['{BUNDLE}/configs/train.json','{BUNDLE}/configs/multi_gpu_train.json']"
    assert argv[-2:] == ["--epochs", "7"]
    assert not (tmp_path / "srun.txt").exists()  # a dry run starts nothing


def test_srun_gets_the_private_store_variable_and_a_long_host_list_is_read_whole(tmp_path: Path) -> None:
    # 20000 host names: `scontrol ... | head -n 1` under pipefail would end with SIGPIPE (141)
    result = run(stand_ins(tmp_path, 20000), str(BUNDLE))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "srun.txt").read_text().splitlines()
    assert lines[0] == "store=1"
    assert "--rdzv-endpoint=gpu1:29500" in lines and "--nnodes=20000" in lines


@pytest.mark.parametrize(
    ("args", "unset_slurm", "message"),
    [
        ((), False, "usage: sbatch"),
        (("bundles/missing",), False, "BUNDLE_DIR=bundles/missing: expected a folder with configs/train.json"),
        ((str(BUNDLE),), True, "SLURM_JOB_NODELIST/SLURM_JOB_ID are not set"),
    ],
)
def test_bad_invocations_are_refused(tmp_path: Path, args: tuple[str, ...], unset_slurm: bool, message: str) -> None:
    environ = stand_ins(tmp_path, 2)
    if unset_slurm:
        environ = {key: value for key, value in environ.items() if not key.startswith("SLURM_")}
    result = run(environ, *args)
    assert result.returncode == 2
    assert message in result.stderr
