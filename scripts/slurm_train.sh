#!/usr/bin/env bash
# Train a bundle on several SLURM nodes: one torchrun agent per node (srun), c10d rendezvous on the
# job's first node, elastic restarts. Submit from the repository root:
#   sbatch --nodes=2 --gpus-per-node=4 scripts/slurm_train.sh bundles/brain_mri_dca_segmentation [--id value ...]
# Settings (environment): GPUS_PER_NODE (default: SLURM_GPUS_ON_NODE, else 1), RDZV_PORT (29500),
# MAX_RESTARTS (3), PYTHON (python3: the interpreter whose torchrun and dca_monai are used),
# DRY_RUN=1 prints the srun command instead of running it.
#SBATCH --job-name=dca_monai_train
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1/configs/multi_gpu_train.json" ]; then
  echo "usage: sbatch --nodes=N scripts/slurm_train.sh BUNDLE_DIR [--id value ...]" >&2
  echo "BUNDLE_DIR=${1:-<missing>}: expected a folder with configs/train.json and configs/multi_gpu_train.json" >&2
  exit 2
fi
if [ -z "${SLURM_JOB_NODELIST:-}" ] || [ -z "${SLURM_JOB_ID:-}" ]; then
  echo "SLURM_JOB_NODELIST/SLURM_JOB_ID are not set: submit with sbatch (or run inside salloc)" >&2
  exit 2
fi
bundle=$(cd "$1" && pwd)
shift

# the whole host list first: `scontrol ... | head -n 1` would end scontrol with SIGPIPE (141) under pipefail
mapfile -t hosts < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head_node=${hosts[0]}
nnodes=${SLURM_JOB_NUM_NODES:-${#hosts[@]}}
gpus=${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-1}}
port=${RDZV_PORT:-29500}
python=${PYTHON:-python3}

# restarted workers need a rendezvous store of their own (dca_monai.utils.distributed refuses to start without)
export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

command=(
  srun --ntasks-per-node=1 --kill-on-bad-exit=1
  "$python" -m torch.distributed.run
  --nnodes="$nnodes" --nproc-per-node="$gpus"
  --rdzv-backend=c10d --rdzv-endpoint="$head_node:$port" --rdzv-id="$SLURM_JOB_ID"
  --max-restarts="${MAX_RESTARTS:-3}"
  -m monai.bundle run
  --config_file "['$bundle/configs/train.json','$bundle/configs/multi_gpu_train.json']"
  --bundle_root "$bundle"
  "$@"
)
echo "head node $head_node:$port, $nnodes node(s) x $gpus process(es)" >&2
if [ "${DRY_RUN:-0}" = "1" ]; then
  printf '%q ' "${command[@]}"
  echo
  exit 0
fi
exec "${command[@]}"
