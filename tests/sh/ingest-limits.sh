#!/bin/sh
# eidastats-ingestd's limits take effect: a body over max_body and a gzip body
# that decompresses past max_decompressed are answered 413; an idle
# connection is closed after `timeout` seconds; a connection over
# max_connections is not served while the first ones stay open; `workers`
# HTTP threads run (the service's own threads, as the kernel lists them).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
central_start --workers 1 --max-body 2KiB --max-decompressed 4KiB --timeout 1 --max-connections 2
host=${ES_INGEST_BASE#http://}
host=${host%%/*}
port=${host##*:}

# max_body: 2049 bytes announced are refused before they are read; 2048 are read.
head -c 2049 /dev/zero | tr '\0' ' ' >"$T/over"
[ "$(submit "$T/over")" = 413 ] || fail "body of 2049 bytes over max_body 2KiB: $(cat "$T/response")"
grep -q 'larger than 2048 bytes' "$T/response" || fail "413 answer: $(cat "$T/response")"
head -c 2048 /dev/zero | tr '\0' ' ' >"$T/at"
[ "$(submit "$T/at")" = 400 ] || fail "body of 2048 spaces (not a payload) was not read: $(cat "$T/response")"

# max_decompressed: a gzip body far under max_body decompressing past 4 KiB.
{ printf '{"stats": ['; head -c 8192 /dev/zero | tr '\0' ' '; printf ']}'; } | gzip -c >"$T/big.gz"
[ "$(wc -c <"$T/big.gz")" -lt 2048 ] || fail "the gzip body is not under max_body"
[ "$(submit "$T/big.gz" POST -H 'Content-Encoding: gzip')" = 413 ] ||
	fail "gzip body over max_decompressed: $(cat "$T/response")"
grep -q 'decompressed body is larger than 4096 bytes' "$T/response" ||
	fail "413 answer: $(cat "$T/response")"


# conn.py MODE PORT: socket checks, each with a deadline; prints what it saw.
cat >"$T/conn.py" <<'PY'
import socket, sys
mode, port = sys.argv[1], int(sys.argv[2])
REQ = b"GET /eidaws/statistics/1/health HTTP/1.1\r\nHost: x\r\n\r\n"

def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=10)

def outcome(s, deadline):
    """answered (200), closed (EOF or reset), silent (nothing by the deadline) or other."""
    s.settimeout(deadline)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return "silent"
    except ConnectionResetError:
        return "closed"
    if not data:
        return "closed"
    return "answered" if data.startswith(b"HTTP/1.1 200") else "other"

def ask(s):
    s.sendall(REQ)
    return outcome(s, 10)

if mode == "idle":
    # Connects, sends nothing, waits for the service to close the connection.
    print(outcome(connect(), 30))
elif mode == "limit":
    a, b = connect(), connect()
    print("first", ask(a), ask(b))
    c = connect()   # the kernel's backlog takes it; the service must not serve it
    c.sendall(REQ)
    # The service answers the first two after the extra request arrived ...
    print("again", ask(a), ask(b))
    # ... and still has not answered the extra one.
    print("extra", outcome(c, 0.5))
    a.close()
    print("extra after a close", outcome(c, 10))
PY

# timeout: an idle connection is closed by the service (timeout 1 s).
got=$(python3 "$T/conn.py" idle "$port") || fail "conn.py idle"
[ "$got" = closed ] || fail "an idle connection with timeout 1 was not closed within 30 s: $got"
ingestd_stop

# max_connections (one thread, so the limit is not split between threads):
# two connections are served, a third is not while both stay open, and is
# once one of them closes.
ingestd_start --workers 1 --timeout 60 --max-connections 2
port=${ES_INGEST_BASE#http://127.0.0.1:}
port=${port%%/*}
python3 "$T/conn.py" limit "$port" >"$T/limit.out" 2>&1 || fail "conn.py limit: $(cat "$T/limit.out")"
printf 'first answered answered\nagain answered answered\nextra silent\nextra after a close answered\n' >"$T/limit.exp"
diff "$T/limit.exp" "$T/limit.out" >&2 || fail "max_connections 2 did not hold a third connection back"
ingestd_stop

# workers: the service runs that many HTTP threads (libmicrohttpd names its
# pool threads MHD-worker, its single thread MHD-single).
[ -d /proc/self/task ] || skip "no /proc/PID/task: the workers check did not run (all else passed)"
threads() { cat /proc/"$ES_INGESTD_PID"/task/*/comm | grep -c "^$1\$"; }
ingestd_start --workers 3
[ "$(threads MHD-worker)" = 3 ] || fail "workers 3: $(threads MHD-worker) MHD-worker threads"
[ "$(submit "$T/at")" = 400 ] || fail "workers 3: no answer"
ingestd_stop
ingestd_start --workers 1
[ "$(threads MHD-worker)" = 0 ] && [ "$(threads MHD-single)" = 1 ] ||
	fail "workers 1: threads $(tr '\n' ' ' </proc/"$ES_INGESTD_PID"/task/*/comm)"
ingestd_stop
exit 0
