#!/bin/sh
# Tokens megabytes long: on /dataselect/restricted (announced, chunked,
# endless, eight at once) 413 or a closed connection, fast; on /submit (a
# bearer token in a header far past the connection's memory) 431, and one
# within it but unknown 403.  Nothing stored, a good client on 127.0.0.2
# keeps its answers, memory bounded, and a real token still works after.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/hostile-lib.sh"
command -v gpg >/dev/null 2>&1 || skip "gpg not installed (Debian package gnupg)"

G=$T/g
mkdir -m 700 "$G" "$G/eas" "$G/ring" "$T/run"
es_at_exit "gpgconf --homedir '$G/eas' --kill gpg-agent 2>/dev/null"
gpg --homedir "$G/eas" --batch -q --passphrase '' --quick-gen-key "eas <eas@example.org>" ed25519 sign 1y \
	2>/dev/null || fail "gpg could not make a key"
gpg --homedir "$G/eas" --batch -q --armor --export >"$G/ring/eas.asc" || fail "gpg export"
printf '%s\n' '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Jo", "memberof": "/epos;/epos/z3"}' >"$G/member.txt"
gpg --homedir "$G/eas" --batch -q --yes --clearsign -o "$G/member" "$G/member.txt" 2>/dev/null || fail "gpg sign"

hostile_start --workers 4 --max-token 64KiB --max-in-flight 1MiB --timeout 5 \
	--eas-keyring "$G/ring" --runtime-dir "$T/run"
good_start
db_state >"$T/db.before" || fail "db_state"
R="$ES_INGEST_BASE/dataselect/restricted?start=2021-01&level=network"

# restricted FILE [CURL-OPTION...]: POST FILE as the token from 127.0.0.1; prints "STATUS SECONDS".
restricted() {
	_f=$1
	shift
	curl -s -o "$T/answer" -w '%{http_code} %{time_total}' --max-time 30 --interface 127.0.0.1 \
		--data-binary "@$_f" "$@" "$R"
}
# within WHAT "STATUS SECONDS" STATUSES MAX_SECONDS
within() {
	echo "$1: $2"
	case " $3 " in
	*" ${2%% *} "*) ;;
	*) fail "$1: status ${2%% *}, expected one of $3: $(head -c 200 "$T/answer")" ;;
	esac
	awk -v t="${2#* }" -v m="$4" 'BEGIN { exit !(t <= m) }' || fail "$1: took ${2#* } s (at most $4)"
}

# 4 MiB of token-like text: armour lines.
python3 -c 'import sys; sys.stdout.write("-----BEGIN PGP SIGNED MESSAGE-----\n" + "A" * (4 << 20))' >"$T/big"
within "4 MiB token, Content-Length" "$(restricted "$T/big")" 413 2
grep -q 'larger than 65536 bytes' "$T/answer" || fail "413 answer: $(cat "$T/answer")"
within "4 MiB token, chunked" "$(restricted "$T/big" -H 'Transfer-Encoding: chunked')" 413 5
printf "POST $PREFIX/dataselect/restricted?start=2021-01 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" >"$T/req"
got=$(hostile send "$PORT" 127.0.0.1 30 --endless-chunks <"$T/req") || fail "endless token client"
echo "endless chunked token: $(echo "$got" | tr '\n' ' ')"
case "$(echo "$got" | head -n 1)" in
"HTTP/1.1 413"*|closed) ;;
*) fail "endless chunked token: $got" ;;
esac

# Eight at once, chunked: 413, 503 while the others hold the budget, or 429
# beyond max_queries_per_client (4) while the others are read.
pids=""
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o /dev/null -w '%{http_code}' --max-time 30 --interface 127.0.0.1 \
		-H 'Transfer-Encoding: chunked' --data-binary "@$T/big" "$R" >"$T/par$i" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
echo "eight at once:$(for i in 1 2 3 4 5 6 7 8; do printf ' %s' "$(cat "$T/par$i")"; done)"
for i in 1 2 3 4 5 6 7 8; do
	case "$(cat "$T/par$i")" in
	413|503|429) ;;
	*) fail "parallel token $i: $(cat "$T/par$i")" ;;
	esac
done
grep -c '" 413 ' "$T/ingestd.log" >/dev/null || fail "no 413 in the access log"

# Submit: a 1 MiB bearer token (header past the connection's memory), in both headers.
tok=$(head -c 1048576 /dev/zero | tr '\0' a)
for h in Authentication Authorization; do
	printf 'POST %s/submit HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n%s: Bearer %s\r\n\r\n{}' \
		"$PREFIX" "$h" "$tok" >"$T/req"
	got=$(hostile send "$PORT" 127.0.0.1 10 <"$T/req") || fail "client"
	echo "submit, 1 MiB token in $h: $(echo "$got" | tr '\n' ' ')"
	case "$(echo "$got" | head -n 1)" in
	"HTTP/1.1 431"*) ;;
	*) fail "submit with a 1 MiB token in $h: $got" ;;
	esac
done
# 16 KiB: within the connection's memory, unknown: 403 at once.
st=$(curl -s -o "$T/answer" -w '%{http_code} %{time_total}' --interface 127.0.0.1 \
	-H "Authentication: Bearer $(head -c 16384 /dev/zero | tr '\0' b)" --data-binary '{}' "$ES_SUBMIT_URL")
within "submit, 16 KiB unknown token" "$st" 403 2

db_state >"$T/db.after" || fail "db_state"
cmp -s "$T/db.before" "$T/db.after" || fail "the database changed"
good_stop 3
mem_check 64 "long tokens"
# The budget is whole again and a real token works.
within "a real token after" "$(restricted "$G/member")" 200 10
ingestd_stop
exit 0
