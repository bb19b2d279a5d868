#!/bin/sh
# The daemon's service-manager protocol (sd_notify), checked from the
# manager's side: tests/daemon/notifyrecv listens on $NOTIFY_SOCKET as
# systemd would.  READY=1 once it listens, STATUS= lines with its counts,
# WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP,
# STOPPING=1 on SIGTERM.  Also: the unit file passes systemd-analyze verify
# (tests/sh/daemon-unitfile.sh), and --check-config / --version work.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

NOTIFY=$T/notify.out
"$TOOLS/notifyrecv" "$T/notify.sock" "$NOTIFY" &
bg_track $!
wait_until 10 test -S "$T/notify.sock" || fail "notifyrecv did not start"

esd_config
NOTIFY_SOCKET=$T/notify.sock
WATCHDOG_USEC=400000
export NOTIFY_SOCKET WATCHDOG_USEC
esd_start
unset NOTIFY_SOCKET WATCHDOG_USEC
wait_until 10 grep -q '^READY=1$' "$NOTIFY" || fail "no READY=1"
wait_until 10 grep -q '^STATUS=files: 0 done, 0 waiting, 0 failed; spool: 0 pending$' "$NOTIFY" ||
	{ cat "$NOTIFY" >&2; fail "no STATUS= line"; }
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2020-09-18.bz2"
esd_wait 20 files_counted 1
wait_until 10 grep -q '^STATUS=files: 1 done, 0 waiting, 0 failed; spool: 1 pending$' "$NOTIFY" ||
	{ cat "$NOTIFY" >&2; fail "STATUS= does not follow the work"; }
# 0.2 s period: the pings keep coming; five more arrive (10 s deadline, so a
# loaded machine that delays the daemon's loop does not fail the test).
pings() { grep -c '^WATCHDOG=1$' "$NOTIFY"; }
pings_ge() { [ "$(pings)" -ge "$1" ]; }
before=$(pings)
wait_until 10 pings_ge $((before + 5)) ||
	fail "watchdog pings: $before, then only $(pings) 10 s later"

# A second daemon on the same control socket refuses to start (exit 2) and
# leaves the first one alone.
"$ESD_BIN_DEFAULT" --foreground -c "$ESD_CONF" >"$T/second.out" 2>&1
rc=$?
check "a second daemon exits 2 (got $rc)" test "$rc" = 2
grep -q "another eidastatsd uses the state directory $ESD_STATE" "$T/second.out" ||
	fail "second daemon: $(cat "$T/second.out")"
esd_answers || fail "the first daemon lost its socket"
# Another state directory but the same socket: refused as well.
mkdir "$T/state2"
sed "s|^state_directory: .*|state_directory: $T/state2|" "$ESD_CONF" >"$T/other.yaml"
"$ESD_BIN_DEFAULT" --foreground -c "$T/other.yaml" >"$T/second.out" 2>&1
rc=$?
check "a second daemon on the same socket exits 2 (got $rc)" test "$rc" = 2
grep -q "another eidastatsd answers on $ESD_SOCK" "$T/second.out" || fail "second daemon: $(cat "$T/second.out")"
esd_answers || fail "the first daemon stopped answering"

kill -HUP "$ESD_PID"
wait_until 10 sh -c "grep -n . '$NOTIFY' | grep -A50 'RELOADING=1' | grep -q 'READY=1'" ||
	{ cat "$NOTIFY" >&2; fail "no RELOADING=1 then READY=1 on SIGHUP"; }

# eidastats status: the configuration names the socket; --json passes through.
"$ES_CLI" status -c "$ESD_CONF" --json | "$TOOLS/jget" files.done | grep -qx 1 || fail "status -c --json"
"$ES_CLI" status -c "$ESD_CONF" | grep -q '^files: *1 done' || fail "status -c"
"$ES_CLI" status -c "$ESD_CONF" --socket "$ESD_SOCK" >/dev/null 2>&1
check "status with both -c and --socket is a usage error" test $? = 1
"$ES_CLI" status --bogus >/dev/null 2>&1
check "status with a bad option is a usage error" test $? = 1
esd_stop
grep -q '^STOPPING=1$' "$NOTIFY" || fail "no STOPPING=1"
"$ES_CLI" status --socket "$ESD_SOCK" >"$T/unreach.out" 2>&1
check "status of a stopped daemon exits 5" test $? = 5
grep -q "cannot reach eidastatsd at $ESD_SOCK" "$T/unreach.out" || fail "unclear: $(cat "$T/unreach.out")"
esd_config "nonsense: 1"
"$ES_CLI" status -c "$ESD_CONF" >"$T/badconf.out" 2>&1
check "status with a bad configuration exits 1" test $? = 1
grep -q "nonsense" "$T/badconf.out" || fail "status: bad configuration not named"

# Without --foreground the daemon detaches: the command returns at once, the
# daemon answers, and SIGTERM to the pid it reports stops it.
esd_config
"$ESD_BIN_DEFAULT" -c "$ESD_CONF" >"$T/detach.out" 2>&1 || fail "detaching start failed: $(cat "$T/detach.out")"
wait_until 20 esd_answers || fail "the detached daemon does not answer"
dpid=$(esd_get pid)
check "the detached daemon is another process" test "$dpid" != "$$"
kill -TERM "$dpid"
wait_until 20 sh -c "! kill -0 $dpid 2>/dev/null" || fail "the detached daemon did not stop"
[ ! -e "$ESD_SOCK" ] || fail "the detached daemon left its socket"

# Options.
"$ESD_BIN_DEFAULT" --version | grep -q "^eidastatsd $(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")$" ||
	fail "--version"
"$ESD_BIN_DEFAULT" --no-such-option >/dev/null 2>&1
check "a bad option exits 1" test $? = 1
"$ESD_BIN_DEFAULT" -c "$T/missing.yaml" --check-config >"$T/missing.out" 2>&1 && fail "a missing file is valid"
grep -q "missing.yaml" "$T/missing.out" || fail "a missing file is not named: $(cat "$T/missing.out")"

# The unit file, with ExecStart pointing at this build.
sbindir=$(sed -n 's/^sbindir = //p' "$top_builddir/Makefile")
[ "$sbindir" = '${exec_prefix}/sbin' ] &&
	sbindir=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")/sbin
grep -q "^ExecStart=$sbindir/eidastatsd --foreground -c " "$top_builddir/systemd/eidastatsd.service" ||
	fail "the built unit does not start the installed eidastatsd"
for key in Type=notify WatchdogSec= NoNewPrivileges=yes ProtectSystem=strict StateDirectory=eidastats \
	RuntimeDirectory=eidastats User=eidastats ReadOnlyPaths= ExecReload=; do
	grep -q "^$key" "$top_builddir/systemd/eidastatsd.service" || fail "the unit lacks $key"
done
exit 0
