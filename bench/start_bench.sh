#!/bin/sh
# Start time and QIDO of the embedded default with a large catalog (issue 14
# finding 10): before = the in-memory catalog rebuilt at every start, after =
# the catalog/bolt file under the data directory. Records are synthetic
# (bench/catalogstart: catalogtest.BenchRecord's study mix, written straight
# into the catalog, no DICOM uploads). Figures: bench/START_RESULTS.md.
#
#   bench/start_bench.sh [instances] [per-study] [workdir]
set -eu
N=${1:-100000}
PER=${2:-10}
W=${3:-/tmp/huren-startbench}
BIN="$W/catalogstart"
mkdir -p "$W"
go build -o "$BIN" ./bench/catalogstart
D="$W/n$N-p$PER"
[ -f "$D/catalog.bolt" ] || nice "$BIN" gen -data "$D" -n "$N" -per-study "$PER"
# after: hub.Open on the data directory (three runs; the first also creates
# the admin account), then the background cache warm-up
for i in 1 2 3; do nice "$BIN" start -data "$D" 2>/dev/null; done
# before (lower bound): the catalog Puts of the rebuild every start did
nice "$BIN" memory -n "$N" -per-study "$PER"
# QIDO shapes (catalogtest.BenchQueries): memory vs bolt, same records
nice "$BIN" qido -data "$D" -n "$N" -per-study "$PER" -reps 50
# the in-process worklist's load: from storage (one object per event) vs
# the catalog file's copy (second start)
nice "$BIN" worklist -data "$W/wl" -tasks 10000
for i in 1 2; do nice "$BIN" start -data "$W/wl" 2>&1 | grep -E 'worklist (loaded|events)|start:'; done
