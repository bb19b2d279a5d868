#!/bin/sh
# The query rollup (sql/004) stays equal to dataselect_stats through every
# kind of ingest by the real service: POST into an empty table, POST merged
# into existing rows, PUT replacing some rows, day-dated rows (POST and PUT),
# concurrent POSTs and PUTs of one node, POSTs during a rebuild;
# `eidastats-admin rollup verify` passes after each (and db_expect proves the
# raw rows are the payloads').  Rows written
# behind the service's back with psql (as upstream's service would) make
# `verify` fail with a readable list; `rollup rebuild` fixes it.  The packs of
# sql/012 follow every ingest, and one their trigger missed is found.
# eidastats_rollup_add() runs with its own enable_hashagg = off (sql/017).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

# verify STATUS: `rollup verify` exits with STATUS; its list is in $T/verify.
verify() {
	es_admin rollup verify >"$T/verify" 2>"$T/verify.err"
	_rc=$?
	[ "$_rc" = "$1" ] || fail "rollup verify: exit $_rc, expected $1: $(cat "$T/verify" "$T/verify.err")"
}
rollup_rows() { pg_psql -c "SELECT count(*) FROM dataselect_rollup WHERE node_id = $1"; }

central_start
verify 0
# Migration 017: the rollup's upkeep groups by sorting (its own setting), as
# every ingest below runs it.
[ "$(pg_psql -c "SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = 'eidastats_rollup_add'")" = \
	enable_hashagg=off ] || fail "eidastats_rollup_add() has not its setting of sql/017"
grep -q 'equals dataselect_stats' "$T/verify.err" || fail "verify message: $(cat "$T/verify.err")"

payload_from_expected "$DATA/upstream-sample/expected.json" "$T/a.json"
expect_200 "$(submit "$T/a.json")" "POST into an empty table"
db_expect "$ES_NODE_ID" "$T/a.json" || fail "first POST"
verify 0
[ "$(rollup_rows "$ES_NODE_ID")" -gt 5 ] || fail "the POST left the rollup nearly empty"

# Same keys, other clients and counters: merged.
edit "$T/a.json" "$T/b.json" 2020-09-19 -e 's/"clients": "[^"]*"/"clients": "\\\\x128B7F0000000047198F26"/' \
	-e 's/"bytes": \([0-9]*\)/"bytes": 1\1/'
expect_200 "$(submit "$T/b.json")" "POST merged"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" || fail "merged POST"
verify 0

# PUT replaces ten rows, the others stay.
first "$T/a.json" 10 "$T/c0.json"
edit "$T/c0.json" "$T/c.json" 2020-09-20 -e 's/"bytes": [0-9]*/"bytes": 5/' \
	-e 's/"clients": "[^"]*"/"clients": "\\\\x128B7FFFFFFFFFBC818ACA"/'
expect_200 "$(submit "$T/c.json" PUT)" "PUT"
verify 0
# PUT of rows no one had yet (another month).
edit "$T/c.json" "$T/c2.json" 2020-10-20 -e 's/"month": "2020-09-01"/"month": "2020-10-01"/'
expect_200 "$(submit "$T/c2.json" PUT)" "PUT of new rows"
verify 0

# Day-dated rows: two days of one month, POST then PUT, then a month row of it.
new_node daily
ES_TOKEN=$NODE_TOKEN
edit "$T/a.json" "$T/d18.json" 2020-09-18 -e 's/"month": "2020-09-01"/"month": "2020-09-18"/'
edit "$T/b.json" "$T/d19.json" 2020-09-19 -e 's/"month": "2020-09-01"/"month": "2020-09-19"/'
expect_200 "$(submit "$T/d18.json")" "POST of day rows"
expect_200 "$(submit "$T/d19.json")" "POST of other day rows"
db_expect "$NODE_ID" "$T/d18.json" "$T/d19.json" || fail "day rows"
verify 0
[ "$(pg_psql -c "SELECT string_agg(DISTINCT month::text, ' ') FROM dataselect_rollup WHERE node_id = $NODE_ID")" = 2020-09-01 ] ||
	fail "day rows must count in their month"
first "$T/d19.json" 7 "$T/d19p0.json"
edit "$T/d19p0.json" "$T/d19p.json" 2020-09-21 -e 's/"bytes": [0-9]*/"bytes": 3/'
expect_200 "$(submit "$T/d19p.json" PUT)" "PUT of day rows"
verify 0
expect_200 "$(submit "$T/a.json")" "month rows beside day rows"
verify 0

