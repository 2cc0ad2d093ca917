#!/usr/bin/env bash
# Cold rendering of the 2500x3000 16-bit DX, Huren vs Orthanc in one run, same
# file: each repetition restarts the server (empty in-process caches: Huren's
# render/frame/instance LRU, Orthanc's storage cache) and times its FIRST
# request. Both read the file from the OS page cache (warmed by the upload).
#   bench/render_cold_dx.sh [REPS]   (default 5)
# Env: HUREN_BIN (default /tmp/bench-bin/huren), HUREN_BENCH_PORT (18042),
#      ORTHANC_HTTP_PORT (8042), ORTHANC_DICOM_PORT (4242), SHARED_BENCH.
#      HUREN_BINS="a b …": several Huren builds measured in the same run
#      (A/B of a change), each labelled huren:<file name>.
# Rows: full-size rendered JPEG (both /dicom-web/…/rendered, Accept image/jpeg,
# server-default quality), downscaled preview (Huren ?viewport=512,512 JPEG vs
# Orthanc's native /instances/{id}/preview PNG, the issue's comparison), and
# windowed PNG (?window=4000,6000,linear, full size). Prints one line per
# request and a median/min/max summary per row.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED_BENCH:-$HERE/../../shared/bench}
REPS=${1:-5}
F=/tmp/bench-data/dx/DX00001.dcm
read -r ST SE SOP <<<"$(dcmdump +P 0020,000d +P 0020,000e +P 0008,0018 "$F" | sed -n 's/.*\[\(.*\)\].*/\1/p' | tr '\n' ' ')"
OUT=$(mktemp -d /tmp/render-cold-dx.XXXXXX)
export ORTHANC_DATA=$OUT/orthanc
OP=${ORTHANC_HTTP_PORT:-8042}
export HUREN_BENCH_BACKEND=fs HUREN_BENCH_DIR=$OUT/huren
HP=${HUREN_BENCH_PORT:-18042}
read -r -a BINS <<<"${HUREN_BINS:-${HUREN_BIN:-/tmp/bench-bin/huren}}"
label() { if [ ${#BINS[@]} = 1 ]; then echo huren; else echo "huren:$(basename "$1")"; fi; }
# Another Huren or Orthanc on these ports would answer instead (401s, wrong figures).
for port in "$OP" "$HP" "${ORTHANC_DICOM_PORT:-4242}"; do
  if ss -ltnH "sport = :$port" | grep -q .; then echo "port $port is in use; set HUREN_BENCH_PORT / ORTHANC_HTTP_PORT / ORTHANC_DICOM_PORT" >&2; exit 1; fi
done
trap '"$HERE/huren/ctl.sh" stop >/dev/null 2>&1 || true; "$SHARED/orthanc/stop.sh" >/dev/null 2>&1 || true' EXIT

# one curl: prints "seconds bytes http_code"
get() { curl -s -o "$OUT/body" -w '%{time_total} %{size_download} %{http_code}' "$@"; }

"$SHARED/orthanc/start.sh" >/dev/null
curl -fs -X POST --data-binary @"$F" "http://127.0.0.1:$OP/instances" >/dev/null
OID=$(curl -fs -X POST --data "$SOP" "http://127.0.0.1:$OP/tools/lookup" | python3 -c 'import json,sys; print([x["ID"] for x in json.load(sys.stdin) if x["Type"]=="Instance"][0])')
HUREN_BIN=${BINS[0]} "$HERE/huren/ctl.sh" start >/dev/null
TOKEN=$(cat "$HUREN_BENCH_DIR/token")
curl -fs -u "x:$TOKEN" -H 'Content-Type: application/dicom' --data-binary @"$F" "http://127.0.0.1:$HP/dicom-web/studies" >/dev/null
"$HERE/huren/ctl.sh" stop >/dev/null

HU="http://127.0.0.1:$HP/dicom-web/studies/$ST/series/$SE/instances/$SOP/rendered"
OU="http://127.0.0.1:$OP/dicom-web/studies/$ST/series/$SE/instances/$SOP/rendered"
# row name | Huren query | Huren Accept | Orthanc URL | Orthanc Accept
ROWS=(
  "full JPEG|$HU|image/jpeg|$OU|image/jpeg"
  "preview 512|$HU?viewport=512,512|image/jpeg|http://127.0.0.1:$OP/instances/$OID/preview|image/png"
  "windowed PNG|$HU?window=4000,6000,linear|image/png|$OU?window=4000,6000,linear|image/png"
)
for i in $(seq 1 "$REPS"); do
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name hu ha ou oa <<<"$row"
    "$SHARED/orthanc/stop.sh" >/dev/null; "$SHARED/orthanc/start.sh" >/dev/null
    echo "orthanc|$name|$i|$(get -H "Accept: $oa" "$ou")|$(file -b "$OUT/body" | cut -c1-60)" | tee -a "$OUT/rows"
    "$SHARED/orthanc/stop.sh" >/dev/null
    for bin in "${BINS[@]}"; do
      HUREN_BIN=$bin "$HERE/huren/ctl.sh" start >/dev/null
      echo "$(label "$bin")|$name|$i|$(get -u "x:$TOKEN" -H "Accept: $ha" "$hu")|$(file -b "$OUT/body" | cut -c1-60)" | tee -a "$OUT/rows"
      "$HERE/huren/ctl.sh" stop >/dev/null
    done
  done
done
python3 - "$OUT/rows" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    srv, name, _, res, _ = line.rstrip("\n").split("|")
    t, size, code = res.split()
    if code != "200":
        raise SystemExit(f"{srv} {name}: HTTP {code}")
    rows.setdefault((name, srv), []).append((float(t), int(size)))
print("| row | server | cold median s | min–max s | bytes |")
print("|---|---|---|---|---|")
for (name, srv), v in rows.items():
    ts = [t for t, _ in v]
    print(f"| {name} | {srv} | {statistics.median(ts):.3f} | {min(ts):.3f}–{max(ts):.3f} | {v[0][1]} |")
EOF
