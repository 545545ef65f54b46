#!/usr/bin/env bash
# A local PACS for MONAI Label: Orthanc (Debian `orthanc` 1.10) with DICOMweb (`orthanc-dicomweb`), its own
# configuration and storage under --dir, answering loopback clients only.
#
#   bash scripts/pacs.sh start [--port 8042] [--dir outputs/pacs] [--lua FILE]
#                                                                    start Orthanc in the background, wait until it answers;
#                                                                    --lua adds an Orthanc Lua script (e.g. a store filter)
#   bash scripts/pacs.sh load DIR [--port 8042]                      upload every DICOM file under DIR (Orthanc REST /instances)
#   bash scripts/pacs.sh load-ct-example [--port 8042] [--dir ...]   upload the embedded unseen CT patient, UIDs repaired,
#                                                                    decompressed (see docs/pacs.md: JPEG 2000 in Orthanc 1.10)
#   bash scripts/pacs.sh status [--port 8042]                        print the studies Orthanc holds
#   bash scripts/pacs.sh stop [--dir outputs/pacs]                   stop the Orthanc started with that --dir
# DICOMweb root: http://127.0.0.1:PORT/dicom-web (give it to `scripts/monailabel.sh --pacs`).
#
# Orthanc 1.10 has no bind-address option: its HTTP socket listens on every interface, but
# RemoteAccessAllowed=false makes it answer 403 to any client that is not 127.0.0.1, no user is defined,
# and its DICOM (DIMSE) port is disabled. To serve other machines, see docs/pacs.md (users + TLS).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

COMMAND=${1:-}
[ $# -gt 0 ] && shift
PORT=${DCA_MONAI_PACS_PORT:-8042}
DIR="$REPO/outputs/pacs"
SOURCE=""
LUA=""
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
ORTHANC=${ORTHANC:-Orthanc}
PLUGINS=${ORTHANC_PLUGINS:-/usr/share/orthanc/plugins}

usage() { sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "scripts/pacs.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --lua) LUA=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); [ -f "$LUA" ] || fail "--lua '$2' is not a file"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) fail "unknown argument '$1'" ;;
    *) [ -z "$SOURCE" ] || fail "unexpected argument '$1'"; SOURCE=$1; shift ;;
  esac
done
case "$PORT" in ''|*[!0-9]*) fail "--port '$PORT' is not a port number" ;; esac
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
URL="http://127.0.0.1:$PORT"

answers() { curl -sf --max-time 5 "$URL/system" >/dev/null 2>&1; }

upload_folder() {  # upload every file under $1; Orthanc answers 400 to a file that is not DICOM
  local folder=$1 count=0 file status
  [ -d "$folder" ] || fail "load: '$folder' is not a folder"
  answers || fail "no Orthanc answers at $URL (start it first: bash scripts/pacs.sh start --port $PORT)"
  while IFS= read -r -d '' file; do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 -X POST --data-binary "@$file" \
      -H 'Content-Type: application/dicom' "$URL/instances")
    [ "$status" = 200 ] || fail "load: Orthanc at $URL answered HTTP $status to $file (expected 200: a DICOM file)"
    count=$((count + 1))
  done < <(find "$folder" -type f ! -name '.*' -print0 | sort -z)
  [ "$count" -gt 0 ] || fail "load: no files under '$folder'"
  echo "[pacs.sh] uploaded $count files from $folder to $URL"
}

