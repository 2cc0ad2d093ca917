#!/usr/bin/env bash
# Start/stop/reset a Huren under benchmark, the way bench/targets/*.env expect:
#   ctl.sh start|stop|reset
# Env: HUREN_BIN (default /tmp/bench-bin/huren), HUREN_BENCH_DIR (default
# /tmp/huren-bench), HUREN_BENCH_PORT (default 18042), HUREN_BENCH_BACKEND
# fs (embedded default) or minio (MinIO + Redis, started here on loopback).
# reset leaves an empty, running hub whose device token ($DIR/token) still
# works: only clinical objects and derived state are removed.
set -euo pipefail
BIN=${HUREN_BIN:-/tmp/bench-bin/huren}
DIR=${HUREN_BENCH_DIR:-/tmp/huren-bench}
PORT=${HUREN_BENCH_PORT:-18042}
BACKEND=${HUREN_BENCH_BACKEND:-fs}
MINIO_PORT=$((PORT + 1)); REDIS_PORT=$((PORT + 2))
export MINIO_ROOT_USER=hurenbench MINIO_ROOT_PASSWORD=hurenbench-secret
mkdir -p "$DIR"

backend_env() {
  if [ "$BACKEND" = minio ]; then
    export HUREN_STORAGE="minio://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@127.0.0.1:$MINIO_PORT/huren?secure=false"
    export HUREN_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
  fi
}

wait_http() { for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }

start_deps() {
  [ "$BACKEND" = minio ] || return 0
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null
  fi
  if ! curl -fs -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/ready"; then
    mkdir -p "$DIR/minio"
    nohup minio server "$DIR/minio" --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$((PORT + 3))" --quiet \
      >"$DIR/minio.log" 2>&1 & echo $! >"$DIR/minio.pid"
    wait_http "http://127.0.0.1:$MINIO_PORT/minio/health/ready"
  fi
}

start() {
  start_deps
  backend_env
  if [ ! -s "$DIR/token" ]; then
    "$BIN" bootstrap --data "$DIR/data" >/dev/null
    "$BIN" site --data "$DIR/data" add -id bench -name Bench -kind township -parent county >/dev/null
    "$BIN" token --data "$DIR/data" create -name bench -site bench -cap upload,read | sed -n 's/^secret (shown once): //p' >"$DIR/token"
  fi
  nohup "$BIN" serve ${HUREN_BENCH_EXTRA:-} --listen "127.0.0.1:$PORT" --data "$DIR/data" --log-level ${HUREN_BENCH_LOG:-warn} >"$DIR/huren.log" 2>&1 &
  echo $! >"$DIR/huren.pid"
  wait_http "http://127.0.0.1:$PORT/readyz"
}

stop() {
  if [ -s "$DIR/huren.pid" ]; then
    kill "$(cat "$DIR/huren.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$(cat "$DIR/huren.pid")" 2>/dev/null || break; sleep 0.1; done
  fi
}

stop_all() {
  stop
  for p in minio redis; do [ -s "$DIR/$p.pid" ] && kill "$(cat "$DIR/$p.pid")" 2>/dev/null || true; done
}

# discard removes a previous repetition's files. With BENCH_TRASH set it
# moves them into that directory instead (same filesystem), for run.sh to
# delete after the last measurement: on ext4 without a journal (the
# benchmark VMs) every inode freed in the last 60-360 s makes each new
# file's inode allocation skip it (recently_deleted() in fs/ext4/ialloc.c),
# so deleting the last repetition's thousands of files taxes the next one.
discard() {
  if [ -n "${BENCH_TRASH:-}" ]; then
    local d; d="$BENCH_TRASH/$(date +%s%N)"; mkdir -p "$d"
    for p in "$@"; do [ -e "$p" ] && mv "$p" "$d/" || true; done
  else
    rm -rf "$@"
  fi
}

reset() {
  stop
  if [ "$BACKEND" = minio ]; then
    kill "$(cat "$DIR/minio.pid")" 2>/dev/null || true; sleep 0.5
    discard "$DIR/minio/huren/dicom" "$DIR/minio/huren/meta" "$DIR/minio/huren/tasks"
    # This Redis is the benchmark's own and holds only derived state and
    # sessions (accounts and tokens live in object storage): wipe it all.
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
  else
    discard "$DIR/data/objects/objects/dicom" "$DIR/data/objects/objects/meta" "$DIR/data/objects/objects/tasks" "$DIR/data/tmp"
  fi
  start
}

case "${1:-}" in
  start) start ;;
  stop) stop_all ;;
  reset) reset ;;
  *) echo "usage: $0 start|stop|reset" >&2; exit 2 ;;
esac
