#!/usr/bin/env bash
# Run the package tests on MONAI 1.5.2 (what MONAI Label 0.8.5 needs) in .venv-monai152; CI tests 1.6.1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-monai152/bin/python ]; then
  python3 -m venv .venv-monai152
fi
.venv-monai152/bin/python -m pip install --quiet --upgrade pip
.venv-monai152/bin/python -m pip install --quiet "torch==2.13.0"
# pytorch-ignite 0.4.11 is what monai[ignite]==1.5.2 pins (and MONAI Label 0.8.5 installs)
grep -v -iE '^(monai|torch|pytorch-ignite)==' constraints.txt > .venv-monai152/constraints.txt
.venv-monai152/bin/python -m pip install --quiet -c .venv-monai152/constraints.txt "monai==1.5.2" "pytorch-ignite==0.4.11" -e ".[dev,demo,onnx]"
.venv-monai152/bin/python -m dca_monai.apps.totalsegmentator_examples fetch
.venv-monai152/bin/python -m pytest -q "$@"
