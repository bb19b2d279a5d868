#!/bin/sh
# How eidastats-ingestd writes rows (sql/013, src/ingestd/db.c): codes whose
# byte order differs from the database's collation, the same key twice in one
# payload and again in the next, NULL counters and HLL unions are stored as
# the payloads say (db_expect) and the rollup stays exact; then the checks
# that replaced the foreign keys fk_nodes and fk_networks refuse, with
# SQLSTATE 23503, every row or parent change the foreign keys refused (a
# network deleted while an open transaction inserts a row of it too: the
# DELETE waits, then fails), and accept what they accepted.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

# refused SQL WHAT: SQL fails with SQLSTATE 23503 (foreign_key_violation) and changes nothing.
refused() {
	db_state >"$T/before"
	"$(pg__bin)/psql" -X -q -v VERBOSITY=verbose -v ON_ERROR_STOP=1 -d "$ES_DB" -c "$1" >"$T/refused" 2>&1 &&
		fail "$2: accepted"
	grep -q 'ERROR:  23503' "$T/refused" || fail "$2: not a foreign key violation: $(cat "$T/refused")"
	db_state >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "$2: the refused statement changed the database"
}

central_start
# A, B: one key twice in A (within a payload), keys of A again in B (across
# payloads), NULL nb_requests and nb_unsuccessful_requests, client sets that
# overlap.  Codes in both cases and with a non-ASCII letter, so that the byte
# order of the service's sort and the collation's order of the index differ.
{
	stat_line 2024-05-01 XX ab 00 HHZ DE 100 5 4 1 0000000047198F26
	stat_line 2024-05-01 XX AB 00 HHZ DE 200 null 2 null 000000002AB79D5F
	stat_line 2024-05-01 xx AB 00 HHZ DE 300 3 3 0 0000000047198F26
	stat_line 2024-05-01 XX ab 00 HHZ DE 50 1 1 0 000000002AB79D5F
	stat_line 2024-05-01 XX a_b 00 HHZ "" 7 1 0 1 0000000011111111
	stat_line 2024-05-01 ÅS Öz "" BHN FR 9 2 2 null 0000000022222222
	stat_line 2024-06-01 XX ab 00 HHZ DE 1 1 1 0 0000000033333333
} | stats_payload "$T/a.json" 2024-06-02
{
	stat_line 2024-05-01 XX ab 00 HHZ DE 1000 null 10 null 0000000044444444
	stat_line 2024-05-01 xx AB 00 HHZ DE 3 1 1 0 0000000047198F26
	stat_line 2024-05-01 ÅS Öz "" BHN FR 1 null 1 null 0000000055555555
	stat_line 2024-05-01 ÅS Öz "" BHN FR 2 1 1 0 0000000066666666
	stat_line 2024-05-01 XX Zb 00 HHZ IT 4 1 1 0 0000000077777777
} | stats_payload "$T/b.json" 2024-06-03
expect_200 "$(submit "$T/a.json")" "POST of A"
db_expect "$ES_NODE_ID" "$T/a.json" || fail "A stored"
expect_200 "$(submit "$T/b.json")" "POST of B"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" || fail "A and B merged"
[ "$(pg_psql -c "SELECT nb_reqs, nb_failed_reqs, hll_cardinality(clients)::int FROM dataselect_stats
	WHERE network = 'XX' AND station = 'ab' AND date = '2024-05-01'")" = "16|1|3" ] ||
	fail "XX.ab: the counters or the union of three payload stats are wrong"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after A and B: $(cat "$T/verify")"
[ "$(pg_psql -c "SELECT count(*) FROM networks WHERE node_id = $ES_NODE_ID")" = 3 ] ||
	fail "the payloads' three networks were not created"

# The checks that replaced the foreign keys.
new_node other
OTHER=$NODE_ID
ins="INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country, bytes)"
refused "BEGIN; SET LOCAL eidastats.networks_known = 'on';
	$ins VALUES (999, '2024-05-01', 'XX', 'S', '', 'HHZ', '', 1); COMMIT" "a row of an unknown node"
refused "BEGIN; SET LOCAL eidastats.networks_known = 'on';
	$ins VALUES ($ES_NODE_ID, '2024-05-01', 'NEW', 'S', '', 'HHZ', '', 1); COMMIT" \
	"a row of an unknown network when the networks trigger is skipped"
refused "BEGIN; SET LOCAL eidastats.networks_known = 'on';
	$ins SELECT $ES_NODE_ID, '2024-07-01'::date, 'XX', 'S' || g, '', 'HHZ', '', 1 FROM generate_series(1, 50) g
	UNION ALL SELECT 999, '2024-07-01', 'XX', 'S', '', 'HHZ', '', 1; COMMIT" "many rows, one of an unknown node"
