#!/usr/bin/env bash
# Huren vs Orthanc in one session, on this machine, with the shared harness
# (../shared/bench: Orthanc from Debian packages, synthetic CT/DX data, the Go
# load client). Every figure is a ratio against a reference measured in the
# same run. Results: /tmp/bench-results/{orthanc,huren-fs,huren-minio,limits}.jsonl
# and summaries printed at the end (copied into bench/RESULTS.md by hand).
#
# Usage: bench/run.sh [REPS]      (default 3; about 20 minutes on 2 cores)
#   BENCH_TARGETS="limits orthanc huren-fs huren-minio" and
#   BENCH_ROWS="stow metadata render" choose a subset (e.g. BENCH_ROWS="stow metadata").
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$REPO/../shared/bench}
REPS=${1:-3}
# BENCH_TARGETS selects what to run (default all): limits orthanc huren-fs huren-minio
TARGETS=" ${BENCH_TARGETS:-limits orthanc huren-fs huren-minio} "
want() { [[ "$TARGETS" == *" $1 "* ]]; }
# BENCH_ROWS selects rows within a target (default all): stow metadata render
ROWS=" ${BENCH_ROWS:-stow metadata render} "
row() { [[ "$ROWS" == *" $1 "* ]]; }
OUT=/tmp/bench-results
mkdir -p "$OUT" /tmp/bench-bin
export STOWCLIENT=/tmp/bench-bin/stowclient SHARED_BENCH="$SHARED"

[ -x "$STOWCLIENT" ] && [ -d /tmp/bench-data/ct300 ] || SKIP_APT=${SKIP_APT:-0} "$SHARED/build.sh"
(cd "$REPO" && go build -o /tmp/bench-bin/huren ./cmd/huren)

CT=/tmp/bench-data/ct300
# Repetitions move the previous one's files aside instead of deleting them
# (Huren's ctl.sh and Orthanc's reset below alike); they are deleted after
# the last measurement. On ext4 without a journal — these VMs — every inode
# freed in the last 60-360 s is skipped, one inode-table lookup each, by
# each new file's inode allocation (recently_deleted() in fs/ext4/ialloc.c):
# deleting the previous repetition's thousands of files made the next one
# pay 15-20 % (Huren, 2 files per instance) in the kernel's allocator.
export BENCH_TRASH=/tmp/bench-trash.$$
mkdir -p "$BENCH_TRASH"
trash() { for p in "$@"; do [ -e "$p" ] && mv "$p" "$BENCH_TRASH/$(date +%s%N)-$(basename "$p")" || true; done; }
trap '"$HERE/huren/ctl.sh" stop >/dev/null 2>&1 || true; rm -rf "$BENCH_TRASH"' EXIT
series_of() { dcmdump +P 0020,000d +P 0020,000e "$1" | sed -n 's/.*\[\(.*\)\].*/\1/p' | tr '\n' ' '; }
read -r STUDY SERIES <<<"$(series_of "$CT/CT00001.dcm")"

metadata_rows() { # label dicomweb results
  local url="$2/studies/$STUDY/series/$SERIES/metadata"
  for i in $(seq 1 "$REPS"); do
    "$STOWCLIENT" get -url "$url" -c 1 -n 50 -warmup 3 -accept application/dicom+json | tail -1 |
      python3 -c "import json,sys,time; r=json.load(sys.stdin); print(json.dumps({'test':'series_metadata_ct300_c1','label':'$1','rep':$i,'p50_ms':r['latency']['p50_ms'],'p95_ms':r['latency']['p95_ms'],'p99_ms':r['latency']['p99_ms'],'req_per_s':r['req_per_s'],'avg_response_bytes':r['avg_response_bytes'],'loadavg':open('/proc/loadavg').read().split()[:3]}))" >>"$3"
  done
}

if want limits; then
echo "== physical limits (disk with fsync, SHA-256, loopback)" >&2
python3 "$SHARED/physical_limits.py" diskfiles --reps "$REPS" --out "$OUT/limits.jsonl" || true
python3 "$SHARED/physical_limits.py" memhash --reps "$REPS" --out "$OUT/limits.jsonl" || true
python3 "$SHARED/physical_limits.py" tcp --reps "$REPS" --out "$OUT/limits.jsonl" || true
fi

