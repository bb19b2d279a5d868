#!/bin/sh
# eidastats-ingestd's memory budget (max_in_flight): a request whose body
# would pass it is answered 503 with Retry-After, whether the body's length
# is announced, chunked or only known once decompressed; nothing is stored,
# the budget is given back and the service keeps answering.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

central_start --max-in-flight 4KiB
grep -q 'max_in_flight (4096 bytes) is less than max_body + max_decompressed' "$T/ingestd.log" ||
	fail "no warning about the small budget: $(cat "$T/ingestd.log")"

# busy CURL-ARG...: a POST answered 503 with Retry-After, the database unchanged.
busy() {
	db_state >"$T/before" || fail "db_state"
	_got=$(curl -s -D "$T/headers" -o "$T/response" -w '%{http_code}' -X POST \
		-H "Authentication: Bearer $ES_TOKEN" "$@" "$ES_SUBMIT_URL")
	[ "$_got" = 503 ] || fail "status $_got, expected 503 for: $* ($(cat "$T/response"))"
	grep -q 'max_in_flight' "$T/response" || fail "answer '$(cat "$T/response")' for: $*"
	grep -qi '^Retry-After: [0-9][0-9]*' "$T/headers" || fail "503 without Retry-After for: $*"
	db_state >"$T/after" || fail "db_state"
	cmp -s "$T/before" "$T/after" || fail "the database changed after: $*"
}

payload_from_expected "$DATA/edge-cases/expected.json" "$T/big.json"
[ "$(wc -c <"$T/big.json")" -gt 4096 ] || fail "the big payload is not bigger than the budget"
busy --data-binary "@$T/big.json"
busy --data-binary "@$T/big.json" -H 'Transfer-Encoding: chunked'
# 64 KiB that compress to far less than the budget.
{ printf '{"stats": ['; head -c 65536 /dev/zero | tr '\0' ' '; printf ']}'; } | gzip -c >"$T/spaces.gz"
[ "$(wc -c <"$T/spaces.gz")" -lt 2048 ] || fail "the gzip body is not small"
busy --data-binary "@$T/spaces.gz" -H 'Content-Encoding: gzip'
grep -q '" 503 .*max_in_flight' "$T/ingestd.log" || fail "the access log lacks the 503"

# Many refusals later the budget is whole again: a small payload is stored.
i=0
while [ $i -lt 20 ]; do
	busy --data-binary "@$T/big.json"
	i=$((i + 1))
done
payload_from_expected "$DATA/null-country/expected.json" "$T/small.json"
[ "$(submit "$T/small.json")" = 200 ] || fail "small payload after the refusals: $(cat "$T/response")"
db_expect "$ES_NODE_ID" "$T/small.json" || fail "the small payload was not stored"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ES_INGEST_BASE/health")" = 200 ] || fail "health"
ingestd_stop

# With the default budget the same big payload is stored.
ingestd_start
[ "$(submit "$T/big.json")" = 200 ] || fail "big payload with the default budget: $(cat "$T/response")"
ingestd_stop
exit 0