refused "UPDATE dataselect_stats SET node_id = 999 WHERE station = 'ab'" "moving rows to an unknown node"
refused "BEGIN; SET LOCAL eidastats.networks_known = 'on';
	UPDATE dataselect_stats SET node_id = $OTHER WHERE station = 'ab'; COMMIT" \
	"moving rows to a node that lacks their network"
refused "DELETE FROM networks WHERE node_id = $ES_NODE_ID AND name = 'xx'" "deleting a network in use"
refused "UPDATE networks SET name = 'YY' WHERE node_id = $ES_NODE_ID AND name = 'XX'" "renaming a network in use"
db_state >"$T/before"
"$(pg__bin)/psql" -X -q -v ON_ERROR_STOP=1 -d "$ES_DB" -c "TRUNCATE networks CASCADE" >"$T/refused" 2>&1 &&
	fail "TRUNCATE networks while rows refer to it: accepted"
db_state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the refused TRUNCATE changed the database"

# Concurrency as with the foreign keys: a network that an open transaction has
# just given a row cannot be deleted; the DELETE waits for that transaction
# and, once it has committed, fails.
pg_psql -c "INSERT INTO networks (node_id, name, inverted_policy) VALUES ($ES_NODE_ID, 'NEW2', false)" ||
	fail "creating network NEW2"
delete_waits_then_fails "SET LOCAL eidastats.networks_known = 'on';
$ins VALUES ($ES_NODE_ID, '2024-08-01', 'NEW2', 'S', '', 'HHZ', '', 1)" \
	"DELETE FROM networks WHERE node_id = $ES_NODE_ID AND name = 'NEW2'" "a network given a row by an open transaction"
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_stats WHERE network = 'NEW2'")" = 1 ] ||
	fail "the committed row of NEW2 is gone"

# The checks run with their owner's rights, as the foreign keys did: a writer
# that may insert rows but not lock (update) nodes and networks still can.
pg_psql -c "CREATE ROLE writer" -c "GRANT SELECT, INSERT ON dataselect_stats TO writer" \
	-c "GRANT SELECT ON nodes, networks TO writer" || fail "the writer role"
pg_psql -c "BEGIN; SET LOCAL ROLE writer; SET LOCAL eidastats.networks_known = 'on';
	$ins VALUES ($ES_NODE_ID, '2024-09-01', 'XX', 'W', '', 'HHZ', '', 1); COMMIT" >"$T/writer" 2>&1 ||
	fail "a row inserted by a role without UPDATE on nodes and networks: $(cat "$T/writer")"
refused "BEGIN; SET LOCAL ROLE writer; SET LOCAL eidastats.networks_known = 'on';
	$ins VALUES ($ES_NODE_ID, '2024-09-01', 'NOPE', 'W', '', 'HHZ', '', 1); COMMIT" \
	"a writer's row of an unknown network"

# What the foreign keys accepted is still accepted: a new network through the
# upstream trigger, NULL keys (MATCH SIMPLE), unused networks and keyless updates.
pg_psql -c "$ins VALUES ($ES_NODE_ID, '2024-05-01', 'NEW', 'S', '', 'HHZ', '', 1)" ||
	fail "a row of a new network through the networks trigger"
pg_psql -c "BEGIN; SET LOCAL eidastats.networks_known = 'on'; $ins VALUES (NULL, '2024-05-01', 'ZZ', 'S', '', 'HHZ', '', 1),
	($ES_NODE_ID, '2024-05-01', NULL, 'S', '', 'HHZ', '', 1); COMMIT" ||
	fail "rows with a NULL node or network"
pg_psql -c "INSERT INTO networks (node_id, name, inverted_policy) VALUES ($ES_NODE_ID, 'UNUSED', false);
	UPDATE networks SET name = 'UNUSD' WHERE node_id = $ES_NODE_ID AND name = 'UNUSED';
	DELETE FROM networks WHERE node_id = $ES_NODE_ID AND name = 'UNUSD'" || fail "an unused network"
pg_psql -c "UPDATE dataselect_stats SET bytes = bytes + 1 WHERE node_id = $ES_NODE_ID" || fail "a keyless update"
pg_psql -c "UPDATE networks SET eas_group = 'g' WHERE node_id = $ES_NODE_ID" || fail "a network's group"
pg_psql -c "DELETE FROM dataselect_stats WHERE node_id IS NULL OR network IS NULL" || fail "deleting NULL-key rows"
es_admin node del node1 --yes >"$T/delete" 2>&1 || fail "node delete: $(cat "$T/delete")"
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_stats")" = 0 ] || fail "node delete left rows"
exit 0
