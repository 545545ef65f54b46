#!/usr/bin/env bash
# Build the nnU-Net v2 environment (.venv-nnunet) that runs dca_monai's nnU-Net trainers, its tests and demo.
#
#   bash scripts/setup_nnunet.sh            # build, or reuse while scripts/nnunet-constraints.txt is unchanged
#   DCA_MONAI_NNUNET_VENV=DIR bash scripts/setup_nnunet.sh
# It also fetches the example CT files of the embedded dataset into it (as setup_env.sh does for .venv).
#
# nnunetv2 2.8.1 with dca_monai installed editable (`pip install -e ".[nnunet]"`), every version pinned by
# scripts/nnunet-constraints.txt (pip freeze of a working build). Why a venv of its own: nnU-Net's trainer
# lookup imports all its trainer modules, among them `primus`, which imports timm and so torchvision; the
# torchvision wheels pip finds are CUDA builds that cannot load beside the main environment's CPU torch
# 2.13.0. This environment takes torch 2.14.1 + torchvision 0.29.1 (CUDA builds, about 5.5 GB, they run on
# CPU), as the MONAI Label environment does. The main environment (.venv) is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${DCA_MONAI_NNUNET_VENV:-$REPO/.venv-nnunet}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.dca_monai_nnunet"
CONSTRAINTS="$REPO/scripts/nnunet-constraints.txt"
if [ ! -f "$STAMP" ] || ! cmp -s "$CONSTRAINTS" "$STAMP"; then
  echo "[setup_nnunet.sh] building $VENV from $CONSTRAINTS (several minutes; about 6 GB)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" torch torchvision
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" -e "$REPO[nnunet]"
  "$VENV/bin/python" -c "import nnunetv2, timm, torchvision, monai, dca_monai.nnunet.trainers; from importlib.metadata import version; print('[setup_nnunet.sh] nnunetv2', version('nnunetv2'), 'torch', version('torch'), 'monai', monai.__version__)"
  cp "$CONSTRAINTS" "$STAMP"
fi
# the embedded CT dataset's example files (TotalSegmentator's sdist), for the demo and the benchmark; skipped once fetched
"$VENV/bin/python" -m dca_monai.apps.totalsegmentator_examples fetch
