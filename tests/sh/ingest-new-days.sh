#!/bin/sh
# How eidastats-ingestd stores the rows of days the node has no row of yet
# (src/ingestd/db.c, store_rows()): copied straight in, in a savepoint; and
# when another transaction stores one of those keys first, it waits for it,
# rolls back to the savepoint and merges instead, losing nothing.  Rows on
# stored days are merged by an UPDATE joined with the COPY table and an INSERT
# ... ON CONFLICT of the rest: a key another transaction adds meanwhile is
# merged into, not lost.  Which way
# each payload went is read in PostgreSQL's statement log; what was stored is
# checked against the payloads (db_expect) and the rollup (rollup verify).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

central_start
pg_psql -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null ||
	fail "turning the statement log on"
# many MONTH PREFIX: 100 stats of network XX, stations PREFIX000 to PREFIX099, so
# that a payload reaches the size from which new days are inserted without
# ON CONFLICT (DB_NEW_DAYS_MIN_ROWS).
many() {
	i=0
	while [ $i -lt 100 ]; do
		stat_line "$1" XX "$(printf '%s%03d' "$2" $i)" 00 HHZ DE $((i + 1)) 1 1 0 \
			"$(printf '%016X' $((i + 4096)))"
		i=$((i + 1))
	done
}
# log_count TEXT: how many logged statements are exactly TEXT.
log_count() { grep -c "statement: $1\$" "$ES_PGLOG"; }

# A: new days, inserted.  B: the same days and more, merged (B is small: it
# would be merged anyway).
{
	stat_line 2024-05-01 XX AA 00 HHZ DE 100 5 4 1 0000000047198F26
	stat_line 2024-05-01 XX AB 00 HHZ FR 200 null 2 null 000000002AB79D5F
	stat_line 2024-06-01 YY AA "" BHN "" 300 3 3 0 0000000011111111
	many 2024-05-01 P
} | stats_payload "$T/a.json" 2024-06-02
{
	stat_line 2024-05-01 XX AA 00 HHZ DE 1000 null 10 null 0000000044444444
	stat_line 2024-06-01 YY AB "" BHN IT 7 1 1 0 0000000022222222
} | stats_payload "$T/b.json" 2024-06-03
expect_200 "$(submit "$T/a.json")" "POST of A"
[ "$(log_count 'SAVEPOINT ingest_new')" = 1 ] && [ "$(log_count 'RELEASE SAVEPOINT ingest_new')" = 1 ] ||
	fail "A's rows, all on new days, were not copied straight in"
db_expect "$ES_NODE_ID" "$T/a.json" || fail "A stored"
expect_200 "$(submit "$T/b.json")" "POST of B"
[ "$(log_count 'SAVEPOINT ingest_new')" = 1 ] || fail "B's rows, on stored days, were not merged"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" || fail "A and B merged"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after A and B: $(cat "$T/verify")"

# C: a new day, while an open transaction has just inserted one of C's keys.
# C's insert waits for it; once it commits, C rolls back to its savepoint and
# merges into that row.  M is what the open transaction stored, as a payload.
stat_line 2024-07-01 XX AA 00 HHZ DE 40 4 4 0 0000000033333333 | stats_payload "$T/m.json" 2024-07-02
{
	stat_line 2024-07-01 XX AA 00 HHZ DE 5 1 1 0 0000000055555555
	stat_line 2024-07-01 XX ZZ 00 HHZ "" 6 1 0 1 0000000066666666
	many 2024-07-01 Q
} | stats_payload "$T/c.json" 2024-07-02
mkfifo "$T/m.in"
"$(pg__bin)/psql" -X -q -d "$ES_DB" <"$T/m.in" >"$T/m.out" 2>&1 &
M=$!
bg_track "$M"
exec 3>"$T/m.in"
printf "BEGIN;\nINSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	VALUES (%s, '2024-07-01', 'XX', 'AA', '00', 'HHZ', 'DE', 40, 4, 4, 0, '\\\\x128B7F0000000033333333');
SELECT eidastats_rollup_refresh(%s, ARRAY['2024-07-01'::date]);
SELECT 'row inserted';\n" "$ES_NODE_ID" "$ES_NODE_ID" >&3
wait_until 10 grep -q 'row inserted' "$T/m.out" || fail "the open transaction's insert: $(cat "$T/m.out")"
submit "$T/c.json" >"$T/c.code" &
C=$!
bg_track "$C"
waiting_insert() {
	[ "$(pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND query LIKE 'COPY dataselect_stats %'")" = 1 ]
}
wait_until 30 waiting_insert || fail "C's insert did not wait for the open transaction's row"
printf 'COMMIT;\n' >&3
exec 3>&-
wait "$M" || fail "the open transaction: $(cat "$T/m.out")"
wait "$C"
expect_200 "$(cat "$T/c.code")" "POST of C"
[ "$(log_count 'ROLLBACK TO SAVEPOINT ingest_new')" = 1 ] ||
	fail "C did not fall back to the merge after the other transaction stored its key"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/m.json" "$T/c.json" ||
	fail "C merged into the row the other transaction stored"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after C: $(cat "$T/verify")"

