#!/bin/sh
# PREFIX/metrics (issue 12, "Metrics"): the Prometheus text format passes
# `promtool check metrics`; the per-node counters move when a payload is
# accepted and when one is refused (by reason), requests are counted by route
# and status; metrics_allow refuses other addresses (403) and a reload changes it.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

command -v promtool >/dev/null 2>&1 || skip "promtool (Debian package prometheus) is not installed"

: >"$T/ingestd.yaml"
central_start --config "$T/ingestd.yaml"
M=$ES_INGEST_BASE/metrics

# scrape [CURL-OPTION...]: the exposition into $T/m, checked by promtool; prints the status.
scrape() {
	_s=$(curl -s -D "$T/mh" -o "$T/m" -w '%{http_code}' "$@" "$M")
	if [ "$_s" = 200 ]; then
		promtool check metrics <"$T/m" >"$T/promtool.out" 2>&1 ||
			fail "promtool check metrics: $(cat "$T/promtool.out")"
	fi
	echo "$_s"
}
# value SERIES: the value of one series (the exact name with its labels).
# (The name goes through the environment: awk -v would read its backslashes.)
value() { S=$1 awk '$1 == ENVIRON["S"] { print $2; found = 1 } END { if (!found) print "absent" }' "$T/m"; }
expect_value() {
	[ "$(value "$1")" = "$2" ] || fail "$1 = $(value "$1"), expected $2"
}

[ "$(scrape)" = 200 ] || fail "first scrape: $(cat "$T/m")"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/mh" || fail "Content-Type: $(cat "$T/mh")"
# Every node of the database appears, with zero counters, before any submission.
expect_value 'eidastats_ingestd_node_payloads_accepted_total{node="node1"}' 0
expect_value 'eidastats_ingestd_node_last_submission_timestamp_seconds{node="node1"}' 0
expect_value 'eidastats_ingestd_database_up' 1
expect_value 'eidastats_ingestd_in_flight_bytes' 0
expect_value 'eidastats_ingestd_in_flight_limit_bytes' $((2 * 1024 * 1024 * 1024))
expect_value 'eidastats_ingestd_db_connections{pool="write"}' 8
# The scrape's own connection is in use while it runs.
expect_value 'eidastats_ingestd_db_connections_in_use{pool="read"}' 1

# An accepted payload.
payload_from_expected "$DATA/synthetic-small/expected.json" "$T/p1.json"
nstats=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["stats"]))' "$T/p1.json")
before=$(date +%s)
[ "$(submit "$T/p1.json")" = 200 ] || fail "submit: $(cat "$T/response")"
[ "$(scrape)" = 200 ] || fail "scrape after a submission"
expect_value 'eidastats_ingestd_node_payloads_accepted_total{node="node1"}' 1
expect_value 'eidastats_ingestd_node_statistics_stored_total{node="node1"}' "$nstats"
expect_value 'eidastats_ingestd_requests_total{route="/submit",code="200"}' 1
expect_value 'eidastats_ingestd_request_duration_seconds_count{route="/submit"}' 1
last=$(value 'eidastats_ingestd_node_last_submission_timestamp_seconds{node="node1"}')
awk -v l="$last" -v b="$before" 'BEGIN { exit !(l >= b - 1 && l <= b + 60) }' ||
	fail "last submission time $last, submitted at $before"
# Not before the database's payloads.created_at (the transaction's start).
dbl=$(pg_psql -c "SELECT extract(epoch FROM max(created_at)) FROM payloads WHERE node_id = $ES_NODE_ID")
awk -v l="$last" -v d="$dbl" 'BEGIN { exit !(l >= d - 0.001) }' || fail "last $last, database $dbl"

# Refused payloads, by reason: the same again (409), a malformed one (400).
[ "$(submit "$T/p1.json")" = 409 ] || fail "duplicate: $(cat "$T/response")"
printf '{"stats": [' >"$T/bad.json"
[ "$(submit "$T/bad.json")" = 400 ] || fail "malformed: $(cat "$T/response")"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$T/p1.json" "$ES_SUBMIT_URL")" = 401 ] ||
	fail "no token"
[ "$(scrape)" = 200 ] || fail "scrape after refusals"
expect_value 'eidastats_ingestd_node_payloads_refused_total{node="node1",reason="duplicate"}' 1
expect_value 'eidastats_ingestd_node_payloads_refused_total{node="node1",reason="malformed"}' 1
expect_value 'eidastats_ingestd_node_payloads_refused_total{node="node1",reason="too_large"}' 0
expect_value 'eidastats_ingestd_node_payloads_accepted_total{node="node1"}' 1
expect_value 'eidastats_ingestd_requests_total{route="/submit",code="409"}' 1
expect_value 'eidastats_ingestd_requests_total{route="/submit",code="401"}' 1
# This scrape counts the two before it (a request is counted when it ends).
expect_value 'eidastats_ingestd_requests_total{route="/metrics",code="200"}' 2
# Unknown paths.
curl -s -o /dev/null "$ES_INGEST_BASE/nowhere"
[ "$(scrape)" = 200 ] || fail "scrape"
expect_value 'eidastats_ingestd_requests_total{route="none",code="404"}' 1
# A node name that needs escaping in a label.
pg_psql -c "INSERT INTO nodes (name) VALUES (E'we\"ird\\\\')" >/dev/null || fail "odd node"
[ "$(scrape)" = 200 ] || fail "scrape with an odd node name"
expect_value 'eidastats_ingestd_node_payloads_accepted_total{node="we\"ird\\"}' 0

# metrics_allow: loopback by default (127.0.0.2 too); 127.0.0.1/32 refuses 127.0.0.2.
[ "$(scrape --interface 127.0.0.2)" = 200 ] || fail "127.0.0.2 refused by the default metrics_allow"
printf 'metrics_allow: 127.0.0.1/32\n' >"$T/ingestd.yaml"
kill -HUP "$ES_INGESTD_PID"
wait_until 10 grep -q 'settings reloaded' "$T/ingestd.log" || fail "no reload: $(cat "$T/ingestd.log")"
[ "$(scrape --interface 127.0.0.2)" = 403 ] || fail "127.0.0.2 not refused: $(cat "$T/m")"
grep -q metrics_allow "$T/m" || fail "403 message: $(cat "$T/m")"
[ "$(scrape)" = 200 ] || fail "127.0.0.1 refused"
expect_value 'eidastats_ingestd_requests_total{route="/metrics",code="403"}' 1
# A bad list is refused at start with its reason.
"$INGESTD" --db "$ES_DB" --listen 127.0.0.1:0 --metrics-allow 'localhost' 2>"$T/err" &&
	fail "metrics_allow localhost was taken"
grep -q "metrics_allow: 'localhost' is not an address or CIDR" "$T/err" || fail "message: $(cat "$T/err")"

# The database gone: the counters still answer, database_up 0.
pg_stop
[ "$(scrape)" = 200 ] || fail "scrape without the database"
expect_value 'eidastats_ingestd_database_up' 0
expect_value 'eidastats_ingestd_node_payloads_accepted_total{node="node1"}' 1
ingestd_stop
