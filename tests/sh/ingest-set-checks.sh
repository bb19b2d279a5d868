#!/bin/sh
# Migration 016 (sql/016-ingest-set-checks.sql) on a database at 015 that
# eidastats-ingestd filled: `db init` applies it alone and changes no stored
# row; the rollup tables lose their foreign keys to nodes, dataselect_stats its
# networks row trigger, and dataselect_stats_date becomes a BRIN index.  Then
# ingest still stores what the payloads say with exact rollups, and the
# statement checks refuse, with SQLSTATE 23503 and the foreign keys' names,
# every rollup row or node change the foreign keys refused (a node deleted
# while an open transaction gives it a rollup row too: the DELETE waits, then
# fails), and accept what they accepted; the statement trigger that replaced
# the networks row trigger creates the networks of rows inserted without
# eidastats-ingestd's promise, with the writer's rights.
# Skips (77) without PostgreSQL 15 + hll.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

ROLLUPS="dataselect_rollup dataselect_rollup_country dataselect_rollup_node dataselect_rollup_node_year_country dataselect_rollup_pack"

# state: db_state and every rollup table's rows.
state() {
	db_state
	for t in $ROLLUPS; do
		pg_psql -c "SELECT '$t', r::text FROM $t r ORDER BY 2"
	done
}
# refused SQL WHAT TEXT: SQL fails with SQLSTATE 23503 and a message holding TEXT, and changes nothing.
refused() {
	state >"$T/before"
	"$(pg__bin)/psql" -X -q -v VERBOSITY=verbose -v ON_ERROR_STOP=1 -d "$ES_DB" -c "$1" >"$T/refused" 2>&1 &&
		fail "$2: accepted"
	grep -q 'ERROR:  23503' "$T/refused" || fail "$2: not a foreign key violation: $(cat "$T/refused")"
	grep -qF "$3" "$T/refused" || fail "$2: the message does not name $3: $(cat "$T/refused")"
	state >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "$2: the refused statement changed the database"
}
verify() {
	es_admin rollup verify >"$T/verify" 2>"$T/verify.err" ||
		fail "rollup verify $1: $(cat "$T/verify" "$T/verify.err")"
}
# one_row TABLE NODE: the column list and values of a minimal row of TABLE for NODE.
one_row() {
	case $1 in
	dataselect_rollup) echo "(node_id, month, network, country, nb_reqs) VALUES ($2, '2031-01-01', 'XX', 'DE', 1)" ;;
	dataselect_rollup_country) echo "(node_id, month, country, nb_reqs) VALUES ($2, '2031-01-01', 'DE', 1)" ;;
	dataselect_rollup_node) echo "(node_id, month, nb_reqs) VALUES ($2, '2031-01-01', 1)" ;;
	dataselect_rollup_node_year_country) echo "(node_id, year, country, nb_reqs) VALUES ($2, '2031-01-01', 'DE', 1)" ;;
	dataselect_rollup_pack) echo "(node_id, month, pack) VALUES ($2, '2031-01-01', '\\x00'::bytea)" ;;
	esac
}

# A database at 015, filled by the service.
central_at 015
check "015 has the rollups' foreign keys" test "$(pg_psql -c "SELECT count(*) FROM pg_constraint
	WHERE contype = 'f' AND confrelid = 'nodes'::regclass AND conrelid::regclass::text LIKE 'dataselect_rollup%'")" = 5
new_node node1
ES_TOKEN=$NODE_TOKEN
N1=$NODE_ID
ingestd_start
payload_from_expected "$DATA/upstream-sample/expected.json" "$T/a.json"
expect_200 "$(submit "$T/a.json")" "POST into an empty table at 015"
edit "$T/a.json" "$T/b.json" 2020-09-19 -e 's/"bytes": \([0-9]*\)/"bytes": 1\1/'
expect_200 "$(submit "$T/b.json")" "POST merged at 015"
ingestd_stop
verify "at 015"
state >"$T/state15"
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_rollup")" -gt 3 ] || fail "too few rollup rows at 015"

# The migration: 016 alone, nothing changed.
es_admin db init >"$T/init.out" 2>"$T/init.err" || fail "db init from 015: $(cat "$T/init.err")"
later=$(ls "$top_srcdir"/sql | grep -c '^01[6-9]-.*\.sql$')
[ "$(head -n 1 "$T/init.out")" = "applied 016-ingest-set-checks.sql" ] &&
	[ "$(grep -c '^applied ' "$T/init.out")" = "$later" ] || fail "db init from 015 applied: $(cat "$T/init.out")"
state >"$T/state16"
cmp -s "$T/state15" "$T/state16" || { diff "$T/state15" "$T/state16" >&2; fail "016 changed stored rows"; }
check "no rollup table has a foreign key to nodes" test "$(pg_psql -c "SELECT count(*) FROM pg_constraint
	WHERE contype = 'f' AND confrelid = 'nodes'::regclass AND conrelid::regclass::text LIKE 'dataselect_rollup%'")" = 0
