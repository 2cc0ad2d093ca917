#!/usr/bin/env bash
# Warm-cache /rendered of one 512x512 CT slice: the same URL requested again
# and again (a reader scrolling back), Huren vs Orthanc, same run, same file.
# The harness's render rows round-robin over 300 slices and so measure mostly
# cold renders; this row measures what a cache buys.
#   bench/render_warm.sh  (needs bench/run.sh's build: stowclient, ct300, huren binary)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED_BENCH:-$HERE/../../shared/bench}
SC=/tmp/bench-bin/stowclient
F=/tmp/bench-data/ct300/CT00150.dcm
read -r ST SE SOP <<<"$(dcmdump +P 0020,000d +P 0020,000e +P 0008,0018 "$F" | sed -n 's/.*\[\(.*\)\].*/\1/p' | tr '\n' ' ')"
row() { # label url
  for c in 1 8; do
    "$SC" get -url "$2" -c $c -n $((200 * c)) -warmup 5 -accept image/jpeg | tail -1 |
      python3 -c "import json,sys; r=json.load(sys.stdin); print('| $1 | c=$c | %.2f | %.2f | %.0f |' % (r['latency']['p50_ms'], r['latency']['p99_ms'], r['req_per_s']))"
  done
}
echo "| target | clients | p50 ms | p99 ms | req/s |"; echo "|---|---|---|---|---|"
# Orthanc
( . "$SHARED/targets/orthanc.env"; "$SHARED/orthanc/stop.sh" >/dev/null 2>&1 || true; FRESH=1 "$SHARED/orthanc/start.sh" >/dev/null
  TCP_NODELAY=1 storescu -aet BENCHSCU -aec ORTHANC 127.0.0.1 4242 "$F" >/dev/null
  row "Orthanc 1.10.1 /dicom-web/…/rendered" "$DICOMWEB/studies/$ST/series/$SE/instances/$SOP/rendered"
  "$SHARED/orthanc/stop.sh" >/dev/null 2>&1 || true )
# Huren (embedded default)
export HUREN_BENCH_BACKEND=fs HUREN_BENCH_DIR=/tmp/huren-bench-warm
rm -rf "$HUREN_BENCH_DIR"; "$HERE/huren/ctl.sh" start >/dev/null
TOKEN=$(cat "$HUREN_BENCH_DIR/token")
curl -fs -u "x:$TOKEN" -H 'Content-Type: application/dicom' --data-binary @"$F" http://127.0.0.1:18042/dicom-web/studies >/dev/null
row "Huren /dicom-web/…/rendered" "http://x:$TOKEN@127.0.0.1:18042/dicom-web/studies/$ST/series/$SE/instances/$SOP/rendered"
"$HERE/huren/ctl.sh" stop >/dev/null
