#!/bin/sh
# api-restricted.sh - POST PREFIX/dataselect/restricted on a real
# eidastats-ingestd with a real GnuPG keyring made here: tokens valid,
# operator's, expired, signed by another key, with text appended after the
# signature, without memberof, not JSON; rows compared with answers computed
# from the payloads (tests/sh/api_oracle.py) for members and operators at
# every level, with wildcards; 405 with Allow, 413 for a token of several
# megabytes, the keyring re-imported on SIGHUP, and a service without a
# keyring that answers 401 and says so at start.  Exit 0 pass, 77 skip,
# else fail.
. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/api-lib.sh"
command -v gpg >/dev/null 2>&1 || skip "gpg not installed (Debian package gnupg)"

G=$T/g
mkdir -m 700 "$G" "$G/eas" "$G/other" "$G/ring" "$T/run"
es_at_exit "gpgconf --homedir '$G/eas' --kill gpg-agent 2>/dev/null; gpgconf --homedir '$G/other' --kill gpg-agent 2>/dev/null"
for k in eas other; do
	gpg --homedir "$G/$k" --batch -q --passphrase '' --quick-gen-key "$k <$k@example.org>" ed25519 sign 1y \
		2>/dev/null || fail "gpg could not make a key"
done
gpg --homedir "$G/eas" --batch -q --armor --export >"$G/ring/eas.asc" || fail "gpg export"
token() { # KEY FILE SIGNED-TEXT
	printf '%s\n' "$3" >"$G/$2.txt"
	gpg --homedir "$G/$1" --batch -q --yes --clearsign -o "$G/$2" "$G/$2.txt" 2>/dev/null || fail "gpg sign"
}
token eas member '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Jo", "memberof": "/epos;/epos/z3"}'
token eas plain '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Al", "memberof": "/epos"}'
token eas op '{"valid_until": "2099-01-01T00:00:00.1Z", "memberof": "/epos;/op/n1"}'
token eas expired '{"valid_until": "2020-01-01T00:00:00.123456Z", "memberof": "/op/n1"}'
token eas nogroups '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Jo"}'
token eas notjson 'valid_until=2099'
token other wrongkey '{"valid_until": "2099-01-01T00:00:00.1Z", "memberof": "/op/n1"}'
cp "$G/plain" "$G/appended"
printf '%s\n' ', "memberof": "/op/n1"}' >>"$G/appended"
: >"$G/empty"

api_start --eas-keyring "$G/ring" --runtime-dir "$T/run"
grep -q "eas_keyring .*1 key" "$T/ingestd.log" || fail "keyring import not logged: $(cat "$T/ingestd.log")"
R=dataselect/restricted
post() { # TOKEN QUERY [CURL-OPTION...]: status; body in $T/body
	_tok=$1
	_q=$2
	shift 2
	_last_status=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' \
		-H 'Content-Type: application/octet-stream' --data-binary "@$G/$_tok" "$@" "$ES_INGEST_BASE/$R?$_q")
	echo "$_last_status"
}
rows() { # TOKEN GROUPS QUERY
	_st=$(post "$1" "$3")
	[ "$_st" = 200 ] || fail "$1 $3: status $_st: $(head -c 300 "$T/body")"
	api_check restricted "$3" "$2"
}

# A member of /epos/z3 sees Z3; node3's undefined QQ is folded; down to channel level.
for q in \
	"start=2021-01&level=network" \
	"start=2021-01&level=network&details=month,country" \
	"start=2021-01&network=Z3&level=channel" \
	"start=2021-01&network=Z3&station=*1&level=station&details=month" \
	"start=2021-01&network=FR&station=A*&channel=HH?&level=channel&details=country" \
	"start=2021-01&network=GE&level=location&format=json&hllvalues=true"; do
	rows member "/epos;/epos/z3" "$q"
done
grep -q Other "$T/body" && fail "member: Other row for GE: $(cat "$T/body")"
rows member "/epos;/epos/z3" "start=2021-01&level=network"
grep -q '^\*,node1,Z3,' "$T/body" || fail "member does not see Z3"
grep -q '^\*,Other,Other,' "$T/body" || fail "member: QQ (no policy) not folded"
# Without the group: Z3 folded too.
rows plain "/epos" "start=2021-01&level=network&details=year"
grep -q ',node1,Z3,' "$T/body" && fail "Z3 shown to a non-member"
# Text appended after the signature claims the operators' group: ignored.
cp "$T/body" "$T/plain.body"
rows appended "/epos" "start=2021-01&level=network&details=year"
cmp -s "$T/body" "$T/plain.body" || fail "text after the signature changed the answer"
# Operators: every network, comma lists, no folding, no network needed.
for q in \
	"start=2021-01&level=station" \
	"start=2021-01&network=FR,Z3&level=network&details=month" \
	"start=2021-01&network=Q*,G?&level=channel&details=country"; do
	rows op "/epos;/op/n1" "$q"
