#!/bin/sh
# Migration 014 (sql/014-stats-codes-collate-c.sql: dataselect_stats' five
# codes COLLATE "C") on a database at migration 013 that eidastats-ingestd
# filled (POSTs into an empty table and merged, a PUT, two nodes): `db init`
# applies it alone, every row stays as it was, the table is not rewritten,
# uniq_stat is still the unique constraint (ON CONFLICT ON CONSTRAINT, as
# upstream's statements name it) and refuses a duplicate key, the network
# index and the row trigger of sql/013 are made again; then POSTs merged
# into the migrated rows, a PUT and concurrent POSTs and PUTs of one node keep
# the rollups and packs exact (`rollup verify` after each) and the raw rows
# the payloads' sums (db_expect).  Skips (77) without PostgreSQL 15 + hll.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

# verify: `rollup verify` passes.
verify() {
	es_admin rollup verify >"$T/verify" 2>"$T/verify.err" ||
		fail "rollup verify $1: $(cat "$T/verify" "$T/verify.err")"
}
# collations: the collation of each code column, then of each column of uniq_stat's index
# and of dataselect_stats_network, "default" for the database's.
collations() {
	pg_psql -c "SELECT string_agg(a.attname || '=' || coalesce(c.collname, '-'), ' ' ORDER BY a.attnum)
		FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
		WHERE a.attrelid = 'dataselect_stats'::regclass
		  AND a.attname IN ('network', 'station', 'location', 'channel', 'country')"
	for idx in uniq_stat dataselect_stats_network; do
		pg_psql -c "SELECT '$idx ' || string_agg(coalesce(c.collname, '-'), ' ' ORDER BY k.n)
			FROM pg_index i, unnest(i.indcollation) WITH ORDINALITY k(coll, n)
			LEFT JOIN pg_collation c ON c.oid = k.coll
			WHERE i.indexrelid = '$idx'::regclass"
	done
}

# A database at 013.
central_at 013
collations >"$T/coll13"
grep -q 'network=default' "$T/coll13" || fail "013's codes are already \"C\": $(cat "$T/coll13")"

new_node node1
ES_TOKEN=$NODE_TOKEN
N1=$NODE_ID
ingestd_start
payload_from_expected "$DATA/upstream-sample/expected.json" "$T/a.json"
expect_200 "$(submit "$T/a.json")" "POST into an empty table at 013"
edit "$T/a.json" "$T/b.json" 2020-09-19 -e 's/"clients": "[^"]*"/"clients": "\\\\x128B7F0000000047198F26"/' \
	-e 's/"bytes": \([0-9]*\)/"bytes": 1\1/'
expect_200 "$(submit "$T/b.json")" "POST merged at 013"
first "$T/a.json" 10 "$T/c0.json"
edit "$T/c0.json" "$T/c.json" 2020-09-20 -e 's/"bytes": [0-9]*/"bytes": 5/' \
	-e 's/"clients": "[^"]*"/"clients": "\\\\x128B7FFFFFFFFFBC818ACA"/' -e 's/"month": "2020-09-01"/"month": "2020-10-01"/'
expect_200 "$(submit "$T/c.json" PUT)" "PUT at 013"
new_node node2
ES_TOKEN=$NODE_TOKEN
N2=$NODE_ID
edit "$T/a.json" "$T/d.json" 2020-09-18 -e 's/"month": "2020-09-01"/"month": "2020-09-18"/'
expect_200 "$(submit "$T/d.json")" "POST of another node at 013"
ingestd_stop
verify "at 013"
db_state >"$T/state13" || fail "db_state at 013"
[ "$(pg_psql -c "select count(*) from dataselect_stats")" -gt 20 ] || fail "too few rows at 013"
filenode=$(pg_psql -c "select pg_relation_filenode('dataselect_stats')")

# The migration: 014 alone, nothing lost, nothing rewritten, the codes "C".
es_admin db init >"$T/init.out" 2>"$T/init.err" || fail "db init from 013: $(cat "$T/init.err")"
# 014 first, then the migrations after it (015: the rollup tables' fillfactor).
later=$(ls "$top_srcdir"/sql | grep -c '^01[4-9]-.*\.sql$')
[ "$(head -n 1 "$T/init.out")" = "applied 014-stats-codes-collate-c.sql" ] &&
	[ "$(grep -c '^applied ' "$T/init.out")" = "$later" ] ||
	fail "db init from 013 applied: $(cat "$T/init.out")"
