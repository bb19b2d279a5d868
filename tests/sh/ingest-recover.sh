#!/bin/sh
# PostgreSQL stopped mid-run: health and submissions answer 503 and store
# nothing; when PostgreSQL returns the service recovers by itself, and a
# restart between requests costs no error at all.  The service opens its
# write sessions at start, before any request, and each rehearses an ingest
# that leaves nothing in the database (without a node it says there is
# nothing to rehearse with; a refused rehearsal is logged and costs no
# payload); it also starts while the database is down (and says so), and
# exits 0 on SIGTERM.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

health() { curl -s -o "$T/health" -w '%{http_code}' "$ES_INGEST_BASE/health"; }
expect_status() {
	[ "$2" = "$1" ] || fail "$3: status $2, expected $1: $(cat "$T/response" 2>/dev/null)"
}
# A payload of upstream-sample's stats with its own coverage day (so each is new).
day_payload() {
	sed -e 's/"GENERATED_AT"/"2026-11-28 12:00:00"/' -e 's/"VERSION"/"0.8.0"/' \
		-e "s/\"days_coverage\": \[[^]]*\]/\"days_coverage\": [\"$1\"]/" \
		"$DATA/upstream-sample/expected.json" >"$2"
}

central_start --workers 4
# The write sessions, opened before any request.
write_sessions() {
	pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'eidastats-ingestd'"
}
wait_until 15 grep -q 'database: 4 of 4 write sessions open, 4 rehearsed an ingest$' "$T/ingestd.log" ||
	fail "the write sessions were not opened and rehearsed at start: $(cat "$T/ingestd.log")"
[ "$(write_sessions)" = 4 ] || fail "$(write_sessions) write sessions in PostgreSQL, 4 expected"
grep -q 'access' "$T/ingestd.log" && fail "a request was served before the check"
# The rehearsals were rolled back: no row, network, payload or rollup row
# anywhere, and no sequence moved but those of the one node and token made
# before the start ('-': never used).
traces() {
	pg_psql -c "SELECT (SELECT count(*) FROM dataselect_stats) || ' ' || (SELECT count(*) FROM networks)
		|| ' ' || (SELECT count(*) FROM payloads) || ' ' || (SELECT count(*) FROM dataselect_rollup)
		|| ' ' || (SELECT count(*) FROM dataselect_rollup_country) || ' ' || (SELECT count(*) FROM dataselect_rollup_node)
		|| ' ' || (SELECT count(*) FROM dataselect_rollup_node_year_country)
		|| ' ' || (SELECT count(*) FROM dataselect_rollup_pack)
		|| ' ' || (SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ','
			ORDER BY sequencename) FROM pg_sequences)"
}
[ "$(traces)" = "0 0 0 0 0 0 0 0 nodes_id_seq=1,payloads_id_seq=-,report_mail_id_seq=-,tokens_id_seq=1" ] ||
	fail "the rehearsals left something: $(traces)"
day_payload 2020-09-18 "$T/a.json"
day_payload 2020-09-19 "$T/b.json"
day_payload 2020-09-20 "$T/c.json"
day_payload 2020-09-21 "$T/d.json"

expect_status 200 "$(health)" "health"
expect_status 200 "$(submit "$T/a.json")" "first POST"

pg_stop || fail "pg_stop"
expect_status 503 "$(health)" "health without PostgreSQL"
expect_status 503 "$(submit "$T/b.json")" "POST without PostgreSQL"
grep -q 'unavailable' "$T/response" || fail "503 answer: $(cat "$T/response")"
expect_status 503 "$(submit "$T/b.json")" "POST without PostgreSQL, again"

pg_resume || fail "pg_resume"
wait_until 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$ES_INGEST_BASE/health')\" = 200 ]" ||
	fail "health did not return to 200 after PostgreSQL came back"
expect_status 200 "$(submit "$T/b.json")" "POST after PostgreSQL came back"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" || fail "after recovery"

# A restart between requests: every pooled connection is stale, none fails.
pg_restart || fail "pg_restart"
expect_status 200 "$(submit "$T/c.json")" "POST after a restart"
for i in 1 2 3 4 5 6; do
	expect_status 200 "$(health)" "health $i after a restart"
done
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/c.json" || fail "after the restart"

# A database that refuses the rehearsal's rows (an operator's own check on
# dates): the service says so and serves as before.
ingestd_stop
pg_psql -c "ALTER TABLE dataselect_stats ADD CONSTRAINT recent_only CHECK (date >= '2000-01-01')"
ingestd_start --workers 2
wait_until 15 grep -q 'database: 2 of 2 write sessions open; 0 rehearsed an ingest, the others did not (.*recent_only' \
	"$T/ingestd.log" || fail "the refused rehearsal was not logged: $(cat "$T/ingestd.log")"
day_payload 2020-09-22 "$T/e.json"
expect_status 200 "$(submit "$T/e.json")" "POST after a refused rehearsal"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/c.json" "$T/e.json" || fail "after a refused rehearsal"
pg_psql -c "ALTER TABLE dataselect_stats DROP CONSTRAINT recent_only"

# A database without any node: nothing to rehearse with, and the log says so.
ingestd_stop
pg_psql -c "CREATE DATABASE nonode"
main_db=$ES_DB
ES_DB=$(printf '%s' "$ES_DB" | sed 's/dbname=eidastats/dbname=nonode/')
es_admin db init >"$T/dbinit2.log" 2>&1 || fail "db init of an empty database: $(cat "$T/dbinit2.log")"
ingestd_start --workers 2
wait_until 15 grep -q 'database: 2 of 2 write sessions open; no ingest rehearsed (no node yet)$' \
	"$T/ingestd.log" || fail "the start without a node was not logged: $(cat "$T/ingestd.log")"
ingestd_stop
ES_DB=$main_db

# Starting while PostgreSQL is down.
pg_stop || fail "pg_stop"
ingestd_start
wait_until 15 grep -q 'database: 0 of 8 write sessions open at start; the others open on first use (cannot connect' \
	"$T/ingestd.log" || fail "the failed opening at start was not logged: $(cat "$T/ingestd.log")"
expect_status 503 "$(health)" "health of a service started without PostgreSQL"
expect_status 503 "$(submit "$T/d.json")" "POST to a service started without PostgreSQL"
pg_resume || fail "pg_resume"
expect_status 200 "$(submit "$T/d.json")" "POST once PostgreSQL is up"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" "$T/c.json" "$T/e.json" "$T/d.json" || fail "after a cold start"
grep -q 'cannot connect to the database' "$T/ingestd.log" || fail "the outage was not logged"
ingestd_stop
exit 0
