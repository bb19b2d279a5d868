#!/bin/sh
# eidastats-admin: idempotent and concurrent `db init`, nodes and tokens as
# the service sees them, confirmation before deleting, the error paths and
# exit statuses, and the installed migrations.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"
. "$top_srcdir/tests/sh/admin-lib.sh"

mkdir -p "$T/central"
pg_start "$T/central" || exit $?

DBURI=$ES_DB
export DBURI
S="--sql-dir $top_srcdir/sql"
# The source tree's migrations, in order: every one is applied, and installed.
MIGRATIONS=$(cd "$top_srcdir/sql" && ls [0-9][0-9][0-9]-*.sql | sort)
NMIG=$(echo "$MIGRATIONS" | wc -l)
[ "$NMIG" -ge 5 ] || fail "expected at least migrations 001 to 005 in $top_srcdir/sql"

# Usage errors: 2.
run 2 "$T/out" --db "$ES_DB"
run 2 "$T/out" --db "$ES_DB" node frobnicate
run 2 "$T/out" node list --colour red
(unset DBURI; run 2 "$T/out" node list) || exit 1
grep -q 'no database' "$T/admin.err" || fail "no database message"
run 0 "$T/out" --help
grep -q 'token add --node NODE' "$T/out" || fail "--help"

# Migrations.
run 0 "$T/out" $S db status
[ "$(grep -c '^pending' "$T/out")" = "$NMIG" ] || fail "db status before init: $(cat "$T/out")"
run 1 "$T/out" --sql-dir "$T/nowhere" db init
grep -q 'cannot open the migrations directory' "$T/admin.err" || fail "missing sql dir message"
run 0 "$T/out" $S db init
[ "$(cat "$T/out")" = "$(echo "$MIGRATIONS" | sed 's/^/applied /')" ] || fail "db init output: $(cat "$T/out")"
run 0 "$T/out" $S db init
[ ! -s "$T/out" ] || fail "a second db init applied something: $(cat "$T/out")"
run 0 "$T/out" $S db status
[ "$(grep -c '^applied' "$T/out")" = "$NMIG" ] || fail "db status after init"
# Two db init at once on a fresh database apply each migration once.
pg_psql -c "CREATE DATABASE second"
DB2="host=$ES_PGHOST port=$ES_PGPORT dbname=second user=postgres"
"$ADMIN" --db "$DB2" $S db init >"$T/init1" 2>&1 &
p1=$!
"$ADMIN" --db "$DB2" $S db init >"$T/init2" 2>&1 &
p2=$!
wait $p1 || fail "concurrent db init 1: $(cat "$T/init1")"
wait $p2 || fail "concurrent db init 2: $(cat "$T/init2")"
[ "$(cat "$T/init1" "$T/init2" | grep -c '^applied')" = "$NMIG" ] || fail "concurrent db init: $(cat "$T/init1" "$T/init2")"

# Nodes.
run 0 "$T/id" node add --name GFZ --contact ops@gfz.example
[ "$(cat "$T/id")" = 1 ] || fail "node add printed '$(cat "$T/id")'"
run 1 "$T/out" node add --name GFZ --contact other@example
grep -q "already exists" "$T/admin.err" || fail "duplicate node message"
run 2 "$T/out" node add --name ODC
run 2 "$T/out" node add --name 42 --contact x@y
run 2 "$T/out" node add --name "$(printf 'a\tb')" --contact x@y
run 0 "$T/id2" --db="$ES_DB" node add --name=ODC --contact=ops@odc.example
run 0 "$T/out" node update GFZ --contact new@gfz.example
run 1 "$T/out" node update NOPE --contact x@y
run 2 "$T/out" node update GFZ
run 0 "$T/out" node list
grep -q '^1 *GFZ *new@gfz.example' "$T/out" || fail "node list: $(cat "$T/out")"
grep -q '^[0-9]* *ODC' "$T/out" || fail "node list: $(cat "$T/out")"

# Tokens.
run 0 "$T/token" token add --node GFZ
grep -qx '[0-9a-f]\{32\}' "$T/token" && [ "$(wc -l <"$T/token")" = 1 ] ||
	fail "token add must print only the token: $(cat "$T/token")"