# Concurrent POSTs and PUTs of one node into the same month (distinct payloads:
# other coverage days).
submit_concurrently "$T/a.json" 2021-01 '0[135]'
verify 0

# Concurrent POSTs only (appends share the node's rollup lock, sql/011), all
# adding to the same raw and rollup rows: none is lost, none deadlocks.
pids=""
for day in 11 12 13 14 15 16 17 18; do
	edit "$T/a.json" "$T/p$day.json" "2021-01-$day"
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authentication: Bearer $ES_TOKEN" \
		--data-binary "@$T/p$day.json" "$ES_SUBMIT_URL" >"$T/p$day.code" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
[ "$(cat "$T"/p*.code | sort -u)" = 200 ] || fail "concurrent POSTs: $(cat "$T"/p*.code)"
verify 0

# A rebuild while payloads arrive: the ingests wait for its lock, then add to the new rollup.
es_admin rollup rebuild >/dev/null 2>"$T/rebuild.err" &
rebuild=$!
pids=""
for day in 07 08 09 10; do
	edit "$T/a.json" "$T/r$day.json" "2021-01-$day" -e 's/"month": "2020-09-01"/"month": "2020-08-01"/'
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authentication: Bearer $ES_TOKEN" \
		--data-binary "@$T/r$day.json" "$ES_SUBMIT_URL" >"$T/r$day.code" &
	pids="$pids $!"
done
wait "$rebuild" || fail "rollup rebuild during ingests: $(cat "$T/rebuild.err")"
# shellcheck disable=SC2086
wait $pids
[ "$(cat "$T"/r*.code | sort -u)" = 200 ] || fail "POSTs during a rebuild: $(cat "$T"/r*.code)"
verify 0

# Large client sets: unions that turn EXPLICIT sets into SPARSE and FULL ones,
# merged by POST (rollup added) and replaced by PUT (rollup recomputed).
# big OUT DAY OFFSET: a payload of 8 stats (one per country) whose client sets have 3 to 5000 members.
big() {
	pg_psql -c "SELECT '{\"generated_at\": \"2026-11-28 12:00:00\", \"version\": \"0.8.0\",'
		|| ' \"days_coverage\": [\"$2\"], \"stats\": [' || string_agg(format(
		'{\"month\": \"2021-02-01\", \"network\": \"LG\", \"station\": \"S%s\", \"location\": \"\",'
		' \"channel\": \"HHZ\", \"country\": \"%s\", \"bytes\": %s, \"nb_requests\": 2,'
		' \"nb_successful_requests\": 1, \"nb_unsuccessful_requests\": 1, \"clients\": \"%s\"}',
		s, 'C' || s, 1000 * s + $3, replace((SELECT hll_add_agg(hll_hash_integer(j + $3))
			FROM generate_series(1, (ARRAY[3, 100, 400, 5000])[1 + s % 4]) j)::text, '\\', '\\\\')),
		', ') || ']}' FROM generate_series(1, 8) s" >"$1" ||
		fail "making a payload of large client sets"
}
big "$T/big1.json" 2021-02-01 0
big "$T/big2.json" 2021-02-02 2500
big "$T/big3.json" 2021-02-03 7000
expect_200 "$(submit "$T/big1.json")" "POST of large client sets"
expect_200 "$(submit "$T/big2.json")" "POST of large client sets, merged"
# The serialised type (second byte after \x): 12 EXPLICIT, 13 SPARSE, 14 FULL.
types=$(pg_psql -c "SELECT string_agg(DISTINCT substr(clients::text, 3, 2), ' ') FROM dataselect_rollup
	WHERE node_id = $NODE_ID AND network = 'LG'")
[ "$types" = "12 13 14" ] || fail "the rollup's large client sets are not of every kind: $types"
verify 0
expect_200 "$(submit "$T/big3.json" PUT)" "PUT of large client sets"
verify 0
# The packs (sql/012) follow every ingest (verify compares them); an ingest
# the pack triggers miss is found.
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_rollup_pack WHERE node_id = $NODE_ID")" = \
	"$(pg_psql -c "SELECT count(DISTINCT month) FROM dataselect_rollup WHERE node_id = $NODE_ID")" ] ||
	fail "not one pack per node-month"
