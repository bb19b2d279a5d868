#!/bin/sh
# The control socket drops silent clients (issue 7, defect 7): CTL_MAX_CLIENTS
# connections that never send a command must not hold every slot forever; a
# real client then gets its answer, and every silent one was closed by the
# daemon.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

command -v python3 >/dev/null || skip "python3 is needed for the silent clients"
esd_config
esd_start

# 32 silent clients; the script prints "connected" once all are in, then
# "dropped N" when the daemon has closed all of them (or at its deadline).
python3 - "$ESD_SOCK" 32 >"$T/silent.out" 2>&1 <<'PY' &
import select, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
print("connected", flush=True)
open_socks, deadline = set(socks), time.time() + 60
while open_socks and time.time() < deadline:
    r, _, _ = select.select(list(open_socks), [], [], 0.5)
    for s in r:
        if not s.recv(4096):
            open_socks.discard(s)
print("dropped", n - len(open_socks), flush=True)
PY
SILENT=$!
bg_track "$SILENT"
wait_until 20 grep -q connected "$T/silent.out" || fail "the silent clients did not connect"
# While they hold every slot a real client is refused; once they are
# dropped it is answered.
wait_until 40 esd_answers || fail "a real client got no answer while silent clients held the slots"
wait_until 40 grep -q dropped "$T/silent.out" || fail "the silent-client script did not finish"
grep -q "dropped 32" "$T/silent.out" || fail "silent clients left open: $(cat "$T/silent.out")"
esd_get version >/dev/null || fail "status after the silent clients"
esd_stop