TOKEN=$(cat "$T/token")
run 0 "$T/token2" token add --node 1 --expires 2999-12-31
until=$(pg_psql -c "SELECT to_char(valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
	FROM tokens WHERE digest = sha256(convert_to('$(cat "$T/token2")', 'UTF8'))")
[ "$until" = "2999-12-31 23:59:59" ] || fail "--expires stored $until"
run 1 "$T/out" token add --node GFZ --expires 2000-01-01
grep -q 'in the past' "$T/admin.err" || fail "past expiry message"
run 2 "$T/out" token add --node GFZ --expires 2024-02-30
run 1 "$T/out" token add --node NOPE
run 2 "$T/out" token add
run 0 "$T/out" token list
# No secret: the start of each token's SHA-256, never the token (tests/sh/ingest-token.sh).
grep -q "$(printf %s "$TOKEN" | sha256sum | cut -c1-8)\.\.\." "$T/out" ||
	fail "token list lacks the start of the token's digest: $(cat "$T/out")"
grep -q "$(printf %s "$TOKEN" | cut -c1-6)" "$T/out" && fail "token list shows a token's start"
[ "$(grep -c ' valid$' "$T/out")" = 2 ] || fail "token list: $(cat "$T/out")"

# The service takes the token; deleting asks first.
ES_DB=$ES_DB ingestd_start
payload_from_expected "$DATA/upstream-sample/expected.json" "$T/p.json"
ES_TOKEN=$TOKEN
[ "$(submit "$T/p.json")" = 200 ] || fail "POST with a new token: $(cat "$T/response")"
id=$(pg_psql -c "SELECT id FROM tokens WHERE digest = sha256(convert_to('$TOKEN', 'UTF8'))")
echo n | run 1 "$T/out" token del "$id"
run 1 "$T/out" token del "$id" </dev/null
grep -q 'not deleted' "$T/admin.err" || fail "unconfirmed delete message"
[ "$(submit "$T/p.json")" = 409 ] || fail "the token stopped working without a confirmed delete"
run 2 "$T/out" token del x1
run 1 "$T/out" token del 999 --yes
echo y | run 0 "$T/out" token del "$id"
[ "$(submit "$T/p.json")" = 403 ] || fail "a deleted token still works"

echo no | run 1 "$T/out" node del GFZ
grep -q "Delete node 1 ('GFZ') with its 1 token(s), 1 payload(s) and 120 statistics row(s)?" "$T/admin.err" ||
	fail "node del question: $(cat "$T/admin.err")"
run 0 "$T/out" node del GFZ --yes
left=$(pg_psql -c "SELECT (SELECT count(*) FROM dataselect_stats) + (SELECT count(*) FROM payloads)
	+ (SELECT count(*) FROM networks) + (SELECT count(*) FROM tokens WHERE node_id = 1)
	+ (SELECT count(*) FROM nodes WHERE id = 1)")
[ "$left" = 0 ] || fail "node del left $left rows"
[ "$(pg_psql -c "SELECT count(*) FROM dataselect_rollup WHERE node_id = 1")" = 0 ] ||
	fail "node del left rollup rows"
run 1 "$T/out" node del GFZ --yes
ingestd_stop

# The installed tree carries the migrations and the man pages.
es_install
[ -f "$ES_PREFIX/share/eidastats/sql/001-schema.sql" ] || fail "migrations not installed"
[ -f "$ES_PREFIX/share/man/man8/eidastats-admin.8" ] || fail "eidastats-admin.8 not installed"
[ -f "$ES_PREFIX/share/man/man8/eidastats-ingestd.8" ] || fail "eidastats-ingestd.8 not installed"
EIDASTATS_SQL_DIR="$ES_PREFIX/share/eidastats/sql" eidastats-admin --db "$DB2" db status >"$T/out" ||
	fail "installed eidastats-admin"
[ "$(grep -c '^applied' "$T/out")" = "$NMIG" ] || fail "installed db status: $(cat "$T/out")"
exit 0
