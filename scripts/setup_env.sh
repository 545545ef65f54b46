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
# Colin27, the held-out real T1 scan of the brain bundle's tests and demo (dca_monai.apps.colin27), from Debian
if [ ! -f /usr/share/mricron/templates/ch2bet.nii.gz ] && [ -z "${DCA_MONAI_COLIN27_DIR:-}" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    $SUDO apt-get install -y -qq mricron-data >/dev/null 2>&1 \
      || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq mricron-data >/dev/null; } \
      || echo "setup_env.sh: apt-get could not install mricron-data (Colin27); the real-scan tests and demo step will fail" >&2
  else
    echo "setup_env.sh: apt-get not found, so Colin27 (Debian package mricron-data) was not installed; the real-scan" \
      "tests and demo step need ch2.nii.gz and ch2bet.nii.gz: install the package or set DCA_MONAI_COLIN27_DIR" >&2
  fi
fi
# ITK's example T1 and brain mask, the second held-out real scan of the brain bundle (dca_monai.apps.itk_brain_t1)
if [ ! -f /usr/share/doc/insighttoolkit5-examples/examples/Data/KmeansTest_T1UCharRaw.nii.gz ] \
  && [ -z "${DCA_MONAI_ITK_T1_DIR:-}" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    $SUDO apt-get install -y -qq --no-install-recommends insighttoolkit5-examples >/dev/null 2>&1 \
      || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends insighttoolkit5-examples >/dev/null; } \
      || echo "setup_env.sh: apt-get could not install insighttoolkit5-examples (ITK T1); its real-scan tests and demo step will fail" >&2
  else
    echo "setup_env.sh: apt-get not found, so ITK's example T1 (Debian package insighttoolkit5-examples) was not" \
      "installed; the real-scan tests and demo step need it: install the package or set DCA_MONAI_ITK_T1_DIR" >&2
  fi
fi
# the real CT example files of TotalSegmentator's source distribution (embedded CT dataset); skipped once fetched
.venv/bin/python -m dca_monai.apps.totalsegmentator_examples fetch
# the PACS loop (scripts/pacs.sh, tests/scripts/test_pacs.py): Orthanc with DICOMweb, and a headless Chromium for OHIF
if ! command -v Orthanc >/dev/null 2>&1 || [ ! -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] \
  || ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    PACS_PACKAGES="orthanc orthanc-dicomweb chromium"
    # shellcheck disable=SC2086 # a list of package names
    $SUDO apt-get install -y -qq $PACS_PACKAGES >/dev/null 2>&1 \
      || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $PACS_PACKAGES >/dev/null; } \
      || echo "setup_env.sh: apt-get could not install $PACS_PACKAGES; tests/scripts/test_pacs.py will fail" >&2
  else
    echo "setup_env.sh: apt-get not found, so Orthanc and Chromium (Debian orthanc, orthanc-dicomweb, chromium)" \
      "were not installed; tests/scripts/test_pacs.py needs them" >&2
  fi
fi
