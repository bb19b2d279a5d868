#!/bin/sh
# --send-to against a real HTTP listener on 127.0.0.1 that records what it receives.
. "$top_srcdir/tests/sh/lib.sh"
S=$DATA/upstream-sample
mkdir -p "$T/out"

# listen STATUS ANSWER: starts a recorder in $T/req-STATUS, sets $URL.
listen() {
	mkdir -p "$T/req-$1"
	python3 "$top_srcdir/tests/sh/http_recorder.py" "$T/port-$1" "$T/req-$1" "$1" "$2" &
	bg_track $!
	wait_until 10 test -s "$T/port-$1" || fail "the HTTP recorder did not start"
	URL="http://127.0.0.1:$(cat "$T/port-$1")/eidaws/statistics/1/submit"
}

listen 200 "Statistic successfully ingested to database!"
TOKEN=s3cret eidastats aggregate --networks "$S/networks.json" -o "$T/out" --send-to "$URL" \
	"$S/test.log.bz2" 2>"$T/err" || { cat "$T/err" >&2; fail "send with a 200 answer failed"; }
R=$T/req-200
check "one request was made" test -f "$R/1.body" -a ! -f "$R/2.body"
check "it was a POST" grep -qx POST "$R/1.method"
check "to the path given" grep -qx /eidaws/statistics/1/submit "$R/1.path"
check "with upstream's Authentication header and the token from \$TOKEN" \
	grep -qx "Authentication: Bearer s3cret" "$R/1.headers"
check "as JSON" grep -qx "Content-Type: application/json" "$R/1.headers"
gzip -dc "$T/out/2020-09-18_2020-09-18.json.gz" >"$T/file.json"
cmp "$R/1.body" "$T/file.json" || fail "the body sent differs from the payload file"
check "the answer is shown" grep -q "Statistic successfully ingested" "$T/err"

# --token wins over $TOKEN (the recorder numbers requests from 1 for its whole life).
TOKEN=env eidastats aggregate --networks "$S/networks.json" -o "$T/out" --token flag \
	--send-to "$URL" "$S/test.log" 2>"$T/err" || fail "send with --token failed"
check "--token is used" grep -qx "Authentication: Bearer flag" "$R/2.headers"

# A non-2xx answer: shown, exit 4, the file stays written (upstream exits 0).
listen 400 "This statistic already exists on the server. Refusing to merge"
rm -f "$T/out"/*
eidastats aggregate --networks "$S/networks.json" -o "$T/out" --token t --send-to "$URL" \
	"$S/test.log" 2>"$T/err"
st=$?
[ "$st" = 4 ] || { cat "$T/err" >&2; fail "a 400 answer gave exit $st, expected 4"; }
check "the status is shown" grep -q "HTTP 400" "$T/err"
check "the answer is shown" grep -q "already exists on the server" "$T/err"
check "the payload file stays" test -s "$T/out/2020-09-18_2020-09-18.json.gz"

# Nobody listening: exit 4, the file stays.
rm -f "$T/out"/*
eidastats aggregate --networks "$S/networks.json" -o "$T/out" --token t \
	--send-to "http://127.0.0.1:9/submit" "$S/test.log" 2>"$T/err"
st=$?
[ "$st" = 4 ] || { cat "$T/err" >&2; fail "an unreachable server gave exit $st, expected 4"; }
check "the failure is explained" grep -q "sending to http://127.0.0.1:9/submit failed" "$T/err"
check "the payload file stays" test -s "$T/out/2020-09-18_2020-09-18.json.gz"
echo "send behaves"
