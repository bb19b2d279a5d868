#!/bin/sh
# query-eas.sh - restricted queries with real EIDA tokens: a key pair made
# here with gpg signs tokens (valid, operator, expired, wrong key, text
# appended after the signature claiming the operators' group, no memberof),
# and tests/query/qtool runs each through verification, the restriction map,
# the pre-check, the query and the folding on a real PostgreSQL.
# Exit 0 pass, 77 skip, else fail.

. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/pg.sh"
QTOOL=$top_builddir/tests/query/qtool
[ -x "$QTOOL" ] || fail "tests/query/qtool not built (make check builds it)"
command -v gpg >/dev/null 2>&1 || skip "gpg not installed (Debian package gnupg)"
mkdir -p "$T/db"
pg_start "$T/db" || exit $?
es_at_exit pg_stop

for f in "$top_srcdir"/sql/0*.sql; do
	pg_psql -1 -f "$f" >/dev/null 2>"$T/mig.err" || { cat "$T/mig.err"; fail "migration $f"; }
done
pg_psql >/dev/null <<'SQL' || fail "filling the database"
INSERT INTO nodes (name, restriction_policy, eas_group) VALUES ('N1', false, '/op/n1'), ('N2', true, NULL);
INSERT INTO networks (node_id, name, inverted_policy, eas_group) VALUES
	(1, 'FR', false, NULL), (1, 'Z3', true, '/epos/z3'), (2, 'GE', false, '/epos/ge');
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients) VALUES
	(1, '2021-01-01', 'FR', 'A', '', 'HHZ', 'GR', 1, 1, 1, 0, hll_add(hll_empty(11, 5), hll_hash_integer(1))),
	(1, '2021-01-01', 'Z3', 'B', '', 'HHZ', 'GR', 10, 1, 1, 0, hll_add(hll_empty(11, 5), hll_hash_integer(2))),
	(2, '2021-01-05', 'GE', 'C', '', 'HHZ', 'DE', 100, 1, 1, 0, hll_add(hll_empty(11, 5), hll_hash_integer(3)));
SELECT eidastats_rollup_rebuild();
SQL

# The EAS key (in the keyring) and another key (not in it).
G=$T/g
mkdir -m 700 "$G" "$G/eas" "$G/other" "$G/ring"
es_at_exit "gpgconf --homedir '$G/eas' --kill gpg-agent 2>/dev/null; gpgconf --homedir '$G/other' --kill gpg-agent 2>/dev/null"
for k in eas other; do
	gpg --homedir "$G/$k" --batch -q --passphrase '' --quick-gen-key "$k <$k@example.org>" ed25519 sign 1y \
		2>/dev/null || fail "gpg could not make a key"
done
gpg --homedir "$G/eas" --batch -q --armor --export >"$G/ring/eas.asc" || fail "gpg export"
token() { # $1 key, $2 file, $3 signed text
	printf '%s\n' "$3" >"$G/$2.txt"
	gpg --homedir "$G/$1" --batch -q --yes --clearsign -o "$G/$2" "$G/$2.txt" 2>/dev/null || fail "gpg sign"
}
token eas valid '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Jo", "memberof": "/epos;/epos/ge"}'
token eas op '{"valid_until": "2099-01-01T00:00:00.1Z", "memberof": "/epos;/op/n1"}'
token eas expired '{"valid_until": "2020-01-01T00:00:00.123456Z", "memberof": "/op/n1"}'
token eas nogroups '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Jo"}'
token eas notjson 'valid_until=2099'
token other wrongkey '{"valid_until": "2099-01-01T00:00:00.1Z", "memberof": "/op/n1"}'
cp "$G/valid" "$G/appended"
printf '%s\n' ', "memberof": "/op/n1"}' >>"$G/appended"
: >"$G/empty"

FAILS=0
note() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
run() { # $1 token file, $2 query; sets OUT and ST
	"$QTOOL" "$ES_DB" restricted "$2" --token "$G/$1" --keyring "$G/ring" --home "$G/home" \
		>"$T/out" 2>"$T/st" || note "qtool failed on $1 $2: $(cat "$T/st")"
	OUT=$(cat "$T/out")
	ST=$(tail -n 1 "$T/st")
}
Q="start=2021-01&level=network"
run valid "$Q"
[ "$ST" = "200 text/csv; charset=UTF-8" ] || note "valid token: $ST"
printf '%s\n' "$OUT" | grep -q '^\*,N2,GE,' || note "valid token: GE (its group) not shown: $OUT"
printf '%s\n' "$OUT" | grep -q '^\*,Other,Other,\*,\*,\*,\*,10,1,1,1$' || note "valid token: Z3 not folded: $OUT"
VALID_OUT=$OUT
run appended "$Q"
[ "$OUT" = "$VALID_OUT" ] || note "text appended after the signature changed the answer: $OUT"
run op "$Q"
printf '%s\n' "$OUT" | grep -q '^\*,N1,Z3,' || note "operator does not see Z3: $OUT"
printf '%s\n' "$OUT" | grep -q Other && note "operator got Other rows: $OUT"
run nogroups "$Q"
[ "$ST" = "200 text/csv; charset=UTF-8" ] || note "token without memberof: $ST"
printf '%s\n' "$OUT" | grep -q '^\*,Other,Other,\*,\*,\*,\*,110,2,2,2$' || note "no groups: $OUT"
run nogroups "start=2021-01&network=Z3&node=N1"
[ "$OUT" = "<h1>403 Forbidden</h1><p>User has no access to the requested network</p>" ] || note "403: $OUT"
run valid "start=2021-01&network=GE&level=station"
printf '%s\n' "$OUT" | grep -q '^\*,N2,GE,C,\*,\*,\*,100,1,1,1$' || note "station level of a granted network: $OUT"
run valid "start=2021-01&level=station"
[ "$OUT" = "<h1>400 Bad Request</h1><p>For non-operator users, 'network' parameter is required below network level or whenever any of the 'station', 'location', 'channel' parameters are specified</p>" ] \
	|| note "NONET: $OUT"
run expired "$Q&format=json"
[ "$OUT" = '{"code": 401, "message": "Token has expired!"}' ] || note "expired: $OUT"
run wrongkey "$Q"
[ "$OUT" = "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" ] || note "wrong key: $OUT"
run empty "$Q"
[ "$OUT" = "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" ] || note "no token: $OUT"
run notjson "$Q"
[ "$OUT" = "<h1>401 Unauthorized</h1><p>Malformed token file provided</p>" ] || note "not a token: $OUT"

[ "$FAILS" = 0 ] || fail "$FAILS checks failed"
exit 0
