#!/bin/sh
# bench/ingest.sh - throughput of eidastats-ingestd on a throw-away PostgreSQL.
#
# Usage: bench/ingest.sh [BUILDDIR]     (default: _build beside this script's tree)
#
# Prints, measured from the client side (curl's total time: upload, parse,
# database, answer), once the service has opened its write sessions (and
# rehearsed an ingest in each, as it does at every start):
#   - stats/s for the synthetic-small payload (27 756 stats): the first POST
#     into an empty table, then POSTs that merge into existing rows;
#   - stats/s for a 300 000-line log's payload, made by `eidastats aggregate`
#     from bench/genlog.py's log (when the CLI cannot aggregate yet, a payload
#     of synthetic-small's stats over 8 years of months stands in, and says so);
#   - the same run's baseline: psql's COPY of that payload's rows into a bare copy
#     of dataselect_stats (its unique index, no rollups or triggers), and the
#     ratio of the service's time to it;
#   - requests/s for small payloads (4 stats) from 8 concurrent clients.
# Needs PostgreSQL 15 with hll (as the tests), curl and awk; python3 for the
# 300 000-line log.  Not a test: it asserts nothing but that every answer is 200.
#
# ES_BENCH_CACHE=DIR keeps the 300 000-line log's payload in DIR (made once:
# genlog.py is deterministic), so that repeated runs, e.g. to compare two
# builds, skip the minutes of making it and post the same bytes.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
build=$(cd "$build" && pwd) || exit 1
INGESTD=$build/src/ingestd/eidastats-ingestd
ADMIN=$build/src/admin/eidastats-admin
EIDASTATS=$build/src/eidastats/eidastats
DATA=$here/tests/data
[ -x "$INGESTD" ] && [ -x "$ADMIN" ] || { echo "build eidastats first (no $INGESTD)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

. "$here/tests/sh/pg.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/es-bench.XXXXXX")
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	pg_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pg_start "$T" || exit 1
"$ADMIN" --db "$ES_DB" --sql-dir "$here/sql" db init >/dev/null 2>&1 || { echo "db init failed" >&2; exit 1; }

# node NAME: a node and its token in $TOKEN.
node() {
	"$ADMIN" --db "$ES_DB" node add --name "$1" --contact bench@example >/dev/null 2>&1
	TOKEN=$("$ADMIN" --db "$ES_DB" token add --node "$1" 2>/dev/null)
}

# The first node is there before the service starts, as in a data centre's
# database (the service rehearses its ingest with the node of lowest id; on a
# database without nodes it has nothing to rehearse with).
node small
"$INGESTD" --db "$ES_DB" --listen 127.0.0.1:0 --workers 8 2>"$T/ingestd.log" &
PID=$!
# logged TEXT: waits up to 10 s for TEXT in the service's log; 1 if it never came.
logged() {
	i=0
	until grep -q "$1" "$T/ingestd.log"; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.1
	done
}
logged 'listening on' || { cat "$T/ingestd.log" >&2; exit 1; }
URL="http://$(sed -n 's/.*listening on //p' "$T/ingestd.log")/eidaws/statistics/1/submit"
# The service opens its write sessions right after it starts listening and
# logs this line once each has rehearsed an ingest (a build from before that
# opened them on first use, and never says so: 10 s).
logged 'write sessions open' || :

