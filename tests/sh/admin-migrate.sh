#!/bin/sh
# `eidastats-admin db init` migrates an existing older database in place: one
# made by the upstream-compatible schema alone (sql/001-schema.sql applied by
# hand, as an upstream database has it: no eidastats_migrations table, none
# of 002's columns), with rows in it.  Afterwards every old row is intact, the
# new columns and indexes exist, a second init applies nothing, and
# eidastats-ingestd accepts a payload with the old node's old token, merging
# its statistics into the old rows.  Skips (77) without PostgreSQL 15 + hll.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

mkdir "$T/central"
chmod o+x "$T"   # PostgreSQL runs as its own user when the test runs as root.
pg_start "$T/central" || exit $?
pg_psql -f "$top_srcdir/sql/001-schema.sql" >/dev/null 2>"$T/old.err" ||
	fail "the old schema could not be made: $(cat "$T/old.err")"
TOKEN=0123456789abcdef0123456789abcdef
# One statistic of upstream-sample's expected.json, already stored, with the
# clients set of one client; and one of another network on another day.
pg_psql >/dev/null <<SQL || fail "the old rows could not be inserted"
INSERT INTO nodes (name, contact, restriction_policy) VALUES ('OLD', 'old@example.org', false);
INSERT INTO tokens (node_id, value, valid_from, valid_until)
	VALUES (1, '$TOKEN', now() - interval '1 day', now() + interval '1 year');
INSERT INTO payloads (node_id, hash, generated_at, version, coverage)
	VALUES (1, 1234567, '2023-01-01 00:00:00', '0.8.0', ARRAY['2023-01-01'::date]);
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	VALUES (1, '2023-01-01', 'FR', 'OLDST', '00', 'HHZ', 'FR', 1000, 3, 2, 1,
	        hll_add(hll_empty(11, 5), hll_hash_bigint(42)));
SQL
pg_psql -c "select to_regclass('eidastats_migrations') is null" | grep -qx t ||
	fail "the old database already has eidastats_migrations"
# The token's plaintext is not part of the snapshot: sql/003 replaces it by its
# digest (checked below).
snapshot() {
	pg_psql -c "select n.name, n.contact, t.id, t.valid_until, p.hash, p.version, p.coverage::text,
		s.date, s.network, s.station, s.bytes, s.nb_reqs, s.nb_successful_reqs, s.nb_failed_reqs,
		hll_cardinality(s.clients)
		from nodes n join tokens t on t.node_id = n.id join payloads p on p.node_id = n.id
		join dataselect_stats s on s.node_id = n.id where s.station = 'OLDST'"
}
snapshot >"$T/before" || fail "snapshot"
[ -s "$T/before" ] || fail "no old rows to keep"

es_admin db init >"$T/init.out" 2>"$T/init.err" || fail "db init on the old database: $(cat "$T/init.err")"
# Every migration of the tree is applied, in order (001 again: it is idempotent).
MIGRATIONS=$(cd "$top_srcdir/sql" && ls [0-9][0-9][0-9]-*.sql | sort)
NMIG=$(echo "$MIGRATIONS" | wc -l)
[ "$(cat "$T/init.out")" = "$(echo "$MIGRATIONS" | sed 's/^/applied /')" ] ||
	fail "db init output: $(cat "$T/init.out")"
snapshot >"$T/after" || fail "snapshot after"
cmp -s "$T/before" "$T/after" || { diff "$T/before" "$T/after" >&2; fail "db init changed the old rows"; }
pg_psql -c "select value is null and digest = sha256(convert_to('0123456789abcdef0123456789abcdef', 'UTF8'))
	from tokens" | grep -qx t || fail "the old token was not replaced by its digest"
for col in digest method nb_stats; do
	pg_psql -c "select count(*) from information_schema.columns
		where table_name = 'payloads' and column_name = '$col'" | grep -qx 1 ||
		fail "payloads.$col was not added"
done
for idx in payloads_node_digest nodes_name tokens_node; do
	pg_psql -c "select to_regclass('$idx') is not null" | grep -qx t || fail "index $idx was not made"
done
check "every migration is recorded" test "$(pg_psql -c 'select count(*) from eidastats_migrations')" = "$NMIG"
es_admin db init >"$T/init2.out" 2>"$T/init2.err" || fail "second db init: $(cat "$T/init2.err")"
[ ! -s "$T/init2.out" ] || fail "a second db init applied something: $(cat "$T/init2.out")"

# The migrated database serves: the old token is accepted and a payload with
# the old statistic's key is merged into the old row.
ingestd_start
cat >"$T/payload.json" <<JSON
{"generated_at": "2023-01-02 00:00:00", "version": "0.8.0", "days_coverage": ["2023-01-01"], "aggregation_score": 1, "stats": [{"month": "2023-01-01", "network": "FR", "station": "OLDST", "location": "00", "channel": "HHZ", "country": "FR", "bytes": 500, "nb_requests": 2, "nb_successful_requests": 2, "nb_unsuccessful_requests": 0, "clients": "\\\\x128B7F0000000047198F26"}]}
JSON
ES_TOKEN=$TOKEN
code=$(submit "$T/payload.json")
[ "$code" = 200 ] || fail "submit with the old token: HTTP $code: $(cat "$T/response")"
row=$(pg_psql -c "select bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, hll_cardinality(clients)
	from dataselect_stats where station = 'OLDST'")
[ "$row" = "1500|5|4|1|2" ] || fail "the new statistic was not merged into the old row: $row"
check "two payloads" test "$(pg_psql -c 'select count(*) from payloads')" = 2
ingestd_stop
echo "the old database was migrated and serves"
