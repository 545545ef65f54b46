#!/usr/bin/env bash
# The README's main job: set up .venv, then train, evaluate and compare DCA vs its parent on the embedded MRI data.
# Pass --quick for a CI-sized run; outputs go to outputs/demo (or --output-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/python scripts/demo.py "$@"
