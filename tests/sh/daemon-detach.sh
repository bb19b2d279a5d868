#!/bin/sh
# eidastatsd without --foreground (issue 7, defect 2): the command returns
# only once the daemon has started, and fails with the reason on stderr when
# start-up fails after the configuration was read (state directory unusable,
# state directory locked by another daemon).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

ESD=$ESD_BIN_DEFAULT

# 1. The state directory cannot be created (its parent is a file).
echo not-a-directory >"$T/file"
esd_config
sed -i "s|^state_directory: .*|state_directory: $T/file/state|" "$ESD_CONF"
rc=0
"$ESD" -c "$ESD_CONF" >"$T/out1" 2>"$T/err1" || rc=$?
[ "$rc" -ne 0 ] || fail "detached start with an unusable state directory exited 0"
grep -q "cannot create $T/file/state" "$T/err1" || { cat "$T/err1" >&2; fail "the reason is not on stderr"; }

# 2. The state directory is locked (another daemon uses it).
esd_config
flock "$ESD_STATE/lock" -c "'$ESD' -c '$ESD_CONF' >'$T/out2' 2>'$T/err2'; echo \$? >'$T/rc2'"
rc=$(cat "$T/rc2")
[ "$rc" -ne 0 ] || fail "detached start with the state directory locked exited 0"
grep -q "another eidastatsd uses the state directory" "$T/err2" ||
	{ cat "$T/err2" >&2; fail "the lock reason is not on stderr"; }
[ ! -e "$ESD_SOCK" ] || fail "a control socket was left behind"

# 3. A good start: exit 0 once the daemon answers; then stop it.
"$ESD" -c "$ESD_CONF" >"$T/out3" 2>"$T/err3" || { cat "$T/err3" >&2; fail "detached start failed"; }
esd_answers || fail "the detached daemon does not answer right after the command returned"
ESD_PID=$(esd_get pid)
[ -n "$ESD_PID" ] || fail "no pid in the status"
bg_track "$ESD_PID"
kill -TERM "$ESD_PID"
wait_until 30 sh -c "! kill -0 $ESD_PID 2>/dev/null" || fail "the detached daemon did not stop"
