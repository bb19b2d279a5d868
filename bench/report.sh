#!/bin/sh
# bench/report.sh - eidastats-report at federation scale.
#
# Usage: bench/report.sh [-s ROWS] [-d DIR] [-b BUILDDIR] [-m YYYY-MM] [-y YYYY]
#   -s ROWS    the federation of bench/query.sh -s ROWS (default 20000)
#   -d DIR     its directory (default ${XDG_CACHE_HOME:-~/.cache}/eidastats-bench/fed-ROWS)
#   -b DIR     the build directory (default _b, else _build, beside bench/)
#   -m MONTH   the month measured (default 2025-06), -y YEAR the year (default 2025)
#
# On the synthetic federation bench/query.sh builds and keeps (12 nodes, 24
# months, ROWS station-level rows per node and month; run bench/query.sh once
# first), times:
#   - the whole set of one month: federation report + 12 node reports (HTML,
#     JSON, CSV), eidastats-report --month;
#   - the same for one year, --year;
#   - --auto on an empty directory (every complete period), then --auto again
#     (every period current: only the stamps are computed, nothing written);
# and, as a baseline measured in the same run on the same server, the one
# aggregate upstream's way would need for the month's network table alone
# (sums and client union per node, network and country over dataselect_stats
# JOIN nodes), timed on the server by psql's \timing.  Prints each time and
# its ratio to the baseline.  Target (issue 9): a month's whole set under 5 s.
# Not a test: it asserts nothing, but stops on any failure.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
ROWS=20000
DIR=""
BUILD=""
MONTH=2025-06
YEAR=2025
while [ $# -gt 0 ]; do
	case $1 in
	-s) ROWS=$2; shift ;;
	-d) DIR=$2; shift ;;
	-b) BUILD=$2; shift ;;
	-m) MONTH=$2; shift ;;
	-y) YEAR=$2; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "report.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$BUILD" ]; then
	BUILD=$here/_b
	[ -d "$BUILD" ] || BUILD=$here/_build
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "report.sh: no build directory (-b)" >&2; exit 1; }
[ -n "$DIR" ] || DIR=${XDG_CACHE_HOME:-$HOME/.cache}/eidastats-bench/fed-$ROWS
REPORT=$BUILD/src/report/eidastats-report
ADMIN=$BUILD/src/admin/eidastats-admin
[ -x "$REPORT" ] || { echo "build eidastats first (no $REPORT)" >&2; exit 1; }
[ -f "$DIR/build.txt" ] || { echo "report.sh: no federation in $DIR: run bench/query.sh -s $ROWS first" >&2; exit 1; }

. "$here/tests/sh/pg.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/es-rbench.XXXXXX")
STARTED=0
cleanup() {
	[ $STARTED = 1 ] && pg_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }

# The server of bench/query.sh: used as it is when already running (not stopped then).
if [ -f "$DIR/pg/postmaster.pid" ]; then
	ES_PGDATA=$DIR/pg ES_PGHOST=$DIR/pgsock ES_PGPORT=5432
	ES_DB="host=$ES_PGHOST port=$ES_PGPORT dbname=eidastats user=postgres"
	export ES_PGDATA ES_PGHOST ES_PGPORT ES_DB
else
	pg_start "$DIR" || exit 1
	STARTED=1
fi
"$ADMIN" --db "$ES_DB" --sql-dir "$here/sql" db init >"$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }

echo "eidastats report benchmark: $(nproc) CPUs, $(uname -sr), load average $(load)"
echo "federation: $DIR"
sed 's/^/  /' "$DIR/build.txt"

run() { # NAME ARG...: times eidastats-report ARG..., sets $took (ms)
	_name=$1
	shift
	_t0=$(now)
	"$REPORT" --db "$ES_DB" "$@" >"$T/$_name.log" 2>&1 || { cat "$T/$_name.log" >&2; exit 1; }
	_t1=$(now)
	took=$(ms "$_t0" "$_t1")
}

# Baseline: the month's network table upstream's way (one aggregate over the raw table).
lo=$MONTH-01
hi=$(date -u -d "$lo + 1 month" +%F)
base=$( { printf '%s\n' '\timing on'; echo "SELECT nodes.name, network, country, sum(bytes), sum(nb_reqs),
	sum(nb_successful_reqs), hll_cardinality(hll_union_agg(clients)) FROM dataselect_stats
	JOIN nodes ON nodes.id = dataselect_stats.node_id WHERE date >= '$lo' AND date < '$hi'
	GROUP BY nodes.name, network, country;"; } |
	pg_psql 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
[ -n "$base" ] || { echo "report.sh: the baseline query failed" >&2; exit 1; }
printf '%-44s %8.0f ms\n' "baseline: month's networks, raw aggregate" "$base"

run month --out "$T/m" --month "$MONTH"
files=$(find "$T/m" -type f | wc -l)
printf '%-44s %8s ms  %5sx baseline  (%s files)\n' "month $MONTH: federation + 12 nodes" "$took" "$(ratio "$took" "$base")" "$files"
month_ms=$took
run year --out "$T/y" --year "$YEAR"
files=$(find "$T/y" -type f | wc -l)
printf '%-44s %8s ms  %5sx baseline  (%s files)\n' "year $YEAR: federation + 12 nodes" "$took" "$(ratio "$took" "$base")" "$files"
run auto1 --out "$T/a" --auto
printf '%-44s %8s ms  %5sx baseline  (%s periods)\n' "--auto, empty directory" "$took" "$(ratio "$took" "$base")" \
	"$(grep -c '^made' "$T/auto1.log")"
run auto2 --out "$T/a" --auto
printf '%-44s %8s ms  %5sx baseline  (%s)\n' "--auto again (all current)" "$took" "$(ratio "$took" "$base")" \
	"$(cat "$T/auto2.log")"
if [ "$month_ms" -lt 5000 ]; then
	echo "target (a month's whole set under 5 s): met"
else
	echo "target (a month's whole set under 5 s): NOT met"
fi
