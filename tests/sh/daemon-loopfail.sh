#!/bin/sh
# eidastatsd when libuv's event loop cannot be made (issue 7, defect 6): with
# a limit on open files that leaves room to read the configuration but not
# for uv_loop_init's descriptors (epoll, signal pipe, eventfd), eidastatsd
# exits 2 with "cannot create the event loop" on stderr, in the foreground
# and detached (the waiting parent shows the reason).
#
# The limit is searched upwards from 4: below some value libuv aborts in its
# one-time signal set-up, which it does not report to uv_loop_init's caller;
# above another the loop is made and start-up fails later (lock, spool).  The
# test needs a value in between, where uv_loop_init returns the error.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

ESD=$ESD_BIN_DEFAULT
MSG="start-up failed: cannot create the event loop: too many open files"
esd_config
# In the sanitizer build LeakSanitizer's exit check needs descriptors of its own
# (/proc/PID/task) that the limit denies, and would turn any exit into 1.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS

# run N ARG...: eidastatsd -c CONF ARG... under `ulimit -n N`; sets rc, output in $T/err.
run() {
	_n=$1
	shift
	rc=0
	# The shell's own "Aborted" notice of libuv's abort goes to $T/shell.
	{ (ulimit -n "$_n" && exec timeout 30 "$ESD" -c "$ESD_CONF" "$@") </dev/null >"$T/out" 2>"$T/err" ||
		rc=$?; } 2>>"$T/shell"
	[ "$rc" != 124 ] || fail "ulimit -n $_n: eidastatsd $* still ran after 30 s"
	[ "$rc" != 0 ] || fail "ulimit -n $_n: eidastatsd $* started: $(cat "$T/err")"
}

# find ARG...: the smallest limit at which eidastatsd ARG... reports the loop failure.
find_limit() {
	n=4
	while [ "$n" -le 64 ]; do
		run "$n" "$@"
		if grep -q -F "$MSG" "$T/err"; then
			[ "$rc" = 2 ] || fail "ulimit -n $n: exit $rc, expected 2 ($(cat "$T/err"))"
			return 0
		fi
		n=$((n + 1))
	done
	fail "no open-file limit in 4..64 made eidastatsd $* report '$MSG' (last: exit $rc, $(cat "$T/err"))"
}

find_limit --foreground
echo "foreground: ulimit -n $n: exit $rc: $(cat "$T/err")"
# At that limit the configuration was read: a bad one is still reported as such.
printf 'colour: red\n' >"$T/bad.yaml"
rc=0
(ulimit -n "$n" && exec "$ESD" -c "$T/bad.yaml" --foreground) </dev/null >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "unknown key 'colour'" "$T/err" ||
	fail "ulimit -n $n: a bad configuration was not read and refused: exit $rc, $(cat "$T/err")"
# Nothing was made in the state directory: the loop failed before start-up.
[ ! -e "$ESD_STATE/lock" ] || fail "a lock file was made although the loop could not be"

# Detached: the parent waits for the daemon's report and exits 2 with the reason.
find_limit
echo "detached: ulimit -n $n: exit $rc: $(cat "$T/err")"
exit 0
