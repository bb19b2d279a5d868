#!/bin/sh
# A request line whose query string overflows the connection's memory: the
# library drops that request before the service's handler sees it.  The
# service must free what it had prepared for it (under AddressSanitizer a
# leak makes its exit status non-zero, which ingestd_stop refuses), answer
# other clients, and stop cleanly.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
central_start
host=${ES_INGEST_BASE#http://}
host=${host%%/*}
port=${host##*:}

cat >"$T/long.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
query = "&".join("p%d=%d" % (i, i) for i in range(n))
req = ("GET /eidaws/statistics/1/dataselect/public?%s HTTP/1.1\r\nHost: x\r\n\r\n" % query).encode()
s = socket.create_connection(("127.0.0.1", port), timeout=30)
try:
    s.sendall(req)
except OSError:
    pass
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError:
    pass
print(got.split(b"\r\n", 1)[0].decode("latin-1") or "closed")
PY
for n in 600 3000 20000; do
	ans=$(python3 "$T/long.py" "$port" "$n") || fail "client with $n parameters"
	case "$ans" in
	"HTTP/1.1 4"*|closed) ;;
	*) fail "a query string of $n parameters: '$ans' (expected a 4xx or a closed connection)" ;;
	esac
	code=$(curl -s -o /dev/null -w '%{http_code}' "$ES_INGEST_BASE/health")
	[ "$code" = 200 ] || fail "health after $n parameters: $code"
done
ingestd_stop
echo "long query strings: refused, nothing kept, the service answered and stopped cleanly"
