#!/bin/sh
# Token storage (issue 7, defect 1): tokens written the old way (plaintext,
# no unique constraint) on a database made by migrations 001 and 002 are
# converted by `db init` to SHA-256 digests; a value stored twice stops the
# migration with a message naming the nodes; after it, the service maps each
# token to exactly its node, a second copy of a token is refused, and no
# plaintext is left or shown.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

command -v sha256sum >/dev/null 2>&1 || skip "sha256sum is not installed"
mkdir -p "$T/central" "$T/sql-old"
pg_start "$T/central" || exit $?

# The schema as it stood before token digests: migrations 001 and 002 only.
cp "$top_srcdir/sql/001-schema.sql" "$top_srcdir/sql/002-eidastats.sql" "$T/sql-old/"
"$ADMIN" --db "$ES_DB" --sql-dir "$T/sql-old" db init >"$T/out" 2>&1 || fail "db init 001+002: $(cat "$T/out")"
for n in GFZ ODC NOA; do
	es_admin node add --name "$n" --contact "ops@$n.example" >/dev/null 2>>"$T/admin.log" ||
		fail "node add $n"
done
[ "$(pg_psql -c "SELECT string_agg(id || name, ',' ORDER BY id) FROM nodes")" = "1GFZ,2ODC,3NOA" ] ||
	fail "node ids: $(pg_psql -c "SELECT id, name FROM nodes")"

# Tokens the old way.  GFZ (1) and ODC (2) share one value: the old lookup
# ORed their node ids and authenticated it as NOA (1 | 2 = 3).
GFZ_TOKEN=0123456789abcdef0123456789abcdef
ODC_TOKEN=fedcba9876543210fedcba9876543210
SHARED=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
OLD=0000111122223333444455556666777f
pg_psql -c "INSERT INTO tokens (node_id, value, valid_from, valid_until) VALUES
	(1, '$GFZ_TOKEN', now(), 'infinity'),
	(2, '$ODC_TOKEN', now() - interval '1 day', now() + interval '1 year'),
	(1, '$SHARED', now(), 'infinity'),
	(2, '$SHARED', now(), 'infinity'),
	(3, '$OLD', now() - interval '2 years', now() - interval '1 year')" ||
	fail "old-style token rows"

# The migration stops on the shared value, names the nodes and the rows,
# shows no token and changes nothing.
"$ADMIN" --db "$ES_DB" --sql-dir "$top_srcdir/sql" db init >"$T/out" 2>"$T/err" &&
	fail "db init converted a token value stored for two nodes: $(cat "$T/out" "$T/err")"
grep -q 'one token value is stored 2 times, for nodes GFZ (id 1), ODC (id 2): token ids 3, 4' "$T/err" ||
	fail "the message does not name the nodes and rows: $(cat "$T/err")"
grep -q 'SQLSTATE P0001, class P0 PL/pgSQL error' "$T/err" || fail "the message lacks the SQLSTATE: $(cat "$T/err")"
grep -q 'eidastats-admin token del' "$T/err" || fail "the message does not say what to do: $(cat "$T/err")"
grep -q "$SHARED" "$T/err" && fail "the message shows the shared token"
grep -q '003-token-digests.sql not applied' "$T/err" || fail "no 'not applied' line: $(cat "$T/err")"
[ "$(pg_psql -c "SELECT count(*) FROM tokens WHERE value IS NOT NULL")" = 5 ] || fail "a failed migration changed tokens"
[ "$(pg_psql -c "SELECT max(version) FROM eidastats_migrations")" = 2 ] || fail "a failed migration was recorded"
[ "$(pg_psql -c "SELECT count(*) FROM information_schema.columns
	WHERE table_name = 'tokens' AND column_name = 'digest'")" = 0 ] || fail "a failed migration left a column"

# The operator deletes ODC's copy; now the conversion goes through.
es_admin token del 4 --yes 2>>"$T/admin.log" || fail "token del 4"
es_admin db init >"$T/out" 2>"$T/err" || fail "db init after the fix: $(cat "$T/err")"
[ "$(head -n 1 "$T/out")" = "applied 003-token-digests.sql" ] || fail "db init output: $(cat "$T/out")"
es_admin db init >"$T/out" 2>"$T/err" || fail "db init again: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "a second db init applied something: $(cat "$T/out")"

# No plaintext left; each digest is the token's SHA-256.
[ "$(pg_psql -c "SELECT count(*) FROM tokens WHERE value IS NOT NULL OR digest IS NULL")" = 0 ] ||
	fail "plaintext tokens left: $(pg_psql -c "SELECT id, value, digest FROM tokens")"
sha() { printf %s "$1" | sha256sum | cut -c1-64; }
[ "$(pg_psql -c "SELECT encode(digest, 'hex') FROM tokens WHERE id = 1")" = "$(sha "$GFZ_TOKEN")" ] ||
	fail "token 1's digest is not the SHA-256 of its value"