# E: days already stored (the UPDATE joined with the COPY table, then the
# INSERT of the rest), with a new key of E inserted by an open transaction:
# the UPDATE cannot see it, the INSERT waits for it and merges into it.
{
	stat_line 2024-05-01 XX AA 00 HHZ DE 11 1 1 0 0000000088888888
	stat_line 2024-05-01 XX NEW 00 HHZ DE 12 2 2 0 0000000099999999
} | stats_payload "$T/e.json" 2024-06-04
stat_line 2024-05-01 XX NEW 00 HHZ DE 30 3 3 0 00000000AAAAAAAA | stats_payload "$T/n.json" 2024-06-04
mkfifo "$T/n.in"
"$(pg__bin)/psql" -X -q -d "$ES_DB" <"$T/n.in" >"$T/n.out" 2>&1 &
N=$!
bg_track "$N"
exec 3>"$T/n.in"
printf "BEGIN;\nINSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	VALUES (%s, '2024-05-01', 'XX', 'NEW', '00', 'HHZ', 'DE', 30, 3, 3, 0, '\\\\x128B7F00000000AAAAAAAA');
SELECT eidastats_rollup_refresh(%s, ARRAY['2024-05-01'::date]);
SELECT 'row inserted';\n" "$ES_NODE_ID" "$ES_NODE_ID" >&3
wait_until 10 grep -q 'row inserted' "$T/n.out" || fail "the open transaction's insert: $(cat "$T/n.out")"
submit "$T/e.json" >"$T/e.code" &
E=$!
bg_track "$E"
waiting_merge() {
	[ "$(pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND query LIKE 'WITH u AS (UPDATE dataselect_stats %'")" = 1 ]
}
wait_until 30 waiting_merge || fail "E's merge did not wait for the open transaction's new key"
printf 'COMMIT;\n' >&3
exec 3>&-
wait "$N" || fail "the open transaction: $(cat "$T/n.out")"
wait "$E"
expect_200 "$(cat "$T/e.code")" "POST of E"
[ "$(log_count 'SAVEPOINT ingest_new')" = 2 ] || fail "E's rows, on stored days, did not go to the merge"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/m.json" "$T/c.json" "$T/n.json" "$T/e.json" ||
	fail "E merged into the stored row and into the row the other transaction stored meanwhile"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after E: $(cat "$T/verify")"

# D: a PUT on new days goes the same way, and its rollup is remade from the rows.
{
	stat_line 2024-08-01 XX AA 00 HHZ DE 9 9 9 0 0000000077777777
	many 2024-08-01 R
} | stats_payload "$T/d.json" 2024-08-02
expect_200 "$(submit "$T/d.json" PUT)" "PUT of D"
[ "$(log_count 'RELEASE SAVEPOINT ingest_new')" = 2 ] && [ "$(log_count 'SAVEPOINT ingest_new')" = 3 ] || fail "D's rows, on a new day, were merged"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/m.json" "$T/c.json" "$T/n.json" "$T/e.json" "$T/d.json" ||
	fail "D stored"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after D: $(cat "$T/verify")"
# F: a payload far larger than what the socket holds (libpq's COPY data is
# refused in the middle of the stream), on a new day whose first key an open
# transaction has just inserted: the COPY waits on that first row, the
# service keeps sending until the socket is full, the refusal comes after
# the commit, and the rows go to the merge.
awk 'BEGIN {
	printf "{\"generated_at\": \"2026-11-28 12:00:00\", \"version\": \"0.8.0\", \"days_coverage\": [\"2024-09-02\"], \"stats\": [\n"
	for (i = 0; i < 20000; i++)
		printf "%s{\"month\": \"2024-09-01\", \"network\": \"XX\", \"station\": \"F%04d\", \"location\": \"00\", \"channel\": \"HHZ\", \"country\": \"DE\", \"bytes\": %d, \"nb_requests\": 1, \"nb_successful_requests\": 1, \"nb_unsuccessful_requests\": 0, \"clients\": \"\\\\x128B7F%016X\"}\n", (i ? "," : ""), i % 10000, i + 1, i + 1
	printf "]}\n"
}' >"$T/f.json"
stat_line 2024-09-01 XX F0000 00 HHZ DE 50 5 5 0 00000000BBBBBBBB | stats_payload "$T/o.json" 2024-09-02
mkfifo "$T/o.in"
"$(pg__bin)/psql" -X -q -d "$ES_DB" <"$T/o.in" >"$T/o.out" 2>&1 &
O=$!
bg_track "$O"
exec 3>"$T/o.in"
printf "BEGIN;\nINSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	VALUES (%s, '2024-09-01', 'XX', 'F0000', '00', 'HHZ', 'DE', 50, 5, 5, 0, '\\\\x128B7F00000000BBBBBBBB');
SELECT eidastats_rollup_refresh(%s, ARRAY['2024-09-01'::date]);
SELECT 'row inserted';\n" "$ES_NODE_ID" "$ES_NODE_ID" >&3
wait_until 10 grep -q 'row inserted' "$T/o.out" || fail "the open transaction's insert: $(cat "$T/o.out")"
submit "$T/f.json" >"$T/f.code" &
F=$!
bg_track "$F"
wait_until 60 waiting_insert || fail "F's COPY did not wait for the open transaction's row"
printf 'COMMIT;\n' >&3
exec 3>&-
wait "$O" || fail "the open transaction: $(cat "$T/o.out")"
wait "$F"
expect_200 "$(cat "$T/f.code")" "POST of F"
[ "$(log_count 'ROLLBACK TO SAVEPOINT ingest_new')" = 2 ] ||
	fail "F did not fall back to the merge after its COPY was refused in the middle"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/m.json" "$T/c.json" "$T/n.json" "$T/e.json" \
	"$T/d.json" "$T/o.json" "$T/f.json" || fail "F merged into the row the other transaction stored"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after F: $(cat "$T/verify")"
echo "ok"