case "$COMMAND" in
  start)
    command -v "$ORTHANC" >/dev/null || fail "'$ORTHANC' not found: install Debian's orthanc and orthanc-dicomweb (scripts/setup_env.sh does)"
    [ -f "$PLUGINS/libOrthancDicomWeb.so" ] || fail "Orthanc plugin $PLUGINS/libOrthancDicomWeb.so not found: install Debian's orthanc-dicomweb"
    if [ -f "$DIR/orthanc.pid" ] && kill -0 "$(cat "$DIR/orthanc.pid")" 2>/dev/null; then
      fail "an Orthanc (pid $(cat "$DIR/orthanc.pid")) already runs with --dir $DIR; stop it first"
    fi
    answers && fail "something already answers at $URL: pick another --port"
    mkdir -p "$DIR/storage"
    cat > "$DIR/orthanc.json.tmp" <<EOF
{
  "Name": "dca_monai PACS",
  "StorageDirectory": "$DIR/storage",
  "IndexDirectory": "$DIR/storage",
  "HttpPort": $PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomServerEnabled": false,
  "WebDavEnabled": false,
  "StableAge": 5,
  "LuaScripts": [$( [ -n "$LUA" ] && printf '"%s"' "$LUA" )],
  "Plugins": ["$PLUGINS/libOrthancDicomWeb.so"],
  "DicomWeb": {"Enable": true, "Root": "/dicom-web/", "EnableWado": true, "WadoRoot": "/wado"}
}
EOF
    mv "$DIR/orthanc.json.tmp" "$DIR/orthanc.json"
    "$ORTHANC" "$DIR/orthanc.json" >> "$DIR/orthanc.log" 2>&1 &
    echo $! > "$DIR/orthanc.pid"
    for _ in $(seq 60); do
      if answers; then
        curl -sf "$URL/dicom-web/studies" >/dev/null || fail "Orthanc answers at $URL but not its DICOMweb root $URL/dicom-web (see $DIR/orthanc.log)"
        echo "[pacs.sh] Orthanc $(curl -sf "$URL/system" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Version"])') (pid $(cat "$DIR/orthanc.pid")) at $URL, DICOMweb $URL/dicom-web, storage $DIR/storage"
        exit 0
      fi
      kill -0 "$(cat "$DIR/orthanc.pid")" 2>/dev/null || { tail -5 "$DIR/orthanc.log" >&2; rm -f "$DIR/orthanc.pid"; fail "Orthanc exited at start (log: $DIR/orthanc.log)"; }
      sleep 0.5
    done
    fail "Orthanc (pid $(cat "$DIR/orthanc.pid")) does not answer at $URL after 30 s (log: $DIR/orthanc.log)"
    ;;
  load)
    [ -n "$SOURCE" ] || fail "load needs a DICOM folder: bash scripts/pacs.sh load DIR"
    upload_folder "$SOURCE"
    ;;
  load-ct-example)
    # the unseen CT patient of dca_monai.apps.ct_organ_dataset, with the UIDs it repairs (the same on every build)
    "$PYTHON" -m dca_monai.apps.ct_example_series --output-dir "$DIR/ct_example" --decompress >/dev/null
    upload_folder "$DIR/ct_example"
    ;;
  status)
    answers || { echo "[pacs.sh] no Orthanc answers at $URL"; exit 1; }
    curl -sf "$URL/dicom-web/studies" | "$PYTHON" -c '
import json, sys
for study in json.load(sys.stdin):
    print(study["0020000D"]["Value"][0], (study.get("00081030", {}).get("Value") or [""])[0])'
    ;;
  stop)
    [ -f "$DIR/orthanc.pid" ] || { echo "[pacs.sh] no $DIR/orthanc.pid: nothing to stop"; exit 0; }
    PID=$(cat "$DIR/orthanc.pid")
    if kill -0 "$PID" 2>/dev/null; then
      kill -TERM "$PID"  # Orthanc closes its index and storage cleanly on SIGTERM
      for _ in $(seq 60); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$PID" 2>/dev/null && fail "Orthanc (pid $PID) still runs 30 s after SIGTERM"
    fi
    rm -f "$DIR/orthanc.pid"
    echo "[pacs.sh] Orthanc (pid $PID) stopped"
    ;;
  -h|--help|"") usage; [ -n "$COMMAND" ] || exit 2 ;;
  *) fail "unknown command '$COMMAND' (start, load, load-ct-example, status, stop)" ;;
esac