check "each rollup table has its two checks" test "$(pg_psql -c "SELECT count(*) FROM pg_trigger
	WHERE tgrelid::regclass::text LIKE 'dataselect_rollup%' AND tgname LIKE '%\_nodes%' AND tgenabled = 'O'")" = 10
check "the networks row trigger is gone" test "$(pg_psql -c "SELECT string_agg(tgname, ' ' ORDER BY tgname)
	FROM pg_trigger WHERE tgrelid = 'dataselect_stats'::regclass AND NOT tgisinternal")" = \
	"dataselect_stats_networks dataselect_stats_parents dataselect_stats_parents_upd"
check "dataselect_stats_date is a BRIN index" test "$(pg_psql -c "SELECT a.amname FROM pg_class i
	JOIN pg_am a ON a.oid = i.relam WHERE i.oid = 'dataselect_stats_date'::regclass")" = brin
verify "right after 016"
es_admin db init >"$T/init2.out" 2>"$T/init2.err" || fail "second db init: $(cat "$T/init2.err")"
[ ! -s "$T/init2.out" ] || fail "a second db init applied something: $(cat "$T/init2.out")"

# Ingest after 016: merged into the migrated rows, then a second node into new
# days with a payload large enough to be copied straight into the table.
ingestd_start
edit "$T/a.json" "$T/c.json" 2020-09-20 -e 's/"nb_requests": \([0-9]*\)/"nb_requests": 2\1/'
expect_200 "$(submit "$T/c.json")" "POST merged after 016"
db_expect "$N1" "$T/a.json" "$T/b.json" "$T/c.json" || fail "node1's rows after 016"
new_node node2
ES_TOKEN=$NODE_TOKEN
N2=$NODE_ID
payload_from_expected "$DATA/synthetic-small/expected.json" "$T/s.json"
expect_200 "$(submit "$T/s.json")" "POST of synthetic-small into new days after 016"
db_expect "$N2" "$T/s.json" || fail "node2's rows after 016"
[ "$(pg_psql -c "SELECT count(*) FROM networks WHERE node_id = $N2")" = \
	"$(pg_psql -c "SELECT count(DISTINCT network) FROM dataselect_stats WHERE node_id = $N2")" ] ||
	fail "node2's networks were not all created"
ingestd_stop
verify "after ingest"

# The checks that replaced the rollups' foreign keys, table by table.
for t in $ROLLUPS; do
	refused "INSERT INTO $t $(one_row "$t" 999)" "a $t row of an unknown node" "\"${t}_node_id_fkey\""
	refused "UPDATE $t SET node_id = 999 WHERE node_id = $N1" "moving $t rows to an unknown node" \
		"\"${t}_node_id_fkey\""
done
refused "INSERT INTO dataselect_rollup_node (node_id, month, nb_reqs)
	SELECT $N1, make_date(2040 + g, 1, 1), 1 FROM generate_series(1, 50) g
	UNION ALL SELECT 999, '2031-01-01', 1" "many rollup rows, one of an unknown node" \
	'Key (node_id)=(999) is not present in table "nodes"'

# A node that only rollup rows refer to cannot be deleted nor renumbered; node del removes both.
new_node lonely
L=$NODE_ID
# (dataselect_rollup's row makes its pack, sql/012.)
for t in $ROLLUPS; do
	pg_psql -c "INSERT INTO $t $(one_row "$t" "$L") ON CONFLICT DO NOTHING" || fail "a $t row of an existing node"
done
refused "DELETE FROM nodes WHERE id = $L" "deleting a node that rollup rows refer to" "still referenced from table"
refused "UPDATE nodes SET id = 4242 WHERE id = $L" "renumbering a node that rollup rows refer to" \
	"Key (id)=($L) is still referenced"
# Each table is checked: the node stays referenced until the last one's row is gone.
for t in dataselect_rollup_pack dataselect_rollup dataselect_rollup_country dataselect_rollup_node; do
	pg_psql -c "DELETE FROM $t WHERE node_id = $L" || fail "deleting lonely's $t row"
	refused "DELETE FROM nodes WHERE id = $L" "deleting a node that a row of a rollup after $t refers to" \
		"still referenced from table"
done
pg_psql -c "INSERT INTO dataselect_rollup_node $(one_row dataselect_rollup_node "$L")" || fail "a row of lonely again"
es_admin node del lonely --yes >"$T/delete" 2>&1 || fail "node del of a node with rollup rows: $(cat "$T/delete")"
[ "$(pg_psql -c "SELECT count(*) FROM nodes WHERE id = $L")" = 0 ] || fail "node del left the node"

# Concurrency as with the foreign keys: a node that an open transaction has
# just given a rollup row cannot be deleted; the DELETE waits for that
# transaction and, once it has committed, fails.
new_node busy
B=$NODE_ID
pg_psql -c "DELETE FROM tokens WHERE node_id = $B" || fail "busy's tokens"
delete_waits_then_fails "INSERT INTO dataselect_rollup_country $(one_row dataselect_rollup_country "$B")" \
	"DELETE FROM nodes WHERE id = $B" "a node given a rollup row by an open transaction"
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_rollup_country WHERE node_id = $B")" = 1 ] ||
	fail "the committed rollup row of busy is gone"

