#!/usr/bin/env bash
# Create .venv (if missing) and install dca_monai with the tested versions from constraints.txt.
# torch is pinned to 2.13.0, whose CPU wheel is on the CI machine; pip never pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,demo,onnx]"
# the real CT example files of TotalSegmentator's source distribution (embedded CT dataset); skipped once fetched
.venv/bin/python -m dca_monai.data.totalsegmentator_examples fetch