pg_psql -c "ALTER TABLE dataselect_rollup DISABLE TRIGGER dataselect_rollup_pack_upd" >/dev/null ||
	fail "disabling the pack trigger"
big "$T/big4.json" 2021-02-04 9000
expect_200 "$(submit "$T/big4.json")" "POST with the pack trigger off"
verify 1
grep -q ' NULL  *NULL  *pack differs from dataselect_rollup$' "$T/verify" ||
	fail "verify missed the stale pack: $(cat "$T/verify")"
pg_psql -c "ALTER TABLE dataselect_rollup ENABLE TRIGGER dataselect_rollup_pack_upd" >/dev/null ||
	fail "enabling the pack trigger"
es_admin rollup rebuild >/dev/null 2>"$T/rebuild.err" || fail "rollup rebuild: $(cat "$T/rebuild.err")"
verify 0
ingestd_stop

# Rows written by other programs are caught, and rebuild fixes the rollup.
pg_psql -c "INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	VALUES ($ES_NODE_ID, '2019-03-01', 'ZZ', 'S', '', 'HHZ', NULL, 1, 1, 1, 0,
	hll_add(hll_empty(11, 5), hll_hash_integer(7)))" || fail "plain INSERT"
pg_psql -c "UPDATE dataselect_stats SET bytes = bytes + 1 WHERE node_id = $NODE_ID AND network = 'CX'
	AND country = 'ID'" || fail "plain UPDATE"
pg_psql -c "DELETE FROM dataselect_stats WHERE node_id = $ES_NODE_ID AND network = 'NU'" || fail "plain DELETE"
verify 1
[ "$(head -n 1 "$T/verify")" = "node             month   network country problem" ] ||
	fail "verify header: $(head -n 1 "$T/verify")"
grep -q '^node1  *2019-03  *ZZ  *NULL  *missing from the rollup$' "$T/verify" ||
	fail "verify missed the inserted row: $(cat "$T/verify")"
grep -q '^daily  *2020-09  *CX  *ID  *sums or clients differ$' "$T/verify" ||
	fail "verify missed the updated row: $(cat "$T/verify")"
grep -q '^node1  *2020-09  *NU  .* not in dataselect_stats$' "$T/verify" ||
	fail "verify missed the deleted rows: $(cat "$T/verify")"
want=$(pg_psql -c "SELECT count(*) FROM eidastats_rollup_verify()")
[ "$(($(wc -l <"$T/verify") - 1))" = "$want" ] || fail "verify listed $(wc -l <"$T/verify") lines for $want groups"
grep -q "differs from dataselect_stats in $want group(s)" "$T/verify.err" ||
	fail "verify summary: $(cat "$T/verify.err")"
es_admin rollup rebuild >"$T/out" 2>"$T/rebuild.err" || fail "rollup rebuild: $(cat "$T/rebuild.err")"
grep -q 'rollup rebuilt from dataselect_stats: [0-9]* rows in ' "$T/rebuild.err" ||
	fail "rebuild message: $(cat "$T/rebuild.err")"
verify 0

# Usage errors; a database without the rollup; deleting a node deletes its rollup.
es_admin rollup verify extra >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "rollup verify with an argument"
es_admin rollup rebuild extra >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "rollup rebuild with an argument"
pg_psql -c "CREATE DATABASE old"
OLD="host=$ES_PGHOST port=$ES_PGPORT dbname=old user=postgres"
for f in "$top_srcdir"/sql/00[123]-*.sql; do
	ES_DB=$OLD pg_psql -1 -f "$f" >/dev/null 2>"$T/err" || fail "$f on the old database: $(cat "$T/err")"
done
"$ADMIN" --db "$OLD" rollup verify >/dev/null 2>"$T/err"
[ $? = 1 ] || fail "rollup verify without migration 004"
grep -q 'no rollup (migration 004-query.sql): run `eidastats-admin db init`' "$T/err" ||
	fail "message without migration 004: $(cat "$T/err")"
es_admin node del daily --yes 2>"$T/err" || fail "node del: $(cat "$T/err")"
[ "$(rollup_rows "$NODE_ID")" = 0 ] || fail "node del left rollup rows"
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_rollup_pack WHERE node_id = $NODE_ID")" = 0 ] ||
	fail "node del left packs"
verify 0
exit 0