# The rollup checks run with their owner's rights, as the foreign keys did;
# the networks trigger with the writer's, as upstream's function did.
ins="INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country, bytes)"
pg_psql -c "CREATE ROLE writer" -c "GRANT SELECT, INSERT ON dataselect_rollup_node, dataselect_stats TO writer" \
	-c "GRANT SELECT ON nodes, networks TO writer" || fail "the writer role"
pg_psql -c "BEGIN; SET LOCAL ROLE writer; INSERT INTO dataselect_rollup_node $(one_row dataselect_rollup_node "$B");
	COMMIT" >"$T/writer" 2>&1 || fail "a rollup row inserted by a role without UPDATE on nodes: $(cat "$T/writer")"
refused "BEGIN; SET LOCAL ROLE writer; INSERT INTO dataselect_rollup_node $(one_row dataselect_rollup_node 999);
	COMMIT" "a writer's rollup row of an unknown node" '"dataselect_rollup_node_node_id_fkey"'
NET=$(pg_psql -c "SELECT max(name) FROM networks WHERE node_id = $N2")
pg_psql -c "BEGIN; SET LOCAL ROLE writer; $ins VALUES ($N2, '2031-02-01', '$NET', 'W', '', 'HHZ', '', 1); COMMIT" \
	>"$T/writer" 2>&1 || fail "a writer's row of an existing network: $(cat "$T/writer")"
state >"$T/before"
"$(pg__bin)/psql" -X -q -v VERBOSITY=verbose -v ON_ERROR_STOP=1 -d "$ES_DB" -c "BEGIN; SET LOCAL ROLE writer;
	$ins VALUES ($N2, '2031-02-01', 'NEWW', 'W', '', 'HHZ', '', 1); COMMIT" >"$T/refused" 2>&1 &&
	fail "a writer without INSERT on networks created a network"
grep -q 'ERROR:  42501' "$T/refused" || fail "a writer's new network: not refused for privileges: $(cat "$T/refused")"
state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the writer's refused row changed the database"

# Rows inserted without the promise: one statement, rows of three new
# networks, a NULL network and a NULL node; the new networks are created once.
pg_psql -c "$ins VALUES ($N2, '2031-03-01', 'N1', 'S', '', 'HHZ', '', 1), ($N2, '2031-03-01', 'N2', 'S', '', 'HHZ', '', 1),
	($N2, '2031-03-01', 'N1', 'T', '', 'HHZ', '', 1), ($N2, '2031-03-01', 'N3', 'S', '', 'HHZ', '', 1),
	($N2, '2031-03-01', NULL, 'S', '', 'HHZ', '', 1), (NULL, '2031-03-01', 'N4', 'S', '', 'HHZ', '', 1)" ||
	fail "rows of new networks without the promise"
[ "$(pg_psql -c "SELECT string_agg(node_id || name || inverted_policy, ' ' ORDER BY name) FROM networks
	WHERE name IN ('N1', 'N2', 'N3', 'N4')")" = "${N2}N1false ${N2}N2false ${N2}N3false" ] ||
	fail "the new networks: $(pg_psql -c "SELECT * FROM networks WHERE name LIKE 'N_'")"
pg_psql -c "DELETE FROM dataselect_stats WHERE date = '2031-03-01' OR station = 'W'" \
	-c "DELETE FROM dataselect_rollup_country WHERE node_id = $B" -c "DELETE FROM dataselect_rollup_node WHERE node_id = $B" ||
	fail "removing the test rows"
verify "after the checks"

# TRUNCATE of nodes is checked after the statement: refused while a rollup
# row is left behind, accepted with the rollup tables in the same statement.
for n in node1 node2 busy; do
	es_admin node del "$n" --yes >"$T/delete" 2>&1 || fail "node del $n: $(cat "$T/delete")"
done
new_node last
pg_psql -c "INSERT INTO dataselect_rollup_node $(one_row dataselect_rollup_node "$NODE_ID")" || fail "last's rollup row"
state >"$T/before"
"$(pg__bin)/psql" -X -q -v VERBOSITY=verbose -v ON_ERROR_STOP=1 -d "$ES_DB" -c "TRUNCATE nodes CASCADE" \
	>"$T/refused" 2>&1 && fail "TRUNCATE nodes while a rollup row refers to it: accepted"
grep -q 'cannot truncate table "nodes": table "dataselect_rollup_node" refers to it' "$T/refused" ||
	fail "the refused TRUNCATE: $(cat "$T/refused")"
state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the refused TRUNCATE changed the database"
pg_psql -c "TRUNCATE nodes, dataselect_rollup, dataselect_rollup_country, dataselect_rollup_node,
	dataselect_rollup_node_year_country, dataselect_rollup_pack CASCADE" || fail "TRUNCATE of nodes with the rollups"
[ "$(pg_psql -c "SELECT (SELECT count(*) FROM nodes) + (SELECT count(*) FROM dataselect_rollup_node)")" = 0 ] ||
	fail "the TRUNCATE left rows"
exit 0
