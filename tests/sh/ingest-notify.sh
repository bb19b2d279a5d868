#!/bin/sh
# eidastats-ingestd speaks systemd's notify protocol (Type=notify in
# systemd/eidastats-ingestd.service.in), checked from the manager's side: a
# datagram socket made here as $NOTIFY_SOCKET records each message and, on
# READY=1, connects to the service's address at once, so READY=1 before the
# listener is up would show as a refused connection.  SIGHUP gives
# RELOADING=1 then READY=1 (also when the new settings are refused), SIGTERM
# STOPPING=1 and exit 0.  Without $NOTIFY_SOCKET, or with one nobody listens
# on, the service runs as before.  No database is needed: the service
# listens before it connects.
. "$top_srcdir/tests/sh/lib.sh"

INGESTD=$top_builddir/src/ingestd/eidastats-ingestd
grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/config.h" ||
	skip "built without libsystemd (--enable-systemd=no): no sd_notify"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

# The recorder: one line per message ("READY=1 connect=ok" for READY=1).
cat >"$T/notify.py" <<'PY'
import socket, sys
path, out, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
while True:
    msg = s.recv(4096).decode("utf-8", "replace")
    for line in msg.split("\n"):
        if not line:
            continue
        if line == "READY=1":
            c = socket.socket()
            c.settimeout(2)
            try:
                c.connect(("127.0.0.1", port))
                line += " connect=ok"
            except OSError as e:
                line += " connect=" + type(e).__name__
            c.close()
        with open(out, "a") as f:
            f.write(line + "\n")
PY
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NOTIFY=$T/notify.out
: >"$NOTIFY"
python3 "$T/notify.py" "$T/notify.sock" "$NOTIFY" "$port" &
bg_track $!
wait_until 10 test -S "$T/notify.sock" || fail "the notify recorder did not start"

printf 'db: "host=%s/no-such-dir dbname=none"\nlisten: 127.0.0.1:%s\nruntime_dir: %s/run\n' \
	"$T" "$port" "$T" >"$T/ingestd.yaml"
NOTIFY_SOCKET=$T/notify.sock "$INGESTD" --config "$T/ingestd.yaml" 2>"$T/ingestd.log" &
pid=$!
bg_track $pid
wait_until 10 grep -q '^READY=1' "$NOTIFY" || fail "no READY=1: $(cat "$T/ingestd.log")"
check "READY=1 came when the listener was up: $(cat "$NOTIFY")" \
	test "$(cat "$NOTIFY")" = "READY=1 connect=ok"
grep -q "listening on 127.0.0.1:$port" "$T/ingestd.log" || fail "log: $(cat "$T/ingestd.log")"

# lines N: waits until the recorder holds N lines.
lines() { wait_until 10 sh -c '[ "$(wc -l <"$1")" -ge "$2" ]' _ "$NOTIFY" "$1"; }

# A good reload: RELOADING=1, the settings, then READY=1 again.
printf 'max_stats: 7\n' >>"$T/ingestd.yaml"
kill -HUP $pid
lines 3 || fail "no RELOADING/READY after SIGHUP: $(cat "$NOTIFY")"
check "reload: $(cat "$NOTIFY")" test "$(sed -n 2,3p "$NOTIFY" | tr '\n' ' ')" = \
	"RELOADING=1 READY=1 connect=ok "
grep -q 'SIGHUP: settings reloaded' "$T/ingestd.log" || fail "log: $(cat "$T/ingestd.log")"

# A refused reload keeps the running settings, and says READY=1 all the same
# (the service never stays "reloading").
printf 'max_stats: many\n' >>"$T/ingestd.yaml"
kill -HUP $pid
lines 5 || fail "no RELOADING/READY after a refused reload: $(cat "$NOTIFY")"
check "refused reload: $(cat "$NOTIFY")" test "$(sed -n 4,5p "$NOTIFY" | tr '\n' ' ')" = \
	"RELOADING=1 READY=1 connect=ok "
grep -q 'reload refused, the running settings are kept' "$T/ingestd.log" ||
	fail "log: $(cat "$T/ingestd.log")"

kill -TERM $pid
wait $pid
rc=$?
check "exit status after SIGTERM (got $rc)" test "$rc" = 0
lines 6 || fail "no STOPPING=1: $(cat "$NOTIFY")"
check "STOPPING=1 last: $(cat "$NOTIFY")" test "$(sed -n '6p' "$NOTIFY")" = STOPPING=1
check "six messages: $(cat "$NOTIFY")" test "$(wc -l <"$NOTIFY")" = 6

# Without a manager (no $NOTIFY_SOCKET, or a socket nobody listens on) it runs
# and stops as before.
for sock in "" "$T/nobody.sock"; do
	: >"$T/plain.log"
	NOTIFY_SOCKET=$sock "$INGESTD" --db "host=$T/no-such-dir" --listen 127.0.0.1:0 \
		--runtime-dir "$T/run" 2>"$T/plain.log" &
	pid=$!
	bg_track $pid
	wait_until 10 grep -q 'listening on' "$T/plain.log" ||
		fail "NOTIFY_SOCKET='$sock': did not start: $(cat "$T/plain.log")"
	kill -TERM $pid
	wait $pid
	rc=$?
	check "NOTIFY_SOCKET='$sock': exit status after SIGTERM (got $rc)" test "$rc" = 0
done
echo "notify protocol checked"
