#!/usr/bin/env bash
# The CT job: set up .venv (it fetches the TotalSegmentator example CTs), then train DCA and its parent on one
# patient and score both on another patient's DICOM series (Dice per organ, HD95, DICOM SEG round trip).
# Pass --quick for a CI-sized run; outputs go to outputs/demo_ct (or --output-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/python scripts/demo_ct.py "$@"