pg_psql -c "SELECT count(*) FROM pg_constraint WHERE conname = 'tokens_digest_key' AND contype = 'u'" |
	grep -qx 1 || fail "no UNIQUE constraint on tokens.digest"
# The service's lookup (src/ingestd/db.c) can use the constraint's index: no scan of all tokens.
pg_psql -c "SET enable_seqscan = off" -c "EXPLAIN SELECT node_id, now() >= valid_from AND now() <= valid_until
	FROM tokens WHERE digest = '\\x00'::bytea AND node_id IS NOT NULL" >"$T/plan" || fail "EXPLAIN"
grep -q 'Index Scan using tokens_digest_key' "$T/plan" || fail "the token lookup cannot use the index: $(cat "$T/plan")"

# A second copy of a token is refused, written as a digest or the upstream way.
pg_psql -c "INSERT INTO tokens (node_id, digest, valid_from, valid_until)
	VALUES (2, sha256(convert_to('$GFZ_TOKEN', 'UTF8')), now(), 'infinity')" 2>"$T/err" &&
	fail "a duplicate token digest was stored"
grep -q 'tokens_digest_key' "$T/err" || fail "duplicate digest: $(cat "$T/err")"
pg_psql -c "INSERT INTO tokens (node_id, value, valid_from, valid_until)
	VALUES (3, '$SHARED', now(), 'infinity')" 2>"$T/err" && fail "a duplicate plaintext token was stored"
grep -q 'tokens_digest_key' "$T/err" || fail "duplicate value: $(cat "$T/err")"
# A new token written the upstream way is kept as its digest only.
NOA_TOKEN=abcdefabcdefabcdefabcdefabcdef99
pg_psql -c "INSERT INTO tokens (node_id, value, valid_from, valid_until)
	VALUES (3, '$NOA_TOKEN', now(), 'infinity')" || fail "upstream-style token insert"
[ "$(pg_psql -c "SELECT count(*) FROM tokens WHERE node_id = 3 AND value IS NULL
	AND digest = sha256(convert_to('$NOA_TOKEN', 'UTF8'))")" = 1 ] || fail "upstream-style token not digested"

# token add prints the token once and stores only its digest; token list shows no secret.
NEW=$(es_admin token add --node ODC 2>>"$T/admin.log") || fail "token add"
printf %s "$NEW" | grep -qx '[0-9a-f]\{32\}' || fail "token add printed '$NEW'"
[ "$(pg_psql -c "SELECT count(*) FROM tokens WHERE node_id = 2 AND value IS NULL
	AND encode(digest, 'hex') = '$(sha "$NEW")'")" = 1 ] || fail "token add did not store the digest"
es_admin token list >"$T/list" 2>>"$T/admin.log" || fail "token list"
for tok in "$GFZ_TOKEN" "$ODC_TOKEN" "$SHARED" "$NEW" "$NOA_TOKEN"; do
	grep -q "$(printf %s "$tok" | cut -c1-6)" "$T/list" && fail "token list shows a token's start: $(cat "$T/list")"
done
grep -q "^1 *GFZ *$(sha "$GFZ_TOKEN" | cut -c1-8)\.\.\. " "$T/list" || fail "token list: $(cat "$T/list")"
[ "$(grep -c ' valid$' "$T/list")" = 5 ] || fail "token list states: $(cat "$T/list")"
grep -q ' expired$' "$T/list" || fail "token list: the old token is not expired: $(cat "$T/list")"

# The service maps each token to exactly its node.
ingestd_start
payload_from_expected "$DATA/upstream-sample/expected.json" "$T/p.json"
sent_by() {
	ES_TOKEN=$1
	_code=$(submit "$T/p.json")
	[ "$_code" = 200 ] || fail "POST with $2's token: $_code $(cat "$T/response")"
	_node=$(pg_psql -c "SELECT node_id FROM payloads ORDER BY id DESC LIMIT 1")
	[ "$_node" = "$3" ] || fail "$2's token stored the payload for node $_node, not $3"
}
sent_by "$GFZ_TOKEN" GFZ 1
sent_by "$ODC_TOKEN" ODC 2
sent_by "$NOA_TOKEN" NOA 3
# The shared value now belongs to GFZ alone: the same payload again is GFZ's duplicate.
ES_TOKEN=$SHARED
[ "$(submit "$T/p.json")" = 409 ] || fail "the shared token is not GFZ's: $(cat "$T/response")"
for bad in "$OLD" ffffffffffffffffffffffffffffffff "$(printf %s "$GFZ_TOKEN" | cut -c1-31)" \
	"${GFZ_TOKEN}0"; do
	ES_TOKEN=$bad
	[ "$(submit "$T/p.json")" = 403 ] || fail "token '$bad' was not refused: $(cat "$T/response")"
done
[ "$(pg_psql -c "SELECT count(*) FROM payloads")" = 3 ] || fail "refused tokens stored payloads"
ingestd_stop
exit 0