[ "$(pg_psql -c "SELECT string_agg(relname || ':' || array_to_string(reloptions, ','), ' ' ORDER BY relname)
	FROM pg_class WHERE relname LIKE 'dataselect_rollup%' AND relkind = 'r'")" = \
	"dataselect_rollup:fillfactor=50 dataselect_rollup_country:fillfactor=50 dataselect_rollup_node:fillfactor=50 dataselect_rollup_node_year_country:fillfactor=50" ] ||
	fail "the rollup tables' fillfactor after 015"
db_state >"$T/state14" || fail "db_state after 014"
cmp -s "$T/state13" "$T/state14" || { diff "$T/state13" "$T/state14" >&2; fail "014 changed stored rows"; }
check "the table is not rewritten" test "$(pg_psql -c "select pg_relation_filenode('dataselect_stats')")" = "$filenode"
collations >"$T/coll14"
[ "$(cat "$T/coll14")" = "network=C station=C location=C channel=C country=C
uniq_stat - - C C C C C
dataselect_stats_network C -" ] || fail "collations after 014: $(cat "$T/coll14")"
check "uniq_stat is still the unique constraint" test \
	"$(pg_psql -c "select contype from pg_constraint where conname = 'uniq_stat'")" = u
check "the row check of sql/013 is made again" test \
	"$(pg_psql -c "select count(*) from pg_trigger where tgname = 'dataselect_stats_parents_upd' and tgenabled = 'O'")" = 1
verify "right after 014"
es_admin db init >"$T/init2.out" 2>"$T/init2.err" || fail "second db init: $(cat "$T/init2.err")"
[ ! -s "$T/init2.out" ] || fail "a second db init applied something: $(cat "$T/init2.out")"

# uniq_stat refuses a duplicate key (equal bytes), keeps apart keys that differ
# in one byte, and names itself to ON CONFLICT as before.
key="node_id, date, network, station, location, channel, country"
pg_psql -c "insert into dataselect_stats ($key) select $key from dataselect_stats where node_id = $N1 limit 1" \
	>/dev/null 2>"$T/dup.err" && fail "a duplicate key was stored"
grep -q 'uniq_stat' "$T/dup.err" || fail "duplicate key: $(cat "$T/dup.err")"
pg_psql -c "insert into dataselect_stats ($key, bytes) select node_id, date, network, lower(station), location,
		channel, country, 1 from dataselect_stats where node_id = $N2 and station <> lower(station) limit 1
	on conflict on constraint uniq_stat do nothing" >/dev/null 2>"$T/case.err" || fail "case: $(cat "$T/case.err")"
check "a key differing in case is another row" test \
	"$(pg_psql -c "select count(*) from dataselect_stats where node_id = $N2 and station = lower(station) and bytes = 1")" = 1
pg_psql -c "delete from dataselect_stats where node_id = $N2 and bytes = 1 and station = lower(station)" >/dev/null
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null || fail "rebuild"
verify "after the case test"

# Ingests into the migrated rows stay exact.
ingestd_start
ES_TOKEN=$(es_admin token add --node node1 2>>"$T/admin.log") || fail "token"
edit "$T/b.json" "$T/b2.json" 2020-09-21 -e 's/"nb_requests": \([0-9]*\)/"nb_requests": 2\1/'
expect_200 "$(submit "$T/b2.json")" "POST merged into migrated rows"
verify "after a POST merged into migrated rows"
edit "$T/c.json" "$T/c2.json" 2020-09-22 -e 's/"bytes": [0-9]*/"bytes": 9/'
expect_200 "$(submit "$T/c2.json" PUT)" "PUT over migrated rows"
verify "after a PUT over migrated rows"
submit_concurrently "$T/a.json" 2021-02 '0[1245]'
verify "after concurrent POSTs and PUTs"
ES_TOKEN=$(es_admin token add --node node2 2>>"$T/admin.log") || fail "token"
edit "$T/b.json" "$T/e.json" 2020-09-23 -e 's/"month": "2020-09-01"/"month": "2020-09-18"/'
expect_200 "$(submit "$T/e.json")" "POST merged into node2's migrated day rows"
db_expect "$N2" "$T/d.json" "$T/e.json" || fail "node2's rows after 014"
verify "after node2's merge"
ingestd_stop
echo "migration 014 on a database at 013 with data: rows kept, codes \"C\", ingests exact"
