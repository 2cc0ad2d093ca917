#!/usr/bin/env bash
# Peak memory of Huren while ingesting a whole large study over STOW-RS
# (issue 5: "peak RSS under 150 MB while ingesting a 2 GB study").
#
#   bench/stow_rss.sh [DIR] [CONCURRENCY]
#     DIR: a directory of DICOM files (default /tmp/bench-data/ct4000, a
#          4000-slice 512×512 CT = 2.05 GB, made by ../shared/bench/gen_series.py
#          ct --count 4000 --seed 7); CONCURRENCY: STOW clients (default 4).
#   HUREN_BENCH_BACKEND=minio runs it on MinIO + Redis (started by ctl.sh).
#
# Starts a fresh hub (bench/huren/ctl.sh on port 18242), uploads every file
# with the shared Go STOW client, then reads the kernel's high-water mark of
# the hub's resident memory (VmHWM in /proc/PID/status), which covers the
# whole run including the series-metadata bundle rebuild after the last
# instance.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${1:-/tmp/bench-data/ct4000}
C=${2:-4}
export HUREN_BENCH_DIR=${HUREN_BENCH_DIR:-/tmp/huren-rss-${HUREN_BENCH_BACKEND:-fs}} HUREN_BENCH_PORT=${HUREN_BENCH_PORT:-18242}
[ -d "$DATA" ] || { echo "no $DATA: run ../shared/bench/gen_series.py ct --count 4000 --out $DATA --seed 7" >&2; exit 1; }
[ -x /tmp/bench-bin/stowclient ] || { echo "no /tmp/bench-bin/stowclient: run ../shared/bench/build.sh" >&2; exit 1; }
(cd "$HERE/.." && go build -o /tmp/bench-bin/huren ./cmd/huren)
rm -rf "$HUREN_BENCH_DIR"
trap '"$HERE/huren/ctl.sh" stop >/dev/null 2>&1 || true' EXIT
"$HERE/huren/ctl.sh" start
pid=$(cat "$HUREN_BENCH_DIR/huren.pid")
token=$(cat "$HUREN_BENCH_DIR/token")
bytes=$(du -sb "$DATA" | cut -f1)
files=$(find "$DATA" -type f | wc -l)
echo "ingesting $files files, $((bytes / 1000000)) MB, $C clients, backend ${HUREN_BENCH_BACKEND:-fs}"
/tmp/bench-bin/stowclient stow -url "http://bench:$token@127.0.0.1:$HUREN_BENCH_PORT/dicom-web/studies" -dir "$DATA" -batch 1 -c "$C" 2>&1 | grep '^stow'
sleep 4 # the series bundle is rebuilt 2 s after the last instance
[ -n "${HUREN_DEBUG_LISTEN:-}" ] && curl -s -o /tmp/stow_rss.heap "http://$HUREN_DEBUG_LISTEN/debug/pprof/heap" && echo "heap profile: /tmp/stow_rss.heap"
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "peak RSS $((hwm_kb / 1024)) MB while ingesting $((bytes / 1000000)) MB (target < 150 MB)"
