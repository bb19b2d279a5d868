#!/bin/sh
# POST of two different payloads sums the counters and unions the HLLs; PUT
# overwrites; the same payload again (also reordered, re-dated, gzip'd) is 409
# and changes nothing; identity is per node and includes days_coverage.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

# The stat lines of an expected.json (one per line there), without commas.
stats_of() { sed -n 's/^ *\({"month".*}\),\{0,1\}$/\1/p' "$1"; }
# make_payload OUT COVERAGE [GENERATED_AT] < stat lines
make_payload() {
	{
		printf '{"generated_at": "%s", "version": "0.8.0", "days_coverage": %s, "stats": [\n' \
			"${3:-2026-11-28 12:00:00}" "$2"
		sed '$!s/$/,/'
		printf ']}\n'
	} >"$1"
}
# The key part of a stat line: everything before "bytes".
keys_of() { sed 's/"bytes".*//' "$1"; }
# Stat lines of FILE whose key is not among KEYFILE's.
without_keys() { keys_of "$2" >"$T/keys"; stats_of "$1" | grep -v -F -f "$T/keys"; }
expect_status() {
	[ "$2" = "$1" ] || fail "$3: status $2, expected $1: $(cat "$T/response")"
}
total_clients() {
	pg_psql -c "SELECT sum(hll_cardinality(clients))::bigint FROM dataselect_stats WHERE node_id = $1"
}

central_start

EXP=$DATA/upstream-sample/expected.json
stats_of "$EXP" >"$T/a.lines"
[ "$(wc -l <"$T/a.lines")" -eq 120 ] || fail "expected 120 stat lines in $EXP"
make_payload "$T/a.json" '["2020-09-18"]' <"$T/a.lines"

expect_status 200 "$(submit "$T/a.json")" "first POST"
db_expect "$ES_NODE_ID" "$T/a.json" || fail "first POST"
db_state >"$T/state1"
before=$(total_clients "$ES_NODE_ID")

# The same content again, in any form, is refused and changes nothing.
expect_status 409 "$(submit "$T/a.json")" "same payload"
grep -q 'already exists' "$T/response" || fail "409 answer: $(cat "$T/response")"
tac "$T/a.lines" | make_payload "$T/a-reversed.json" '["2020-09-18"]' "2030-01-01 00:00:00"
expect_status 409 "$(submit "$T/a-reversed.json")" "reordered, re-dated payload"
gzip -c "$T/a-reversed.json" >"$T/a-reversed.json.gz"
expect_status 409 "$(submit "$T/a-reversed.json.gz" POST -H 'Content-Encoding: gzip')" "gzip'd payload"
expect_status 409 "$(submit "$T/a.json" PUT)" "same payload with PUT"
db_state >"$T/state2"
cmp -s "$T/state1" "$T/state2" || fail "a refused duplicate changed the database"

# A different payload with the same keys: counters add up, HLLs union.
sed 's/"clients": "[^"]*"/"clients": "\\\\x128B7F0000000047198F26"/' "$T/a.lines" |
	make_payload "$T/b.json" '["2020-09-19"]'
expect_status 200 "$(submit "$T/b.json")" "second POST"
db_expect "$ES_NODE_ID" "$T/a.json" "$T/b.json" || fail "POST did not sum and union"
after=$(total_clients "$ES_NODE_ID")
[ "$after" -gt "$before" ] || fail "the union added no client ($before -> $after)"

# PUT replaces the rows it names and leaves the others.
head -n 10 "$T/a.lines" | sed -e 's/"bytes": [0-9]*/"bytes": 5/' \
	-e 's/"clients": "[^"]*"/"clients": "\\\\x128B7FFFFFFFFFBC818ACA"/' |
	make_payload "$T/c.json" '["2020-09-20"]'
expect_status 200 "$(submit "$T/c.json" PUT)" "PUT"
without_keys "$T/a.json" "$T/c.json" | make_payload "$T/a-rest.json" '[]'
without_keys "$T/b.json" "$T/c.json" | make_payload "$T/b-rest.json" '[]'
[ "$(stats_of "$T/a-rest.json" | wc -l)" -eq 110 ] || fail "key filter"
db_expect "$ES_NODE_ID" "$T/a-rest.json" "$T/b-rest.json" "$T/c.json" || fail "PUT did not overwrite"
db_state >"$T/state3"
expect_status 409 "$(submit "$T/c.json" PUT)" "same PUT again"
db_state >"$T/state4"
cmp -s "$T/state3" "$T/state4" || fail "a refused PUT changed the database"

# What the payloads table says about them.
got=$(pg_psql -c "SELECT method || ' ' || nb_stats || ' ' || coverage::text || ' ' || version
	|| ' ' || to_char(first_stat_at, 'YYYY-MM-DD') FROM payloads WHERE node_id = $ES_NODE_ID ORDER BY id")
want="POST 120 {2020-09-18} 0.8.0 2020-09-18
POST 120 {2020-09-19} 0.8.0 2020-09-19
PUT 10 {2020-09-20} 0.8.0 2020-09-20"
[ "$got" = "$want" ] || fail "payloads table: $got"

# Identity is per node, and days_coverage is part of it.
new_node node2
ES_TOKEN=$NODE_TOKEN
expect_status 200 "$(submit "$T/a.json")" "same payload from another node"
db_expect "$NODE_ID" "$T/a.json" || fail "second node"
make_payload "$T/a-2days.json" '["2020-09-18", "2020-09-19"]' <"$T/a.lines"
expect_status 200 "$(submit "$T/a-2days.json")" "same stats, other coverage"
db_expect "$NODE_ID" "$T/a.json" "$T/a.json" || fail "other coverage was not added"

# Day rows are stored under their day.
new_node daily
ES_TOKEN=$NODE_TOKEN
sed 's/"month": "2020-09-01"/"month": "2020-09-18"/' "$T/a.lines" | make_payload "$T/day.json" '["2020-09-18"]'
expect_status 200 "$(submit "$T/day.json")" "day rows"
db_expect "$NODE_ID" "$T/day.json" || fail "day rows"
days=$(pg_psql -c "SELECT DISTINCT date FROM dataselect_stats WHERE node_id = $NODE_ID")
[ "$days" = 2020-09-18 ] || fail "day rows stored under $days"
# A plain INSERT, as the upstream service does it, still creates the network.
pg_psql -c "INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	VALUES ($NODE_ID, '2020-09-01', 'ZZ9', 'S', '', 'HHZ', '', 1, 1, 1, 0, hll_empty(11, 5))" ||
	fail "plain INSERT"
[ "$(pg_psql -c "SELECT inverted_policy FROM networks WHERE node_id = $NODE_ID AND name = 'ZZ9'")" = f ] ||
	fail "the trigger did not create the network of a plain INSERT"
ingestd_stop
exit 0
