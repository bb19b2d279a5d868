#!/bin/sh
# Slowloris: thousands of connections that never finish their headers.
# From one address, all but max_connections_per_ip are closed at once; from
# many addresses (more than max_connections together), each is closed
# header_timeout after it opened however slowly it keeps sending.  A good
# client on 127.0.0.2 keeps getting its answers within 10 s throughout, and
# the service's memory stays bounded.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/hostile-lib.sh"

N=3000
ulimit -n $((N + 256)) 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null
[ "$(ulimit -n)" -gt $((N + 100)) ] 2>/dev/null || skip "ulimit -n cannot reach $((N + 100))"

HT=2
hostile_start --workers 2 --max-connections 200 --max-connections-per-ip 20 --header-timeout $HT \
	--timeout 30
good_start

# 1. 3000 from 127.0.0.1, a header byte every 0.5 s (under header_timeout).
got=$(hostile slowloris "$PORT" $N 127.0.0.1 60 0.5) || fail "slowloris client"
echo "one address: $got"
case "$got" in
*" open=0 "*) ;;
*) fail "one address: connections still open after 60 s: $got" ;;
esac
life=${got##*max_life_ms=}
[ "$life" -le $(((HT + 3) * 1000)) ] ||
	fail "one address: a connection lived $life ms (header_timeout ${HT} s)"
# field NAME: a figure of $got.
field() { _v=${got##*$1=}; echo "${_v%% *}"; }
[ "$(field opened)" -le 20 ] || fail "one address: $(field opened) connections served (max_connections_per_ip 20)"
[ $(($(field opened) + $(field refused))) = $N ] || fail "one address: not all $N accounted for: $got"

# 2. 600 from 30 addresses, 20 each: more than max_connections (200).
srcs=$(seq -s, -f '127.0.1.%g' 1 30)
got=$(hostile slowloris "$PORT" 600 "$srcs" 60 0.5) || fail "slowloris client"
echo "30 addresses: $got"
case "$got" in
*" open=0 "*) ;;
*) fail "30 addresses: connections still open after 60 s: $got" ;;
esac
life=$(field max_life_ms)
opened=$(field opened)
[ "$opened" -ge 200 ] || fail "30 addresses: only $opened connections got through"
# Those held in the backlog while 200 were open start their header_timeout late.
[ "$life" -le $(((2 * HT + 4) * 1000)) ] ||
	fail "30 addresses: a connection lived $life ms (header_timeout ${HT} s)"

good_stop 5
mem_check 64 "slowloris"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ES_INGEST_BASE/health")" = 200 ] || fail "health after"
ingestd_stop
exit 0
