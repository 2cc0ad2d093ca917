#!/usr/bin/env bash
# Cold /rendered of the 2500x3000 DX: a freshly started Huren (empty cache)
# answers its first request; repeated 3 times. Compare with Orthanc's
# render_dx2500x3000_* rows from bench/run.sh (Orthanc has no render cache).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
F=/tmp/bench-data/dx/DX00001.dcm
read -r ST SE SOP <<<"$(dcmdump +P 0020,000d +P 0020,000e +P 0008,0018 "$F" | sed -n 's/.*\[\(.*\)\].*/\1/p' | tr '\n' ' ')"
export HUREN_BENCH_BACKEND=fs HUREN_BENCH_DIR=/tmp/huren-bench-cold
rm -rf "$HUREN_BENCH_DIR"; "$HERE/huren/ctl.sh" start >/dev/null
TOKEN=$(cat "$HUREN_BENCH_DIR/token")
curl -fs -u "x:$TOKEN" -H 'Content-Type: application/dicom' --data-binary @"$F" http://127.0.0.1:18042/dicom-web/studies >/dev/null
U="http://127.0.0.1:18042/dicom-web/studies/$ST/series/$SE/instances/$SOP/rendered"
for q in "" "?viewport=512,512" "?window=4000,6000,linear"; do
  acc=image/jpeg; [ "$q" = "?window=4000,6000,linear" ] && acc=image/png
  for i in 1 2 3; do
    "$HERE/huren/ctl.sh" stop >/dev/null; "$HERE/huren/ctl.sh" start >/dev/null
    curl -fs -o /dev/null -u "x:$TOKEN" -H "Accept: $acc" -w "| DX rendered$q $acc | cold #$i | %{time_total}s | %{size_download} B |\n" "$U$q"
  done
done
"$HERE/huren/ctl.sh" stop >/dev/null