# post FILE: prints curl's total time in seconds; stops the bench on anything but 200.
post() {
	out=$(curl -s -o "$T/response" -w '%{http_code} %{time_total}' -H "Authentication: Bearer $TOKEN" \
		--data-binary "@$1" "$URL")
	[ "${out%% *}" = 200 ] || { echo "POST $1: $out $(cat "$T/response")" >&2; exit 1; }
	echo "${out#* }"
}
# with_day IN OUT DAY: IN's placeholders filled and its coverage set to DAY.
with_day() {
	sed -e 's/"GENERATED_AT"/"2026-11-28 12:00:00"/' -e 's/"VERSION"/"0.8.0"/' \
		-e "s/\"days_coverage\": \[[^]]*\]/\"days_coverage\": [\"$3\"]/" "$1" >"$2"
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

echo "eidastats-ingestd benchmark: $(nproc) CPUs, $(uname -sr), PostgreSQL $("$(pg__bin)/postgres" -V | awk '{print $3}'), fsync=off"

# 1. synthetic-small, for the node made above.
n=27756
for day in 01 02 03 04 05 06; do
	with_day "$DATA/synthetic-small/expected.json" "$T/small-$day.json" "2024-12-$day"
done
t=$(post "$T/small-01.json")
echo "synthetic-small, $n stats, into an empty table: $t s, $(rate $n "$t") stats/s"
for day in 02 03 04 05 06; do
	t=$(post "$T/small-$day.json")
	echo "synthetic-small, $n stats, merged into existing rows: $t s, $(rate $n "$t") stats/s"
done

# 2. A 300 000-line log's payload.
node large
cache=${ES_BENCH_CACHE:-}
if [ -n "$cache" ] && [ -s "$cache/large.json" ] && [ -s "$cache/large.what" ]; then
	cp "$cache/large.json" "$T/large.json"
	what=$(cat "$cache/large.what")
elif "$EIDASTATS" aggregate --help >/dev/null 2>&1 && command -v python3 >/dev/null; then
	python3 "$here/bench/genlog.py" --lines 300000 --bz2 --out "$T/large.log.bz2" >/dev/null
	mkdir -p "$T/agg"
	"$EIDASTATS" aggregate --networks "$DATA/synthetic-small/networks.json" -o "$T/agg" \
		"$T/large.log.bz2" >/dev/null 2>&1 || { echo "eidastats aggregate failed" >&2; exit 1; }
	gzip -dc "$T/agg"/*.json.gz >"$T/large.json"
	what="the payload of a 300 000-line log (genlog.py, eidastats aggregate)"
else
	# Stand-in: synthetic-small's stats in 8 different years, so every key is new.
	{
		printf '{"generated_at": "2026-11-28 12:00:00", "version": "0.8.0", "days_coverage": ["2024-12-31"], "stats": [\n'
		for y in 2017 2018 2019 2020 2021 2022 2023 2024; do
			sed -n 's/^  \({"month".*}\),\{0,1\}$/\1/p' "$DATA/synthetic-small/expected.json" |
				sed "s/\"month\": \"2024-/\"month\": \"$y-/"
		done | sed '$!s/$/,/'
		printf ']}\n'
	} >"$T/large.json"
	what="a stand-in payload, synthetic-small's stats over 8 years (eidastats aggregate unavailable)"
fi
if [ -n "$cache" ] && [ ! -s "$cache/large.what" ]; then
	mkdir -p "$cache" && cp "$T/large.json" "$cache/large.json" && printf '%s\n' "$what" >"$cache/large.what"
fi
n=$(grep -o '"month"' "$T/large.json" | wc -l)
t=$(post "$T/large.json")
echo "$what, $n stats, $(wc -c <"$T/large.json") bytes: $t s, $(rate "$n" "$t") stats/s"

# Baseline of the same run: the floor of storing these rows, psql's COPY of them
# (already as CSV, made beforehand) into a copy of dataselect_stats with its unique
# index but no rollups, triggers, merge or validation.  The machine's speed drifts
# from one day to the next; the ratio to this floor does not follow it as much.
python3 - "$T/large.json" "$T/large.csv" <<'PY'
import csv, json, sys
rows = json.load(open(sys.argv[1]))["stats"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    for r in rows:
        w.writerow([1, r["month"], r["network"], r["station"], r["location"], r["channel"],
                    r["country"], r["bytes"], r["nb_requests"], r["nb_successful_requests"],
                    r["nb_unsuccessful_requests"], r["clients"]])
PY
pg_psql -c "CREATE TABLE bench_floor (LIKE dataselect_stats INCLUDING DEFAULTS INCLUDING INDEXES)" ||
	{ echo "baseline table failed" >&2; exit 1; }
start=$(date +%s.%N)
pg_psql -c "\\copy bench_floor (node_id, date, network, station, location, channel, country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients) FROM '$T/large.csv' WITH (FORMAT csv)" ||
	{ echo "baseline COPY failed" >&2; exit 1; }
end=$(date +%s.%N)
tf=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
echo "baseline, the same $n rows COPYed by psql into a bare copy of dataselect_stats: $tf s, $(rate "$n" "$tf") stats/s; ingest takes $(awk -v a="$t" -v b="$tf" 'BEGIN { printf "%.2f", a / b }')x the floor's time"

# 3. Small payloads from 8 concurrent clients, each on one kept-alive connection.
node many
per=100
c=1
while [ $c -le 8 ]; do
	: >"$T/client$c.cfg"
	k=1
	while [ $k -le $per ]; do
		day=$(date -u -d "2000-01-01 + $(( (c - 1) * per + k )) days" +%F)
		with_day "$DATA/null-country/expected.json" "$T/s$c-$k.json" "$day"
		[ $k -eq 1 ] || echo next >>"$T/client$c.cfg"
		printf 'url = "%s"\nheader = "Authentication: Bearer %s"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
			"$URL" "$TOKEN" "$T/s$c-$k.json" >>"$T/client$c.cfg"
		k=$((k + 1))
	done
	c=$((c + 1))
done
start=$(date +%s.%N)
pids=""
c=1
while [ $c -le 8 ]; do
	curl -s -K "$T/client$c.cfg" >"$T/client$c.codes" &
	pids="$pids $!"
	c=$((c + 1))
done
# shellcheck disable=SC2086
wait $pids
end=$(date +%s.%N)
total=$((8 * per))
ok=$(cat "$T"/client*.codes | grep -c '^200$')
[ "$ok" = "$total" ] || { echo "only $ok of $total small payloads got 200" >&2; exit 1; }
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
echo "small payloads (4 stats), 8 concurrent clients: $total requests in $secs s, $(rate $total "$secs") requests/s"
