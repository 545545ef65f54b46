#!/usr/bin/env bash
# Build the MONAI Label 0.8.5 environment (.venv-monailabel), lay out the monaibundle app with our
# bundles as local models (no zoo download) and start the server.
#
#   bash scripts/monailabel.sh [--host 127.0.0.1] [--port 8000] [--studies DIR] [--app-dir DIR]
#                              [--bundles brain_mri_dca_segmentation,ct_dca_segmentation] [--setup-only] [--refresh]
#                              [--pacs [URL]]
# --pacs serves the studies of a PACS over DICOMweb (default http://127.0.0.1:8042/dicom-web, the Orthanc of
# scripts/pacs.sh) through dca_monai.monailabel.pacs_app; see docs/pacs.md.
# A bundle is copied into the app once; edit the app's copy to tune it, or pass --refresh to copy the
# repository's configs again (its models/ and training output are kept).
#
# MONAI Label 0.8.5 needs monai 1.5.2, pydicom<3, numpy<2 and a torchvision that loads beside torch:
# the environment is torch 2.14.1 + torchvision 0.29.1, a CUDA build (about 8 GB, it also runs on CPU),
# pinned by scripts/monailabel-constraints.txt. dca_monai is installed with --no-deps because its
# jsonschema>=4 (only for `verify_metadata`) conflicts with monailabel's pydicom-seg (jsonschema<4).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

HOST=127.0.0.1
PORT=8000
STUDIES=""
APP_DIR="$REPO/outputs/monailabel/apps/monaibundle"
BUNDLES="brain_mri_dca_segmentation,ct_dca_segmentation"
SETUP_ONLY=0
REFRESH=0
PACS=""
VENV=${MONAILABEL_VENV:-$REPO/.venv-monailabel}
PYTHON=${PYTHON:-python3}

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --studies) STUDIES=$2; shift 2 ;;
    --app-dir) APP_DIR=$2; shift 2 ;;
    --bundles) BUNDLES=$2; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    --refresh) REFRESH=1; shift ;;
    --pacs) PACS=http://127.0.0.1:8042/dicom-web; shift
      case "${1:-}" in http://*|https://*) PACS=$1; shift ;; esac ;;
    --pacs=*) PACS=${1#--pacs=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scripts/monailabel.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

# 1. the environment, reproducible from the constraints file; a finished build is marked and reused
STAMP="$VENV/.dca_monai_monailabel"
CONSTRAINTS="$REPO/scripts/monailabel-constraints.txt"
if [ ! -f "$STAMP" ] || ! cmp -s "$CONSTRAINTS" "$STAMP"; then
  echo "[monailabel.sh] building $VENV from $CONSTRAINTS (several minutes; about 8 GB)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" torch torchvision
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" monailabel einops
  "$VENV/bin/python" -m pip install --quiet --no-deps -e "$REPO"
  "$VENV/bin/python" -c "import monailabel, monai, torchvision, dca_monai.nets; print('[monailabel.sh] monailabel', monailabel.__version__, 'monai', monai.__version__)"
  cp "$CONSTRAINTS" "$STAMP"
fi

# the `monailabel` command runs `python -m monailabel.main`: the environment's python must come first
export PATH="$VENV/bin:$PATH"

# 2. the monaibundle app, copied out of the installed wheel (offline), with our bundles as local models
if [ ! -f "$APP_DIR/main.py" ]; then
  mkdir -p "$(dirname "$APP_DIR")"
  (cd "$(dirname "$APP_DIR")" && "$VENV/bin/monailabel" apps --download --name monaibundle --output .)
  if [ "$(basename "$APP_DIR")" != monaibundle ]; then mv "$(dirname "$APP_DIR")/monaibundle" "$APP_DIR"; fi
fi
IFS=',' read -r -a BUNDLE_LIST <<< "$BUNDLES"
for bundle in "${BUNDLE_LIST[@]}"; do
  source_dir="$REPO/bundles/$bundle"
  if [ ! -f "$source_dir/configs/metadata.json" ]; then
    echo "scripts/monailabel.sh: --bundles names '$bundle' but $source_dir/configs/metadata.json does not exist" >&2
    exit 2
  fi
  target="$APP_DIR/model/$bundle"
  # configs, docs and the shipped weights; training output stays in the app's copy
  if [ ! -d "$target/configs" ] || [ "$REFRESH" = 1 ]; then
    mkdir -p "$target"
    rm -rf "$target/configs"
    cp -r "$source_dir/configs" "$source_dir/docs" "$source_dir/LICENSE" "$target/"
  fi
  mkdir -p "$target/models"
  if [ -f "$source_dir/models/model.pt" ] && [ ! -f "$target/models/model.pt" ]; then
    cp "$source_dir/models/model.pt" "$target/models/model.pt"
  fi
  if [ ! -f "$target/models/model.pt" ]; then
    echo "[monailabel.sh] WARNING: $bundle has no models/model.pt: /infer/$bundle fails until /train/$bundle has run" >&2
  fi
done
echo "[monailabel.sh] app ready at $APP_DIR with models: $BUNDLES"
[ "$SETUP_ONLY" = 1 ] && exit 0

CONF=(--conf models "$BUNDLES" --conf zoo_source github --conf sam2 false)
if [ -n "$PACS" ]; then
  [ -z "$STUDIES" ] || { echo "scripts/monailabel.sh: give --studies DIR or --pacs URL, not both" >&2; exit 2; }
  STUDIES=$PACS
  # main.py becomes the monaibundle app with dca_monai's PACS datastore; monaibundle_main.py keeps the original
  if ! grep -q DCAMonaiPacsApp "$APP_DIR/main.py"; then
    mv "$APP_DIR/main.py" "$APP_DIR/monaibundle_main.py"
    cat > "$APP_DIR/main.py.tmp" <<'EOF'
"""The monaibundle app (monaibundle_main.py) with dca_monai's PACS datastore; written by scripts/monailabel.sh --pacs."""

import monaibundle_main
from monailabel.interfaces.app import MONAILabelApp

from dca_monai.monailabel.pacs_app import PacsAppMixin


class DCAMonaiPacsApp(PacsAppMixin, monaibundle_main.MyApp, MONAILabelApp):
    """MONAI Label takes the class of main.py whose direct bases include MONAILabelApp."""
EOF
    mv "$APP_DIR/main.py.tmp" "$APP_DIR/main.py"
  fi
  PACS_MODEL=${BUNDLE_LIST[0]}
  for bundle in "${BUNDLE_LIST[@]}"; do [ "$bundle" = ct_dca_segmentation ] && PACS_MODEL=$bundle; done
  CONF+=(--conf pacs_model "$PACS_MODEL")
  # downloaded series and their NIfTI conversions, beside the app unless set
  export MONAI_LABEL_DICOMWEB_CACHE_PATH=${MONAI_LABEL_DICOMWEB_CACHE_PATH:-$(dirname "$APP_DIR")/dicomweb-cache}
fi
if [ -z "$STUDIES" ]; then
  echo "scripts/monailabel.sh: --studies DIR or --pacs [URL] is required to start the server (a folder of images, e.g. *.nii.gz, or a PACS)" >&2
  exit 2
fi
exec "$VENV/bin/monailabel" start_server --app "$APP_DIR" --studies "$STUDIES" --host "$HOST" --port "$PORT" "${CONF[@]}"
