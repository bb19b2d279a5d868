#!/bin/sh
# How eidastats-ingestd stores the rows of days the node has no row of yet
# (src/ingestd/db.c, store_rows()): copied straight in, in a savepoint; and
# when another transaction stores one of those keys first, it waits for it,
# rolls back to the savepoint and merges instead, losing nothing.  Rows on
# stored days are merged by an UPDATE joined with the COPY table and an INSERT
# ... ON CONFLICT of the rest: a key another transaction adds meanwhile is
# merged into, not lost.  Which way each payload went is read in PostgreSQL's
# statement log; what was stored is checked against the payloads (db_expect)
# and the rollup (rollup verify).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

central_start
pg_psql -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null ||
	fail "turning the statement log on"
# many MONTH PREFIX: 100 stats of network XX, stations PREFIX000 to PREFIX099, so
# that a payload reaches the size from which new days are copied straight in
# (DB_NEW_DAYS_MIN_ROWS).
many() {
	i=0
	while [ $i -lt 100 ]; do
		stat_line "$1" XX "$(printf '%s%03d' "$2" $i)" 00 HHZ DE $((i + 1)) 1 1 0 \
			"$(printf '%016X' $((i + 4096)))"
		i=$((i + 1))
	done
}
# held_race NAME MONTH STATION BYTES HEX PAYLOAD PATTERN: an open transaction
# inserts the stat (MONTH, XX, STATION, 00, HHZ, DE, BYTES, all requests of
# BYTES/10 successful, the EXPLICIT set HEX), written as the payload
# $T/NAME.json for db_expect, and remakes its rollup; PAYLOAD is sent; once
# PAYLOAD's statement (LIKE PATTERN) waits on that transaction's lock, it
# commits.  Fails unless PAYLOAD then gets 200.
held_race() {
	_n=$1 _m=$2 _sta=$3 _b=$4 _hex=$5 _payload=$6 _pattern=$7
	stat_line "$_m" XX "$_sta" 00 HHZ DE "$_b" $((_b / 10)) $((_b / 10)) 0 "$_hex" |
		stats_payload "$T/$_n.json" 2024-12-31
	mkfifo "$T/$_n.in"
	"$(pg__bin)/psql" -X -q -d "$ES_DB" <"$T/$_n.in" >"$T/$_n.out" 2>&1 &
	_held=$!
	bg_track "$_held"
	exec 3>"$T/$_n.in"
	printf "BEGIN;\nINSERT INTO dataselect_stats (node_id, date, network, station, location, channel,
		country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
		VALUES (%s, '%s', 'XX', '%s', '00', 'HHZ', 'DE', %s, %s, %s, 0, '\\\\x128B7F%s');
	SELECT eidastats_rollup_refresh(%s, ARRAY['%s'::date]);
	SELECT 'row inserted';\n" "$ES_NODE_ID" "$_m" "$_sta" "$_b" $((_b / 10)) $((_b / 10)) "$_hex" \
		"$ES_NODE_ID" "$_m" >&3
	wait_until 10 grep -q 'row inserted' "$T/$_n.out" || fail "$_n: the open transaction's insert: $(cat "$T/$_n.out")"
	submit "$_payload" >"$T/$_n.code" &
	_sent=$!
	bg_track "$_sent"
	HELD_PATTERN=$_pattern
	wait_until 60 held_waiting || fail "$_n: $_payload's statement did not wait for the open transaction"
	printf 'COMMIT;\n' >&3
	exec 3>&-
	wait "$_held" || fail "$_n: the open transaction: $(cat "$T/$_n.out")"
	wait "$_sent"
	expect_200 "$(cat "$T/$_n.code")" "$_n: $_payload"
}
held_waiting() {
	[ "$(pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND query LIKE '$HELD_PATTERN'")" = 1 ]
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

# C: a new day, while an open transaction has just inserted one of C's keys
# (m). C's COPY waits for it; once it commits, C rolls back to its savepoint
# and merges into that row.
{
	stat_line 2024-07-01 XX AA 00 HHZ DE 5 1 1 0 0000000055555555
	stat_line 2024-07-01 XX ZZ 00 HHZ "" 6 1 0 1 0000000066666666
	many 2024-07-01 Q
} | stats_payload "$T/c.json" 2024-07-02
held_race m 2024-07-01 AA 40 0000000033333333 "$T/c.json" 'COPY dataselect_stats %'
[ "$(log_count 'ROLLBACK TO SAVEPOINT ingest_new')" = 1 ] ||
	fail "C did not fall back to the merge after the other transaction stored its key"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/m.json" "$T/c.json" ||
	fail "C merged into the row the other transaction stored"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after C: $(cat "$T/verify")"

# E: days already stored (the UPDATE joined with the COPY table, then the
# INSERT of the rest), with a new key of E inserted by an open transaction
# (n): the UPDATE cannot see it, the INSERT waits for it and merges into it.
{
	stat_line 2024-05-01 XX AA 00 HHZ DE 11 1 1 0 0000000088888888
	stat_line 2024-05-01 XX NEW 00 HHZ DE 12 2 2 0 0000000099999999
} | stats_payload "$T/e.json" 2024-06-04
held_race n 2024-05-01 NEW 30 00000000AAAAAAAA "$T/e.json" 'WITH u AS (UPDATE dataselect_stats %'
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
[ "$(log_count 'RELEASE SAVEPOINT ingest_new')" = 2 ] && [ "$(log_count 'SAVEPOINT ingest_new')" = 3 ] ||
	fail "D's rows, on a new day, were merged"
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
held_race o 2024-09-01 F0000 50 00000000BBBBBBBB "$T/f.json" 'COPY dataselect_stats %'
[ "$(log_count 'ROLLBACK TO SAVEPOINT ingest_new')" = 2 ] ||
	fail "F did not fall back to the merge after its COPY was refused in the middle"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/m.json" "$T/c.json" "$T/n.json" "$T/e.json" \
	"$T/d.json" "$T/o.json" "$T/f.json" || fail "F merged into the row the other transaction stored"
es_admin rollup verify >"$T/verify" 2>&1 || fail "rollup verify after F: $(cat "$T/verify")"
echo "ok"
