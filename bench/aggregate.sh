#!/bin/sh
# Benchmark of `eidastats aggregate` against the time bzip2 -dc and lbzip2 -dc
# alone need to decompress the same file, measured in the same run (not a timed
# test; on a shared machine compare the ratios, not the seconds).
#
# usage: bench/aggregate.sh [BUILD_DIR] [LINES]   (defaults: _build, 300000)
# Prints: wall times and their ratios to bzip2 -dc (ours, lbzip2 -n$(nproc)),
# lines/s, MB/s on the decompressed (plain) file with the payload written,
# CPU seconds, and peak RSS when the same log is fed 1, 2 and 4 times (same
# statistics, more lines).
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
plain=$work/bench.log
cores=$(nproc)

echo "generating $lines lines over 45 days ..."
python3 bench/genlog.py --lines "$lines" --seed 7 --days 45 --start 2024-09-01 \
	--bad-fraction 0.002 --bz2 --out "$log"
bzip2 -dc "$log" >"$plain"
size=$(stat -c %s "$log")
raw=$(stat -c %s "$plain")
echo "file: $(( size / 1000000 )) MB bzip2, $(( raw / 1000000 )) MB of text, $lines lines; $cores cores"

mkdir -p "$work/out"
m() { python3 bench/measure.py "$@"; }
# The machine's speed drifts (by half, minutes apart, on shared machines): the
# commands take turns, three rounds, so each round measures all of them in the
# same minute. A ratio is the median of the rounds' own ratios; times are the
# fastest round's.
rounds=
for round in 1 2 3; do
	b=$(m bzip2 -dc "$log")
	lb=none
	if command -v lbzip2 >/dev/null; then
		lb=$(m lbzip2 -n"$cores" -dc "$log")
	fi
	o=$(m "$es" aggregate --networks "$nets" -o "$work/out" "$log")
	t=$(m "$es" aggregate --networks "$nets" -o "$work/out" "$plain")
	rounds="$rounds${rounds:+;}$b,$lb,$o,$t"
done
python3 - "$lines" "$raw" "$rounds" <<'PY'
import statistics, sys
lines, raw = int(sys.argv[1]), int(sys.argv[2])
def parse(s):
    if s == "none":
        return None
    w, rss, rc, cpu = s.split()
    return float(w), float(rss), int(rc), float(cpu)
rounds = [[parse(x) for x in r.split(",")] for r in sys.argv[3].split(";")]
for r in rounds:
    for name, x in (("eidastats aggregate (bz2)", r[2]), ("eidastats aggregate (plain)", r[3])):
        if x[2] != 0:
            sys.exit(f"{name} failed (exit {x[2]})")
best = lambda i: min(r[i] for r in rounds)
b, lb, o, t = best(0), (best(1) if rounds[0][1] else None), best(2), best(3)
ratio = lambda i: statistics.median(r[i][0] / r[0][0] for r in rounds)
each = lambda i: " ".join(f"{r[i][0] / r[0][0]:.3f}" for r in rounds)
print(f"bzip2 -dc > /dev/null       : {b[0]:8.3f} s  ratio 1.000   cpu {b[3]:7.2f} s"
      f"   (rounds: {' '.join(f'{r[0][0]:.2f}' for r in rounds)} s)")
if lb:
    print(f"lbzip2 -dc > /dev/null      : {lb[0]:8.3f} s  ratio {ratio(1):5.3f}   cpu {lb[3]:7.2f} s"
          f"   (rounds: {each(1)})")
print(f"eidastats aggregate (bz2)   : {o[0]:8.3f} s  ratio {ratio(2):5.3f}   cpu {o[3]:7.2f} s"
      f"   (target ratio <= 0.65; rounds: {each(2)})")
print(f"lines/s (bz2)               : {lines / o[0]:8.0f}")
print(f"eidastats aggregate (plain) : {t[0]:8.3f} s  {raw / 1e6 / t[0]:6.1f} MB/s   cpu {t[3]:7.2f} s"
      f"   (target >= 250 MB/s)")
print(f"peak RSS (bz2)              : {o[1]:8.1f} MB (target <= 64)")
PY

# RSS against input size at a fixed number of statistics: the same log 1, 2 and 4 times
# (concatenated bzip2 streams make one valid multi-stream file).
for k in 1 2 4; do
	rm -f "$work/rep.bz2"
	i=0; while [ $i -lt $k ]; do cat "$log" >>"$work/rep.bz2"; i=$((i + 1)); done
	r=$(m "$es" aggregate --networks "$nets" -o "$work/out" "$work/rep.bz2")
	set -- $r
	echo "input x$k ($(( lines * k )) lines): peak RSS $2 MB, $1 s, cpu $4 s"
done
