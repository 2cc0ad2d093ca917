#!/usr/bin/env bash
# Worklist claim throughput: the Go claim path (worklist/redis ClaimNext via
# go-redis, end to end) against the very same Lua claim script driven by
# redis-benchmark, both against one throwaway redis-server on a random port,
# in the same run.
#
#   bench/worklist_claims.sh [claims]      (default 20000)
#
# Prints the Go benchmark lines (claims/s, p50/p99 µs per ClaimNext call,
# claims per script run), redis-benchmark's claims/s for 1 and 50 clients
# sending one claim per script (exactly what a lone ClaimNext sends), and for
# 2 clients sending batches of the size the Go run averaged with 50 workers
# (it group-commits concurrent calls, at most 2 scripts in flight), then the
# Go/redis-benchmark ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
	echo "needs redis-server and redis-benchmark (Debian: redis-server, redis-tools)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export HUREN_TEST_REDIS_ADDR=127.0.0.1:$port

echo "== Go claim path (ClaimNext via go-redis, end to end), $N claims"
go test -run '^$' -bench 'BenchmarkClaim/workers=(1|50)$' -benchtime "${N}x" ./worklist/redis/ | tee "$dir/go.txt" | grep Benchmark

rb() { # clients claims prefix batch: prints claims/s
	local out reqs=$(($2 / $4))
	out=$(WORKLIST_SEED_PREFIX=$3 WORKLIST_SEED_N=$((reqs * $4)) go test -count=1 -run TestSeedForRedisBenchmark -v ./worklist/redis/)
	local sha base lease
	sha=$(sed -n 's/^CLAIM_SHA=//p' <<<"$out"); base=$(sed -n 's/^KEY_BASE=//p' <<<"$out"); lease=$(sed -n 's/^LEASE_MS=//p' <<<"$out")
	# Same ARGV as ClaimNext: outbox limit 0, lease, group, stage, batch
	# size, then an actor and a (hex) token per claim.
	local claims=() i
	for ((i = 0; i < $4; i++)); do claims+=(bench 0123456789abcdef0123456789abcdef); done
	redis-benchmark -p "$port" -c "$1" -n "$reqs" --csv EVALSHA "$sha" 1 "$base" 0 "$lease" g read "$4" "${claims[@]}" |
		awk -F'","' -v b="$4" 'NR==2 {printf "%.0f\n", $2 * b}'
	local left; left=$(redis-cli -p "$port" zcard "${base}q:g:read")
	[ "$left" = 0 ] || echo "warning: $left tasks unclaimed (claims failed?)" >&2
}
echo "== redis-benchmark driving the same Lua claim script"
rb1=$(rb 1 "$N" rb1 1); echo "redis-benchmark c=1,  1 claim/script:   $rb1 claims/s"
rb50=$(rb 50 "$N" rb50 1); echo "redis-benchmark c=50, 1 claim/script:   $rb50 claims/s"
bsz=$(awk '/workers=50-/ {for(i=1;i<=NF;i++) if ($(i+1)=="claims/script") printf "%.0f", $i}' "$dir/go.txt")
rbb=$(rb 2 "$N" rbb "$bsz"); echo "redis-benchmark c=2,  $bsz claims/script: $rbb claims/s"

go1=$(awk '/workers=1-/ {for(i=1;i<=NF;i++) if ($(i+1)=="claims/s") print $i}' "$dir/go.txt")
go50=$(awk '/workers=50-/ {for(i=1;i<=NF;i++) if ($(i+1)=="claims/s") print $i}' "$dir/go.txt")
python3 - "$go1" "$rb1" "$go50" "$rb50" "$rbb" <<'PY'
import sys
g1, r1, g50, r50, rbb = map(float, sys.argv[1:])
print(f"ratio Go/redis-benchmark: 1 worker {g1/r1:.2f}, 50 workers {g50/r50:.2f} "
      f"(vs the same batches: {g50/rbb:.2f}) (target >= 0.5)")
PY
