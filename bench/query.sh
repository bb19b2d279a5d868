#!/bin/sh
# bench/query.sh - the query API at federation scale, against upstream's way.
#
# Usage: bench/query.sh [-s ROWS] [-d DIR] [-n RUNS] [-u RUNS] [-c SECONDS]
#                       [-b BUILDDIR] [--rebuild] [--qtool] [--explain]
#   -s ROWS    station-level rows per node and month (default 20000: 12 nodes x
#              24 months x 20000 = 5 760 000 rows in dataselect_stats)
#   -d DIR     where the federation's PostgreSQL cluster, GnuPG key and build
#              record are kept (default ${XDG_CACHE_HOME:-~/.cache}/eidastats-bench/fed-ROWS);
#              a later run on the same DIR skips the build (bench/report.sh can
#              use it too: ES_DB is printed)
#   -n RUNS    client-side runs per query for median and p95 (default 30)
#   -u RUNS    runs per query of upstream's aggregate (default 3; the median is used)
#   -c SECONDS duration of the 8-client throughput run per query (default 10)
#   -b DIR     the build directory (default _b, else _build, beside bench/)
#   --rebuild  drop DIR's database and build it again
#   --qtool    measure through tests/query/qtool even when eidastats-ingestd
#              serves the query routes
#   -q NAMES   run only these queries of the list (comma-separated names)
#   --explain  also print EXPLAIN ANALYZE of the SQL our API runs for each query
#              (from PostgreSQL's auto_explain, one extra run per query)
#
# 1. Builds (once per DIR) a synthetic federation through the schema of
#    `eidastats-admin db init`: 12 nodes, 24 months (2024-01..2025-12), ROWS
#    rows per node and month with realistic codes and hll(11,5) client sets
#    (bench/mkfed.sql), some networks restricted; then fills the rollups with
#    eidastats_rollup_rebuild() and runs VACUUM ANALYZE.  Prints the time and rows.
# 2. For each query of the fixed list below prints: median and p95 latency of
#    our API seen by the client; the same query answered upstream's way (its
#    plain aggregate over dataselect_stats JOIN nodes, with the grouping of its
#    query code, doc/query-api.md) timed on the server by \timing in one psql
#    session; the ratio; requests/s with 8 concurrent clients.  It also checks
#    that our answer equals the answer computed from the raw table (qtool --raw).
#    Through HTTP (curl's time_total, wrk -t2 -c8) when eidastats-ingestd
#    serves GET PREFIX/dataselect/public; otherwise through tests/query/qtool,
#    one process per query (its time includes the process start, a new database
#    connection and loading the restriction map: more than a request to the
#    running service costs), and says so.
# Targets (issue 8): every public query under 100 ms median and >= 20x faster
# than upstream's way at the default scale.
#
# Needs PostgreSQL 15 with hll (as the tests), python3, gpg, curl and wrk for
# HTTP.  Not a test: it asserts nothing, but stops on any failed request.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
ROWS=20000
DIR=""
RUNS=30
URUNS=3
CSECS=10
BUILD=""
REBUILD=0
FORCE_QTOOL=0
EXPLAIN=0
ONLY=""
while [ $# -gt 0 ]; do
	case $1 in
	-s) ROWS=$2; shift ;;
	-d) DIR=$2; shift ;;
	-n) RUNS=$2; shift ;;
	-u) URUNS=$2; shift ;;
	-c) CSECS=$2; shift ;;
	-b) BUILD=$2; shift ;;
	-q) ONLY=$2; shift ;;
	--rebuild) REBUILD=1 ;;
	--qtool) FORCE_QTOOL=1 ;;
	--explain) EXPLAIN=1 ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "query.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case $ROWS in ''|*[!0-9]*|0) echo "query.sh: -s needs a positive number" >&2; exit 2 ;; esac
if [ -z "$BUILD" ]; then
	BUILD=$here/_b
	[ -d "$BUILD" ] || BUILD=$here/_build
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "query.sh: no build directory (-b)" >&2; exit 1; }
[ -n "$DIR" ] || DIR=${XDG_CACHE_HOME:-$HOME/.cache}/eidastats-bench/fed-$ROWS
mkdir -p "$DIR" && DIR=$(cd "$DIR" && pwd) || exit 1

