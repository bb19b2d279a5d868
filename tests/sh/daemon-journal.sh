#!/bin/sh
# Under systemd (stderr is the stream JOURNAL_STREAM names) eidastatsd logs to
# journald with the fields EIDASTATS_FILE= and EIDASTATS_PAYLOAD=. The journal is a
# stand-in socket at /run/systemd/journal/socket in a private mount namespace, so the
# machine's own /run is never touched.
. "$top_srcdir/tests/sh/lib.sh"
[ "$(id -u)" = 0 ] || skip "a private mount namespace needs root"
command -v unshare >/dev/null 2>&1 || skip "unshare is not installed"
grep -q "define HAVE_SYSTEMD 1" "$top_builddir/config.h" || skip "built without libsystemd"
unshare --mount --propagation private true 2>/dev/null || skip "mount namespaces are not available"

mkdir -p "$T/logs" "$T/state"
cp "$DATA/upstream-sample/test.log.bz2" "$T/logs/fdsnws-requests.log.2020-09-18.bz2"
touch -d '2 hours ago' "$T/logs/fdsnws-requests.log.2020-09-18.bz2"
cat >"$T/cfg.yaml" <<CFG
log_directory: $T/logs
state_directory: $T/state
control_socket: $T/ctl.sock
settle: 1s
networks:
  url: none
  file: $DATA/upstream-sample/networks.json
CFG
cat >"$T/inner.sh" <<'INNER'
set -u
mount -t tmpfs tmpfs /run || exit 3
mkdir -p /run/systemd/journal
python3 "$RECV" /run/systemd/journal/socket "$T/journal.out" &
rpid=$!
n=0
while [ ! -S /run/systemd/journal/socket ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ -S /run/systemd/journal/socket ] || exit 5
: >"$T/stderr"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/stderr") "$ESD" -c "$T/cfg.yaml" --foreground 2>>"$T/stderr" &
dpid=$!
n=0
while ! grep -q '^EIDASTATS_PAYLOAD=' "$T/journal.out" 2>/dev/null && [ $n -lt 300 ]; do
	sleep 0.1; n=$((n + 1))
done
kill "$dpid"; wait "$dpid"; st=$?
# The daemon has exited, so all it sent is queued: the receiver reads the
# queue to the end on SIGTERM before it exits (status 0).
kill "$rpid"; wait "$rpid" || exit 4
exit $st
INNER
T=$T ESD=$top_builddir/src/eidastatsd/eidastatsd RECV=$top_srcdir/tests/daemon/journalrecv.py \
	unshare --mount --propagation private sh "$T/inner.sh" ||
	{ cat "$T/stderr" >&2; fail "the daemon in the namespace failed (status $?)"; }

J=$T/journal.out
check "entries reached the journal" test -s "$J"
check "the file counted is named in EIDASTATS_FILE" \
	grep -qx 'EIDASTATS_FILE=fdsnws-requests.log.2020-09-18.bz2' "$J"
check "its payload is named in EIDASTATS_PAYLOAD" grep -qx 'EIDASTATS_PAYLOAD=0000000000000001' "$J"
check "the message says what happened" grep -q '^MESSAGE=.*counted: 200 lines' "$J"
check "with a priority" grep -qx 'PRIORITY=6' "$J"
check "the stop is logged too" grep -q '^MESSAGE=.*stopp' "$J"
grep -q 'counted' "$T/stderr" && fail "under systemd the log went to stderr as well"
echo "journald entries carry the fields"
