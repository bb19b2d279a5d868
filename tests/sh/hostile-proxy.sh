#!/bin/sh
# Behind a proxy: X-Forwarded-For is honoured only from a trusted proxy
# (127.0.0.3), for max_queries_per_client (429 with Retry-After, as a query
# API error) and the access log; from any other peer it is ignored, so a
# client cannot escape its limit by writing the header.  Public answers
# carry Cache-Control by their end month.  A good client on 127.0.0.2 keeps
# its answers throughout.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/hostile-lib.sh"

python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.3", 0))' 2>/dev/null ||
	skip "127.0.0.3 cannot be bound here"
hostile_start --trusted-proxies '127.0.0.3, 10.0.0.0/8' --max-queries-per-client 1 --timeout 60
good_start
Q="dataselect/public?start=2021-01&level=node"

# from SRC XFF [QUERY]: GET as SRC with X-Forwarded-For XFF ("" none); prints the status.
from() {
	if [ -n "$2" ]; then
		api_get "${3:-$Q}" --interface "$1" -H "X-Forwarded-For: $2"
	else
		api_get "${3:-$Q}" --interface "$1"
	fi
}
# holder NAME SRC XFF: a restricted query whose body never comes, holding one
# query slot of its client until $T/NAME.stop exists.
holder() {
	printf 'POST %s/dataselect/restricted?start=2021-01 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: %s\r\nContent-Length: 100\r\n\r\n-----BEGIN' \
		"$PREFIX" "$3" >"$T/$1.req"
	hostile hold "$PORT" "$2" "$T/$1.stop" <"$T/$1.req" >"$T/$1.out" &
	echo $! >"$T/$1.pid"
}
# held NAME SRC XFF PSRC PXFF: true when a probe from PSRC/PXFF is refused (429)
# because holder NAME (from SRC/XFF) holds its client's slot.  A holder whose
# headers arrive while a probe of the same client is being answered finds the
# slot taken, gets 429 itself and leaves: it is started again, so the outcome
# does not depend on which of the two the server saw first.
held() {
	_hn=$1 _hs=$2 _hx=$3
	shift 3
	kill -0 "$(cat "$T/$_hn.pid")" 2>/dev/null || holder "$_hn" "$_hs" "$_hx"
	[ "$(from "$@")" = 429 ]
}
# hold NAME SRC XFF PSRC PXFF: waits (30 s) until held.
hold() {
	holder "$1" "$2" "$3"
	wait_until 30 held "$@" ||
		fail "holder $1 ($2, X-Forwarded-For '$3') never made $4 '$5' wait: status $(from "$4" "$5"), holder: $(cat "$T/$1.out")"
}
is() { [ "$(from "$@")" = "$_want" ]; }
# expect STATUS SRC XFF [QUERY]: the status, waiting up to 30 s for it (a holder may be on its way).
expect() {
	_want=$1
	shift
	wait_until 30 is "$@" ||
		fail "from $1 with X-Forwarded-For '$2': status $(from "$@"), expected $_want: $(head -c 200 "$T/body") (holders: $(cat "$T"/*.out 2>/dev/null | tr '\n' ' '))"
}

# A client behind the proxy holds its one query: its next is 429.
hold a 127.0.0.3 198.51.100.7 127.0.0.3 198.51.100.7
grep -qi '^Retry-After: 1' "$T/headers" || fail "429 without Retry-After: $(cat "$T/headers")"
[ "$(cat "$T/body")" = "<h1>429 Too Many Requests</h1><p>Too many concurrent queries from 198.51.100.7 (at most 1); try again when one has finished</p>" ] ||
	fail "429 body: $(cat "$T/body")"
expect 429 127.0.0.3 198.51.100.7 "$Q&format=json"
[ "$(cat "$T/body")" = '{"code": 429, "message": "Too many concurrent queries from 198.51.100.7 (at most 1); try again when one has finished"}' ] ||
	fail "429 JSON body: $(cat "$T/body")"
# Through two trusted proxies: still that client.
expect 429 127.0.0.3 "198.51.100.7, 10.1.2.3"
# Another client behind the same proxy, and an untrusted peer naming the held client: 200.
expect 200 127.0.0.3 198.51.100.8
expect 200 127.0.0.1 198.51.100.7
# A client left of an untrusted hop cannot borrow that hop's name: 203.0.113.1 counts.
expect 200 127.0.0.3 "198.51.100.7, 203.0.113.1"

# An untrusted peer that writes X-Forwarded-For is still itself: holding one
# query from 127.0.0.1, another one with another forged address is 429.
hold b 127.0.0.1 198.51.100.9 127.0.0.1 198.51.100.10
grep -q 'Too many concurrent queries from 127.0.0.1 ' "$T/body" || fail "429 names $(cat "$T/body")"

# The access log: the forwarded client with via=PROXY; the untrusted peer as itself.
grep -q 'access 198.51.100.8 via=127.0.0.3 "GET [^"]*/dataselect/public" 200 ' "$T/ingestd.log" ||
	fail "no access line for 198.51.100.8 via 127.0.0.3"
grep -q 'access 198.51.100.7 via=127.0.0.3 "GET [^"]*/dataselect/public" 429 ' "$T/ingestd.log" ||
	fail "no access line for the 429 of 198.51.100.7"
grep -q 'access 127.0.0.1 "GET [^"]*/dataselect/public" 429 ' "$T/ingestd.log" ||
	fail "no access line for the 429 of 127.0.0.1"
! grep -q 'via=127.0.0.1' "$T/ingestd.log" || fail "X-Forwarded-For honoured from an untrusted peer"

# The holders go: their clients are served again.
touch "$T/a.stop" "$T/b.stop"
expect 200 127.0.0.3 198.51.100.7
expect 200 127.0.0.1 198.51.100.10

# Cache-Control: months all past: cache_max_age; open-ended: at most 60 s.
expect 200 127.0.0.1 "" "dataselect/public?start=2021-01&end=2021-12&level=node"
grep -qi '^Cache-Control: public, max-age=3600' "$T/headers" || fail "past months: $(cat "$T/headers")"
expect 200 127.0.0.1 "" "dataselect/public?start=2021-01&level=node"
grep -qi '^Cache-Control: public, max-age=60' "$T/headers" || fail "open-ended: $(cat "$T/headers")"
expect 400 127.0.0.1 "" "dataselect/public?level=node"
! grep -qi '^Cache-Control' "$T/headers" || fail "an error with Cache-Control: $(cat "$T/headers")"

good_stop 3
mem_check 32 "proxy"
ingestd_stop
exit 0
