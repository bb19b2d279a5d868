#!/bin/sh
# Benchmark of `eidastats aggregate` against the time bzip2 alone needs to
# decompress the same file, measured in the same run (not a timed test).
#
# usage: bench/aggregate.sh [BUILD_DIR] [LINES]   (defaults: _build, 300000)
# Prints: bzip2 -dc wall time, eidastats wall time, their ratio, lines/s, peak RSS,
# and peak RSS when the same log is fed 1, 2 and 4 times (same statistics, more lines).
set -eu
cd "$(dirname "$0")/.."
build=${1:-_build}
lines=${2:-300000}
es=$build/src/eidastats/eidastats
[ -x "$es" ] || { echo "build first: $es not found" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/es-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
nets=tests/data/synthetic-small/networks.json
log=$work/bench.log.bz2

echo "generating $lines lines over 45 days ..."
python3 bench/genlog.py --lines "$lines" --seed 7 --days 45 --start 2024-09-01 \
	--bad-fraction 0.002 --bz2 --out "$log"
size=$(stat -c %s "$log")
raw=$(bzip2 -dc "$log" | wc -c)
echo "file: $(( size / 1000000 )) MB bzip2, $(( raw / 1000000 )) MB of text, $lines lines; $(nproc) cores"

mkdir -p "$work/out"
base=$(python3 bench/measure.py --repeat 3 bzip2 -dc "$log")
ours=$(python3 bench/measure.py --repeat 3 "$es" aggregate --networks "$nets" -o "$work/out" "$log")
set -- $base; bw=$1
set -- $ours; ow=$1; orss=$2; ors=$3
[ "$ors" = 0 ] || { echo "eidastats aggregate failed (exit $ors)"; exit 1; }
python3 - "$bw" "$ow" "$orss" "$lines" <<'PY'
import sys
bw, ow, rss, lines = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"bzip2 -dc > /dev/null : {bw:8.3f} s")
print(f"eidastats aggregate   : {ow:8.3f} s")
print(f"ratio                 : {ow / bw:8.3f}   (target <= 1.15)")
print(f"lines/s               : {lines / ow:8.0f}")
print(f"peak RSS              : {rss:8.1f} MB (target <= 128)")
PY

# RSS against input size at a fixed number of statistics: the same log 1, 2 and 4 times
# (concatenated bzip2 streams make one valid multi-stream file).
for k in 1 2 4; do
	rm -f "$work/rep.bz2"
	i=0; while [ $i -lt $k ]; do cat "$log" >>"$work/rep.bz2"; i=$((i + 1)); done
	r=$(python3 bench/measure.py "$es" aggregate --networks "$nets" -o "$work/out" "$work/rep.bz2")
	set -- $r
	echo "input x$k ($(( lines * k )) lines): peak RSS $2 MB, $1 s"
done
