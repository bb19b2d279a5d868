#!/bin/sh
# bench/rollup-build.sh - how long the query rollup (sql/004-query.sql) takes
# to build for statistics already stored, per million rows.
#
# Usage: bench/rollup-build.sh [BUILDDIR [ROWS]]   (default: _build, 1000000)
#
# On a throw-away PostgreSQL (tests/sh/pg.sh): migrations 001 to 003, then
# ROWS rows in dataselect_stats made with generate_series (4 nodes, 24
# months, 10 networks, 20 countries, each row 1 to 3 clients from random
# hll_hash_integer values), then times, seen from the client:
#   - `eidastats-admin db init` applying 004 (which builds the rollup) and 005:
#     the migration of an existing database;
#   - `eidastats-admin rollup rebuild`;
#   - `eidastats-admin rollup verify`.
# Needs PostgreSQL 15 with hll (as the tests).  Not a test: it asserts only
# that each step succeeds.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/_build}
build=$(cd "$build" && pwd) || exit 1
rows=${2:-1000000}
ADMIN=$build/src/admin/eidastats-admin
[ -x "$ADMIN" ] || { echo "build eidastats first (no $ADMIN)" >&2; exit 1; }

. "$here/tests/sh/pg.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/es-rollup.XXXXXX")
cleanup() {
	pg_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
per_million() { awk -v n="$rows" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }'; }

pg_start "$T" || exit 1
mkdir "$T/sql-old"
cp "$here"/sql/001-*.sql "$here"/sql/002-*.sql "$here"/sql/003-*.sql "$T/sql-old/"
"$ADMIN" --db "$ES_DB" --sql-dir "$T/sql-old" db init >/dev/null 2>"$T/err" ||
	{ cat "$T/err" >&2; exit 1; }

echo "rollup build benchmark: $(nproc) CPUs, $(uname -sr), PostgreSQL $("$(pg__bin)/postgres" -V | awk '{print $3}'), fsync=off"
t0=$(now)
# Row i is node 1 + i % 4, month i / 4 % 24, network i / 96 % 10, station i / 960:
# every row has its own key.
pg_psql >/dev/null <<SQL || exit 1
SELECT setseed(0.5);
INSERT INTO nodes (name) SELECT 'N' || k FROM generate_series(1, 4) k;
INSERT INTO networks (node_id, name, inverted_policy)
	SELECT k, 'NET' || j, false FROM generate_series(1, 4) k, generate_series(0, 9) j;
BEGIN;
SET LOCAL eidastats.networks_known = 'on';
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
SELECT 1 + i % 4, (date '2023-01-01' + (i / 4 % 24) * interval '1 month')::date,
	'NET' || (i / 96 % 10), 'S' || (i / 960), '', 'HHZ',
	(ARRAY['DE', 'FR', 'IT', 'CH', 'GR', 'US', 'JP', 'CN', 'NL', 'BE', 'AT', 'PL', 'CZ', 'RO',
		'ES', 'PT', 'NO', 'SE', 'FI', 'GB'])[1 + (random() * 19)::int],
	(random() * 1e7)::bigint, 3, 2, 1,
	CASE (random() * 2)::int
		WHEN 0 THEN hll_add(hll_empty(11, 5), hll_hash_integer((random() * 1e6)::int))
		WHEN 1 THEN hll_add(hll_add(hll_empty(11, 5), hll_hash_integer((random() * 1e6)::int)),
			hll_hash_integer((random() * 1e6)::int))
		ELSE hll_add(hll_add(hll_add(hll_empty(11, 5), hll_hash_integer((random() * 1e6)::int)),
			hll_hash_integer((random() * 1e6)::int)), hll_hash_integer((random() * 1e6)::int))
	END
FROM generate_series(0, $rows - 1) i;
COMMIT;
ANALYZE dataselect_stats;
SQL
t1=$(now)
echo "$rows rows generated in $(secs "$t0" "$t1") s"

t0=$(now)
"$ADMIN" --db "$ES_DB" --sql-dir "$here/sql" db init >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; exit 1; }
t1=$(now)
groups=$(pg_psql -c "SELECT count(*) FROM dataselect_rollup")
echo "db init (migrations $(sed -n 's/^applied //p' "$T/out" | tr '\n' ' ' | sed 's/ $//')): $(secs "$t0" "$t1") s," \
	"$(per_million "$t0" "$t1") s per million rows; $groups rollup rows"

t0=$(now)
"$ADMIN" --db "$ES_DB" rollup rebuild 2>"$T/err" || { cat "$T/err" >&2; exit 1; }
t1=$(now)
echo "rollup rebuild: $(secs "$t0" "$t1") s, $(per_million "$t0" "$t1") s per million rows"

t0=$(now)
"$ADMIN" --db "$ES_DB" rollup verify >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err" >&2; exit 1; }
t1=$(now)
echo "rollup verify: $(secs "$t0" "$t1") s, $(per_million "$t0" "$t1") s per million rows"
