#!/bin/sh
# Broken and oversized requests: headers larger than the connection's memory,
# a Content-Length longer or shorter than the body, chunked bodies without
# end (fast, to /submit and to an unknown path), chunk sizes that are not
# numbers or overflow.  Each gets its expected status or a closed connection
# within a deadline, nothing is stored, a good client on 127.0.0.2 keeps its
# answers and the service's memory stays bounded.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/hostile-lib.sh"

TO=3
hostile_start --workers 2 --max-body 64KiB --timeout $TO --header-timeout 3
good_start
db_state >"$T/db.before" || fail "db_state"
S="POST $PREFIX/submit HTTP/1.1\r\nHost: x\r\nAuthentication: Bearer $ES_TOKEN\r\n"

# expect WHAT PATTERN DEADLINE [SEND-OPTION]: $T/req sent from 127.0.0.1; the
# outcome (status line, closed or silent) must match PATTERN (case globs split by '|')
# within DEADLINE seconds.
expect() {
	_out=$(hostile send "$PORT" 127.0.0.1 "$3" ${4:-} <"$T/req") || fail "$1: the client failed"
	_first=$(echo "$_out" | head -n 1)
	_ms=$(echo "$_out" | sed -n 's/^ms=//p')
	echo "$1: $_first in $_ms ms"
	_old=$IFS
	IFS='|'
	for _p in $2; do
		# shellcheck disable=SC2254
		case "$_first" in
		$_p) IFS=$_old; return 0 ;;
		esac
	done
	IFS=$_old
	fail "$1: got '$_first', expected $2"
}

# Headers past the connection's memory (libmicrohttpd's 32 KiB): many, or one long line.
{ printf "GET $PREFIX/health HTTP/1.1\r\nHost: x\r\n"
  i=0; while [ $i -lt 2000 ]; do printf 'X-Pad-%d: %s\r\n' $i aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; i=$((i + 1)); done
  printf '\r\n'; } >"$T/req"
expect "2000 headers (80 KiB)" 'HTTP/1.1 431*' 10
{ printf "GET $PREFIX/health HTTP/1.1\r\nHost: x\r\nX-Long: "
  head -c 200000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$T/req"
expect "one header of 200 KB" 'HTTP/1.1 431*' 10

# Content-Length longer than the body: the service waits `timeout` seconds of silence, then closes.
printf "${S}Content-Length: 1000\r\n\r\n{\"stats\": [" >"$T/req"
expect "Content-Length 1000, 11 bytes sent" 'closed' $((TO + 10))
[ "$_ms" -ge $((TO * 1000 - 500)) ] || fail "closed after $_ms ms, before timeout $TO s"
# Shorter: the body is cut at Content-Length (not a payload: 400); the rest is
# a next request that is not HTTP (400, or closed).
printf "${S}Content-Length: 2\r\n\r\n{}GARBAGE GARBAGE\r\n\r\n" >"$T/req"
expect "Content-Length 2, 20 bytes sent" 'HTTP/1.1 400*' 10
# Chunked without end at full speed: 413 once past max_body, or closed.
printf "${S}Transfer-Encoding: chunked\r\n\r\n" >"$T/req"
expect "endless chunks to /submit" 'HTTP/1.1 413*|closed' 30 --endless-chunks
printf "POST $PREFIX/nowhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" >"$T/req"
expect "endless chunks to an unknown path" 'HTTP/1.1 404*|closed' 60 --endless-chunks
# Chunk sizes that are not numbers, or overflow.
printf "${S}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n" >"$T/req"
expect "chunk size 'zz'" 'HTTP/1.1 400*|closed' 10
printf "${S}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n" >"$T/req"
expect "chunk size 2^72" 'HTTP/1.1 4*|closed' 10

db_state >"$T/db.after" || fail "db_state"
cmp -s "$T/db.before" "$T/db.after" || fail "the database changed"
good_stop 3
mem_check 64 "broken headers and bodies"
ingestd_stop
exit 0