ADMIN=$BUILD/src/admin/eidastats-admin
INGESTD=$BUILD/src/ingestd/eidastats-ingestd
QTOOL=$BUILD/tests/query/qtool
QLAT="python3 $here/bench/qlat.py"
[ -x "$ADMIN" ] && [ -x "$INGESTD" ] || { echo "build eidastats first (no $ADMIN)" >&2; exit 1; }
[ -x "$QTOOL" ] || make -C "$BUILD" tests/query/qtool >/dev/null || exit 1
command -v python3 >/dev/null && command -v gpg >/dev/null || { echo "python3 and gpg are needed" >&2; exit 1; }

. "$here/tests/sh/pg.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/es-qbench.XXXXXX")
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	gpgconf --homedir "$DIR/gpg/eas" --kill gpg-agent 2>/dev/null
	pg_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

load() { cut -d' ' -f1-3 /proc/loadavg; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

fresh=0
[ -f "$DIR/pg/PG_VERSION" ] || fresh=1
pg_start "$DIR" || exit 1
if [ $fresh = 1 ]; then
	# A server sized for a database of a few GB (pg.sh's defaults are for tests).
	cat >>"$DIR/pg/postgresql.conf" <<EOF
# bench/query.sh
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
effective_cache_size = 4GB
max_wal_size = 4GB
EOF
	pg_restart || exit 1
fi

echo "eidastats query benchmark: $(nproc) CPUs, $(uname -sr), PostgreSQL $("$(pg__bin)/postgres" -V | awk '{print $3}')"
echo "federation: $DIR (ES_DB=\"$ES_DB\")"

# 1. The federation, built once.
if [ $REBUILD = 1 ] && [ -f "$DIR/build.txt" ]; then
	pg_psql -d "host=$ES_PGHOST port=$ES_PGPORT dbname=postgres user=postgres" \
		-c "drop database eidastats" -c "create database eidastats" || exit 1
	rm -f "$DIR/build.txt"
fi
if [ ! -f "$DIR/build.txt" ]; then
	echo "building: 12 nodes x 24 months x $ROWS rows (load average $(load))"
	t0=$(date +%s.%N)
	"$ADMIN" --db "$ES_DB" --sql-dir "$here/sql" db init >"$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }
	pg_psql -v rows="$ROWS" -v node=0 -f "$here/bench/mkfed.sql" >/dev/null || exit 1
	[ "$(pg_psql -c "select count(*) from nodes where id between 1 and 12 and name = format('NODE%s', lpad(id::text, 2, '0'))")" = 12 ] ||
		{ echo "query.sh: the nodes did not get the ids 1..12 (not a fresh database?)" >&2; exit 1; }
	t1=$(date +%s.%N)
	node=1
	while [ $node -le 12 ]; do
		# The loader's rows refer to nodes and networks it made itself: the
		# foreign-key checks and the networks trigger are skipped (replica role).
		PGOPTIONS="-c session_replication_role=replica" \
			pg_psql -v rows="$ROWS" -v node=$node -f "$here/bench/mkfed.sql" >/dev/null || exit 1
		printf ' %s' $node
		node=$((node + 1))
	done
	echo
	t2=$(date +%s.%N)
	rollup=$(pg_psql -c "select eidastats_rollup_rebuild()") || exit 1
	t3=$(date +%s.%N)
	pg_psql -c "vacuum analyze" || exit 1
	t4=$(date +%s.%N)
	raw=$(pg_psql -c "select count(*) from dataselect_stats")
	country=$(pg_psql -c "select count(*) from dataselect_rollup_country")
	{
		echo "rows_per_node_month=$ROWS"
		echo "built_at=$(date -u '+%F %T') UTC, load average $(load)"
		echo "dataselect_stats=$raw dataselect_rollup=$rollup dataselect_rollup_country=$country"
		echo "load_ms=$(ms "$t1" "$t2") rollup_rebuild_ms=$(ms "$t2" "$t3") vacuum_analyze_ms=$(ms "$t3" "$t4") total_ms=$(ms "$t0" "$t4")"
	} >"$DIR/build.txt"
	echo "built:"
else
	echo "reusing the federation built before (--rebuild to remake it):"
	# Migrations added since the build (e.g. new indexes) are applied now.
	t0=$(date +%s.%N)
	"$ADMIN" --db "$ES_DB" --sql-dir "$here/sql" db init >"$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }
	t1=$(date +%s.%N)
	if grep -q '^applied' "$T/init.log"; then
		echo "  $(grep '^applied' "$T/init.log" | tr '\n' ' ')in $(ms "$t0" "$t1") ms (load average $(load))"
		pg_psql -c "analyze" || exit 1
	fi
fi
sed 's/^/  /' "$DIR/build.txt"
echo "  on disk: $(pg_psql -c "select pg_size_pretty(pg_database_size(current_database()))"); dataselect_stats $(pg_psql -c "select pg_size_pretty(pg_total_relation_size('dataselect_stats'))") with indexes, rollups $(pg_psql -c "select pg_size_pretty(pg_total_relation_size('dataselect_rollup') + pg_total_relation_size('dataselect_rollup_country') + coalesce(pg_total_relation_size(to_regclass('dataselect_rollup_node')), 0) + coalesce(pg_total_relation_size(to_regclass('dataselect_rollup_node_year_country')), 0))")"

# 2. An EAS key and a token of a member of /epos/aa (network AA of NODE01,
#    inverted: restricted on an open node).
G=$DIR/gpg
if [ ! -f "$G/ring/eas.asc" ]; then
	rm -rf "$G"
	mkdir -p "$G" && mkdir -m 700 "$G/eas" "$G/ring" || exit 1
	gpg --homedir "$G/eas" --batch -q --passphrase '' --quick-gen-key "bench-eas <eas@example.org>" ed25519 sign 10y \
		2>/dev/null || { echo "gpg could not make a key" >&2; exit 1; }
	gpg --homedir "$G/eas" --batch -q --armor --export >"$G/ring/eas.asc" || exit 1
fi
printf '%s\n' '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Bench", "memberof": "/epos;/epos/aa"}' >"$T/token.txt"
gpg --homedir "$G/eas" --batch -q --yes --clearsign -o "$T/token" "$T/token.txt" 2>/dev/null || { echo "gpg sign" >&2; exit 1; }

# The queries: NAME|ENDPOINT|QUERY STRING|upstream's aggregate (doc/query-api.md).
SUMS="sum(nb_reqs), sum(nb_successful_reqs), sum(bytes), hll_union_agg(clients)"
FROM="FROM dataselect_stats JOIN nodes ON nodes.id = dataselect_stats.node_id"
YEAR="date >= '2025-01-01' AND date <= '2025-12-01'"
cat >"$T/queries" <<EOF
year-total|public|start=2025-01&end=2025-12|SELECT $SUMS $FROM WHERE $YEAR
node-by-month|public|start=2025-01&end=2025-12&level=node&details=month|SELECT nodes.name, date, $SUMS $FROM WHERE $YEAR GROUP BY nodes.name, date
network-by-month-country|public|start=2025-01&end=2025-12&level=network&details=month,country|SELECT nodes.name, network, date, country, $SUMS $FROM WHERE $YEAR GROUP BY nodes.name, network, date, country
one-network-by-month|public|start=2024-01&level=network&network=AP&details=month|SELECT nodes.name, network, date, $SUMS $FROM WHERE date >= '2024-01-01' AND network IN ('AP') GROUP BY nodes.name, network, date
node-by-year-country|public|start=2024-01&end=2025-12&level=node&details=year,country|SELECT nodes.name, EXTRACT(year FROM date), country, $SUMS $FROM WHERE date >= '2024-01-01' AND date <= '2025-12-01' GROUP BY nodes.name, EXTRACT(year FROM date), country
restricted-station-one-network|restricted|start=2025-01&end=2025-12&level=station&network=AA|SELECT nodes.name, network, station, $SUMS $FROM WHERE $YEAR AND (network LIKE 'AA') GROUP BY nodes.name, network, station
EOF
if [ -n "$ONLY" ]; then
	printf '%s\n' "$ONLY" | tr ',' '\n' | while read -r n; do
		grep -q "^$n|" "$T/queries" || { echo "query.sh: no query named $n" >&2; exit 1; }
	done || exit 2
	printf '%s\n' "$ONLY" | tr ',' '\n' | sed 's/$/|/' >"$T/only"
	grep -F -f "$T/only" "$T/queries" >"$T/queries.only" && mv "$T/queries.only" "$T/queries"
fi

# 3. How our side is reached: HTTP when the service serves the query routes.
MODE=qtool
if [ $FORCE_QTOOL = 0 ]; then
	set -- --db "$ES_DB" --listen 127.0.0.1:0 --workers 8
	if "$INGESTD" --help 2>&1 | grep -q -- --eas-keyring; then
		set -- "$@" --eas-keyring "$G/ring"
	fi
	# wrk's 8 connections come from one client: let them all run (default 4, then 429).
	if "$INGESTD" --help 2>&1 | grep -q -- --max-queries-per-client; then
		set -- "$@" --max-queries-per-client 8
	fi
	if "$INGESTD" --help 2>&1 | grep -q -- --runtime-dir; then
		mkdir -m 700 "$T/run"
		set -- "$@" --runtime-dir "$T/run"
	fi
	"$INGESTD" "$@" 2>"$T/ingestd.log" &
	PID=$!
	i=0
	until grep -qs 'listening on' "$T/ingestd.log"; do
		i=$((i + 1))
		kill -0 "$PID" 2>/dev/null && [ $i -lt 300 ] || { cat "$T/ingestd.log" >&2; exit 1; }
		sleep 0.1
	done
	BASE="http://$(sed -n 's/.*listening on //p' "$T/ingestd.log")/eidaws/statistics/1"
	code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/dataselect/public?start=2025-01")
	if [ "$code" = 200 ]; then
		MODE=http
		command -v wrk >/dev/null || { echo "wrk is needed for requests/s" >&2; exit 1; }
		printf 'wrk.method = "POST"\nlocal f = assert(io.open("%s", "rb"))\nwrk.body = f:read("*a")\nf:close()\n' \
			"$T/token" >"$T/post.lua"
	else
		kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
		PID=""
	fi
fi
if [ $MODE = http ]; then
	echo "our API through HTTP: eidastats-ingestd --workers 8 at $BASE; latency = curl's time_total over $RUNS runs; requests/s = wrk -t2 -c8 -d${CSECS}s"
else
	echo "our API through tests/query/qtool (eidastats-ingestd does not serve GET PREFIX/dataselect/public yet$( [ $FORCE_QTOOL = 1 ] && echo ', or --qtool')):"
	echo "  latency = wall time of one qtool process over $RUNS runs (process start, new connection, restriction map, query, answer);"
	echo "  requests/s = 8 concurrent clients each running qtool again and again for ${CSECS}s"
fi

# our NAME ENDPOINT QUERY: the command line of one request of ours ("$@").
our() {
	if [ $MODE = http ] && [ "$2" = public ]; then
		set -- curl "$BASE/dataselect/public?$3"
	elif [ $MODE = http ]; then
		set -- curl --data-binary "@$T/token" "$BASE/dataselect/restricted?$3"
	elif [ "$2" = public ]; then
		set -- "$QTOOL" "$ES_DB" public "$3"
	else
		set -- "$QTOOL" "$ES_DB" restricted "$3" --token "$T/token" --keyring "$G/ring" --home "$T/gnupg"
	fi
	printf '%s\n' "$@"
}
mkdir -m 700 "$T/gnupg"

# 4. Upstream's way: every aggregate URUNS times in one psql session.
# On upstream's schema: the indexes we add to dataselect_stats (sql/004's by
# date, sql/006's by network) are dropped inside the session's transaction,
# which is rolled back at its end.
{
	printf '%s\n' 'BEGIN;' 'DROP INDEX IF EXISTS dataselect_stats_date;' \
		'DROP INDEX IF EXISTS dataselect_stats_network;' '\timing on' '\o /dev/null'
	while IFS='|' read -r name ep qs sql; do
		r=0
		while [ $r -lt "$URUNS" ]; do
			echo "$sql;"
			r=$((r + 1))
		done
	done <"$T/queries"
	printf '%s\n' '\timing off' 'ROLLBACK;'
} >"$T/upstream.sql"
echo "upstream's aggregates: $URUNS runs each in one psql session, on upstream's indexes (load average $(load))"
pg_psql -f "$T/upstream.sql" >"$T/upstream.out" 2>&1 || { cat "$T/upstream.out" >&2; exit 1; }
grep '^Time:' "$T/upstream.out" | awk '{ print $2 }' >"$T/upstream.ms"
[ "$(wc -l <"$T/upstream.ms")" -eq $(($(wc -l <"$T/queries") * URUNS)) ] ||
	{ echo "query.sh: unexpected psql output:" >&2; cat "$T/upstream.out" >&2; exit 1; }

LOGSTART=$(wc -l <"$ES_PGLOG")
# 5. Each query: same answer as from the raw table, latency, throughput.
printf '\n%-31s %9s %9s %11s %8s %9s %s\n' query "median" "p95" "upstream" ratio "req/s" "target"
printf '%-31s %9s %9s %11s %8s %9s\n' "" "ms" "ms" "ms" "" "(8 cl.)"
q=0
ALL_MET=1
while IFS='|' read -r name ep qs sql; do
	q=$((q + 1))
	# The median of this query's upstream runs.
	up=$(sed -n "$(( (q - 1) * URUNS + 1 )),$(( q * URUNS ))p" "$T/upstream.ms" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	# Our answer against the raw table's.
	if [ "$ep" = public ]; then
		"$QTOOL" "$ES_DB" public "$qs" --raw >"$T/raw.out" 2>/dev/null
	else
		"$QTOOL" "$ES_DB" restricted "$qs" --raw --token "$T/token" --keyring "$G/ring" --home "$T/gnupg" >"$T/raw.out" 2>/dev/null
	fi
	if [ $EXPLAIN = 1 ]; then
		# The same SQL as the service's, through qtool, planned and timed by auto_explain.
		MODE_SAVED=$MODE
		MODE=qtool
		our "$name" "$ep" "$qs" >"$T/cmd"
		MODE=$MODE_SAVED
		_ifs=$IFS; IFS='
'; set -f
		# shellcheck disable=SC2046
		set -- $(cat "$T/cmd"); set +f; IFS=$_ifs
		PGOPTIONS="-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on" \
			"$@" >/dev/null 2>&1
	fi
	our "$name" "$ep" "$qs" >"$T/cmd"
	_ifs=$IFS; IFS='
'; set -f
	# shellcheck disable=SC2046
	set -- $(cat "$T/cmd"); set +f; IFS=$_ifs
	if [ "$1" = curl ]; then
		"$@" -s -o "$T/our.out" || { echo "$name: curl failed" >&2; exit 1; }
	else
		"$@" >"$T/our.out" 2>/dev/null
	fi
	same=same
	cmp -s "$T/raw.out" "$T/our.out" || same=DIFFERENT
	nrows=$(grep -vc '^#' "$T/our.out")
	lat=$($QLAT lat "$RUNS" "$@") || exit 1
	if [ $MODE = http ]; then
		if [ "$ep" = public ]; then
			rps=$(wrk -t2 -c8 -d"${CSECS}s" "$BASE/dataselect/public?$qs" 2>&1)
		else
			rps=$(wrk -t2 -c8 -d"${CSECS}s" -s "$T/post.lua" "$BASE/dataselect/restricted?$qs" 2>&1)
		fi
		printf '%s\n' "$rps" | grep -q 'Non-2xx' && { echo "$name: wrk got errors: $rps" >&2; exit 1; }
		rps=$(printf '%s\n' "$rps" | awk '/^Requests\/sec/ { printf "%.0f", $2 }')
	else
		rps=$($QLAT rps 8 "$CSECS" "$@" | awk '{ printf "%.0f", $1 }') || exit 1
	fi
	med=${lat% *}
	p95=${lat#* }
	ratio=$(awk -v u="$up" -v m="$med" 'BEGIN { printf "%.0fx", u / m }')
	if [ "$ep" = public ]; then
		met=$(awk -v u="$up" -v m="$med" 'BEGIN { print (m < 100 && u / m >= 20) ? "met" : "MISSED" }')
		[ "$met" = met ] || ALL_MET=0
	else
		met="(none)"
	fi
	printf '%-31s %9s %9s %11.0f %8s %9s %s\n' "$name" "$med" "$p95" "$up" "$ratio" "$rps" "$met"
	echo "$name|$ep|$qs|$nrows|$same" >>"$T/details"
done <"$T/queries"
echo
echo "load average after the run: $(load)"
echo "the queries (ENDPOINT?QUERY: answer lines, equal to the raw table's answer?):"
while IFS='|' read -r name ep qs nrows same; do
	printf '  %-31s %s?%s: %s lines, %s\n' "$name" "$ep" "$qs" "$nrows" "$same"
done <"$T/details"
printf '%s\n' "upstream's aggregates (timed as run, with \\timing):"
while IFS='|' read -r name ep qs sql; do
	printf '  %-31s %s\n' "$name" "$sql"
done <"$T/queries"
if [ $EXPLAIN = 1 ]; then
	echo "EXPLAIN ANALYZE of our SQL (auto_explain, from $ES_PGLOG):"
	tail -n +"$((LOGSTART + 1))" "$ES_PGLOG" | sed -n '/duration: .* plan:/,/^[0-9]\{4\}-/p' | grep -v '^[0-9]\{4\}-.*LOG: *$' | sed 's/^/  /' | tail -n 400
fi
if [ $ALL_MET = 1 ]; then
	echo "targets (public queries: median < 100 ms and >= 20x faster than upstream's way): met"
else
	echo "targets (public queries: median < 100 ms and >= 20x faster than upstream's way): MISSED for some"
fi