done
grep -q Other "$T/body" && fail "operator got Other rows"
# Without memberof: no groups, a valid caller.
rows nogroups "" "start=2021-01&level=network"

# Errors.
expect_post() { # STATUS TEXT TOKEN QUERY [CURL-OPTION...]
	_s=$1
	_t=$2
	shift 2
	post "$@" >/dev/null
	expect_body "$_s" "$_t" "$1 $2"
}
NONET="<h1>400 Bad Request</h1><p>For non-operator users, 'network' parameter is required below network level or whenever any of the 'station', 'location', 'channel' parameters are specified</p>"
expect_post 401 "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" empty "start=2021-01"
expect_post 401 "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" wrongkey "start=2021-01"
expect_post 401 "<h1>401 Unauthorized</h1><p>Malformed token file provided</p>" notjson "start=2021-01"
expect_post 401 "<h1>401 Unauthorized</h1><p>Token has expired!</p>" expired "start=2021-01"
expect_post 401 '{"code": 401, "message": "Token has expired!"}' expired "start=2021-01&format=json"
# The token is checked before the parameters.
expect_post 401 "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" wrongkey "wrong=1"
expect_post 400 "$NONET" plain "start=2021-01&level=station"
expect_post 400 "$NONET" plain "start=2021-01&station=A1"
expect_post 403 "<h1>403 Forbidden</h1><p>User has no access to the requested network</p>" plain "start=2021-01&network=Z3"
expect_post 403 "<h1>403 Forbidden</h1><p>User has no access to the requested network</p>" member "start=2021-01&network=QQ"
expect_post 400 "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>" plain "start=2021-01&network=FR,GE"
# (The pre-check looks the network up as given: a wildcard only works for operators.)
expect_post 400 "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>" member "start=2021-01&network=Z*"
expect_post 400 "<h1>400 Bad Request</h1><p>Invalid parameter 'aggregate_on'</p>" plain "start=2021-01&aggregate_on=x"
expect_post 400 "<h1>400 Bad Request</h1><p>Specify at least 'start' parameter</p>" plain "level=node"
# Any Content-Type, never read as parameters (curl's default is form-encoded).
st=$(curl -s -o "$T/body" -w '%{http_code}' --data-binary "@$G/op" "$ES_INGEST_BASE/$R?start=2021-01")
[ "$st" = 200 ] || fail "form-encoded token: $st $(cat "$T/body")"
api_check restricted "start=2021-01" "/epos;/op/n1"
# Other methods: 405, Allow: POST, upstream's text.
for m in GET PUT DELETE; do
	st=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" "$ES_INGEST_BASE/$R?start=2021-01")
	_last_status=$st
	expect_body 405 "<h1>405 Method Not Allowed</h1><p>Only POST method allowed</p>" "$m restricted"
	grep -qi '^allow: POST' "$T/headers" || fail "$m restricted: Allow: $(cat "$T/headers")"
done
# A token of several megabytes: 413 (with and without Content-Length); the service goes on.
head -c 5000000 /dev/zero | tr '\0' 'A' >"$G/huge"
st=$(post huge "start=2021-01")
[ "$st" = 413 ] || fail "huge token: $st"
grep -q 'larger than 65536 bytes' "$T/body" || fail "huge token: $(cat "$T/body")"
st=$(post huge "start=2021-01" -H 'Transfer-Encoding: chunked')
[ "$st" = 413 ] || fail "huge chunked token: $st"
rows member "/epos;/epos/z3" "start=2021-01&level=node"

# SIGHUP re-imports the keyring: the other key replaces the EAS key.
rm "$G/ring/eas.asc"
gpg --homedir "$G/other" --batch -q --armor --export >"$G/ring/other.asc" || fail "gpg export"
kill -HUP "$ES_INGESTD_PID"
wait_until 10 grep -q 'SIGHUP: settings reloaded' "$T/ingestd.log" || fail "no reload: $(cat "$T/ingestd.log")"
expect_post 401 "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" member "start=2021-01"
st=$(post wrongkey "start=2021-01&level=node")
[ "$st" = 200 ] || fail "a token of the new key after SIGHUP: $st $(cat "$T/body")"
ingestd_stop
ls "$T/run" | grep -q gnupg && fail "private GnuPG homes left in the runtime directory: $(ls "$T/run")"

# Without a keyring: 401 and one line at start.
ingestd_start
grep -q 'restricted queries are off' "$T/ingestd.log" || fail "no keyring: not logged"
expect_post 401 "<h1>401 Unauthorized</h1><p>Invalid token or no token file provided</p>" op "start=2021-01"
ingestd_stop
exit 0
