#!/bin/sh
# The installed CLI on every golden set, compared as doc/upstream-aggregator.md §11 says,
# under both of its names, with files as arguments, names on stdin and content on stdin.
. "$top_srcdir/tests/sh/lib.sh"
es_install
CMP="python3 $top_srcdir/tests/sh/compare_payload.py"

check "eida_stats_aggregator is installed" test -x "$ES_PREFIX/bin/eida_stats_aggregator"
VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
[ "$(eida_stats_aggregator --version)" = "$VERSION" ] ||
	fail "eida_stats_aggregator --version: '$(eida_stats_aggregator --version)', not $VERSION"

# run NAME EXPECTED_OUTPUT GOLDEN [CMP-OPTS] -- ARGS...: one run into a fresh directory.
run() {
	name=$1 out=$2 golden=$3; shift 3
	opts=""
	[ "$1" = "--keep-order" ] && { opts=--keep-order; shift; }
	[ "$1" = "--" ] && shift
	rm -rf "$T/$name"; mkdir -p "$T/$name"
	"$@" -o "$T/$name" >"$T/$name.out" 2>"$T/$name.err" ||
		{ cat "$T/$name.err" >&2; fail "$name: exit status $?"; }
	[ -f "$T/$name/$out" ] || { ls "$T/$name" >&2; fail "$name: $out not written"; }
	$CMP $opts "$T/$name/$out" "$golden" >"$T/$name.cmp" ||
		{ cat "$T/$name.cmp" >&2; fail "$name: payload differs from $golden"; }
	grep -q "INFO Statistics stored to $T/$name/$out" "$T/$name.err" ||
		fail "$name: summary does not say where the payload went"
}

S=$DATA/upstream-sample
run sample-plain 2020-09-18_2020-09-18.json.gz "$S/expected.json" -- \
	eidastats aggregate --networks "$S/networks.json" "$S/test.log"
run sample-bz2 2020-09-18_2020-09-18.json.gz "$S/expected.json" -- \
	eida_stats_aggregator --networks "$S/networks.json" "$S/test.log.bz2"
grep -q "Generated 120 aggregations from 200 events. Aggregation score is 1.7" "$T/sample-bz2.err" ||
	fail "upstream's INFO summary line is missing: $(cat "$T/sample-bz2.err")"

# Byte for byte comparisons with upstream's output: tests/sh/cli-golden-bytes.sh.

N=$DATA/null-country
run null-country 2024-10-01_2024-10-01.json.gz "$N/expected.json" --keep-order -- \
	eidastats aggregate --networks "$N/networks.json" "$N/null-country.log"

Y=$DATA/synthetic-small
run small 2024-09-28_2024-10-09.json.gz "$Y/expected.json" -- \
	eidastats aggregate --networks "$Y/networks.json" "$Y/small.log.bz2"

M=$Y/multi
run multi 2024-10-30_2024-11-02.json.gz "$Y/expected-multi.json" -- \
	eidastats aggregate --networks "$Y/networks.json" \
	"$M/fdsnws-requests.log.2024-10-30.bz2" "$M/fdsnws-requests.log.2024-10-31" \
	"$M/fdsnws-requests.log.2024-11-01.bz2"

# Upstream's documented use: file names on stdin.
printf '%s\n' "$M/fdsnws-requests.log.2024-10-30.bz2" "$M/fdsnws-requests.log.2024-10-31" \
	"$M/fdsnws-requests.log.2024-11-01.bz2" >"$T/names"
run multi-stdin-names 2024-10-30_2024-11-02.json.gz "$Y/expected-multi.json" -- \
	sh -c 'n=$1; shift; eida_stats_aggregator "$@" <"$n"' sh "$T/names" --networks "$Y/networks.json"

# Log content on stdin: bzip2 through a pipe, and plain text from a redirected file.
run stdin-bz2 2020-09-18_2020-09-18.json.gz "$S/expected.json" -- \
	sh -c 'f=$1; shift; cat "$f" | eidastats aggregate "$@"' sh "$S/test.log.bz2" --networks "$S/networks.json"
run stdin-plain 2020-09-18_2020-09-18.json.gz "$S/expected.json" -- \
	sh -c 'f=$1; shift; eidastats aggregate "$@" <"$f"' sh "$S/test.log" --networks "$S/networks.json"
gzip -c "$S/test.log" >"$T/test.log.gz"
run gzip-input 2020-09-18_2020-09-18.json.gz "$S/expected.json" -- \
	eidastats aggregate --networks "$S/networks.json" "$T/test.log.gz"

E=$DATA/edge-cases
run edge 2024-10-15_2024-11-01.json.gz "$E/expected.json" -- \
	eidastats aggregate --networks "$E/networks.json" "$E/edge.log"

H=$DATA/hll-edges
run hll-edges 2024-10-15_2024-10-15.json.gz "$H/expected.json" -- \
	eidastats aggregate --networks "$H/networks.json" "$H/hll-edges.log.bz2"

# Day granularity keeps the day in the "month" field and the same counters per day.
rm -rf "$T/day" && mkdir "$T/day"
eidastats aggregate --granularity day --networks "$S/networks.json" -o "$T/day" "$S/test.log" \
	2>"$T/day.err" || fail "day granularity run failed"
gzip -dc "$T/day/2020-09-18_2020-09-18.json.gz" | python3 -c '
import json, sys
p = json.load(sys.stdin)
months = {s["month"] for s in p["stats"]}
assert months == {"2020-09-18"}, months
print("day rows ok")' >/dev/null || fail "day granularity rows are not dated on the day"

# On a terminal a progress line is shown: tests/sh/cli-progress.sh.
# Not on a terminal: no progress line in the log.
grep -q "lines/s" "$T/small.err" && fail "a progress line was written to a non-terminal"

echo "all golden sets equal"