want orthanc && ( echo "== Orthanc" >&2
 . "$SHARED/targets/orthanc.env"; export RESULTS=$OUT/orthanc.jsonl
  # orthanc.env's reset with the old storage moved aside, not deleted (see BENCH_TRASH)
  ODATA=${ORTHANC_DATA:-/tmp/orthanc-bench}
  export RESET_CMD="$SHARED/orthanc/stop.sh && { [ ! -e $ODATA/storage ] || mv $ODATA/storage $BENCH_TRASH/orthanc-\$(date +%s%N); } && env -u TCP_NODELAY $SHARED/orthanc/start.sh >/dev/null"
  if row stow || row metadata; then
    python3 "$SHARED/hubbench.py" stow --data "$CT" --reps "$REPS" --batch 1 --concurrency 1
    python3 "$SHARED/hubbench.py" stow --data "$CT" --reps "$REPS" --batch 1 --concurrency 4
  fi
  row metadata && metadata_rows "$LABEL" "$DICOMWEB" "$RESULTS"
  row render && python3 "$SHARED/hubbench.py" render --ct "$CT" --dx /tmp/bench-data/dx --reps "$REPS" --conc 1 8 --n 100 --n-dx 10
  "$SHARED/orthanc/stop.sh" || true )

for backend in fs minio; do
  want "huren-$backend" || continue
  echo "== Huren ($backend)" >&2
  export HUREN_BENCH_BACKEND=$backend HUREN_BENCH_DIR=/tmp/huren-bench-$backend
  trash "$HUREN_BENCH_DIR"
  "$HERE/huren/ctl.sh" start
  TOKEN=$(cat "$HUREN_BENCH_DIR/token")
  export LABEL=huren-$backend DICOMWEB="http://bench:$TOKEN@127.0.0.1:18042/dicom-web"
  export SERVER_PIDFILE=$HUREN_BENCH_DIR/huren.pid RESET_CMD="$HERE/huren/ctl.sh reset"
  export PREVIEW="http://bench:$TOKEN@127.0.0.1:18042/dicom-web/studies/{study}/series/{series}/instances/{instance}/rendered?viewport=512,512"
  export RESULTS=$OUT/huren-$backend.jsonl HUREN_BENCH_LOAD=stow
  if row stow || row metadata; then
    python3 "$HERE/hurenbench.py" stow --data "$CT" --reps "$REPS" --batch 1 --concurrency 1
    python3 "$HERE/hurenbench.py" stow --data "$CT" --reps "$REPS" --batch 1 --concurrency 4
  fi
  sleep 3 # series metadata bundle is rebuilt 2 s after the last instance
  row metadata && metadata_rows "$LABEL" "$DICOMWEB" "$RESULTS"
  if [ "$backend" = minio ] && row stow; then
    # The object store's own ceiling in the same run: 512 KiB PUTs through
    # minio-go into the very MinIO Huren used, 1 and 4 writers (every
    # acknowledged instance is at least one such PUT).
    (cd "$REPO" && HUREN_TEST_S3_ENDPOINT=127.0.0.1:18043 HUREN_TEST_S3_ACCESS_KEY=hurenbench HUREN_TEST_S3_SECRET_KEY=hurenbench-secret \
      go test ./storage/minio -run '^$' -bench 'Put512K' -benchtime 300x -count "$REPS") |
      python3 -c "import json,sys
for l in sys.stdin:
    f=l.split()
    if not l.startswith('BenchmarkPut512K'): continue
    name='minio_put_512k_c4' if 'Parallel' in f[0] else 'minio_put_512k_c1'
    print(json.dumps({'test':name,'value':1e9/float(f[2]),'unit':'PUT/s','cmd':'go test ./storage/minio -bench Put512K (bench MinIO)','loadavg':open('/proc/loadavg').read().split()[:3]}))" | tee -a "$OUT/limits.jsonl"
  fi
  if [ "$backend" = fs ] && row render; then
    python3 "$HERE/hurenbench.py" render --ct "$CT" --dx /tmp/bench-data/dx --reps "$REPS" --conc 1 8 --n 100 --n-dx 10
  fi
  "$HERE/huren/ctl.sh" stop
done
trap - EXIT
rm -rf "$BENCH_TRASH"

for f in orthanc huren-fs huren-minio; do echo "### $f"; python3 "$SHARED/hubbench.py" summarize "$OUT/$f.jsonl"; done
echo "### limits"; python3 "$SHARED/physical_limits.py" summarize "$OUT/limits.jsonl"
