# lib.sh - helpers for the shell tests; source it first.
#
# Provides: $T (a fresh temporary directory, removed at exit together with
# every process registered with `bg_track PID`), es_at_exit CMD (run CMD at
# exit, after the tracked processes are stopped and before $T goes; the last
# registered runs first), fail MSG (print and exit 1),
# skip MSG (exit 77), check DESC CMD... (run CMD, fail with DESC if it fails),
# wait_until SECONDS CMD... (poll CMD every 0.1 s until it succeeds), DATA
# (the bundled golden data), and es_install (install the build into $T/inst
# and put its bin/ and sbin/ first on PATH, so tests run the installed tools).
set -u

: "${top_srcdir:?run through make check}"
: "${top_builddir:?run through make check}"
DATA=${ES_TESTDATA:-$top_srcdir/tests/data}
T=$(mktemp -d "${TMPDIR:-/tmp}/es-test.XXXXXX")
ES_BG_PIDS=""
ES_AT_EXIT=""

es_cleanup() {
	for p in $ES_BG_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $ES_BG_PIDS; do
		wait "$p" 2>/dev/null
	done
	eval "$ES_AT_EXIT"
	if [ -n "${ES_KEEP_TMP:-}" ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap es_cleanup EXIT
# A signal ends the test through the EXIT trap, which stops what it started.
trap 'exit 1' INT TERM HUP

es_at_exit() { ES_AT_EXIT="$1; $ES_AT_EXIT"; }

bg_track() { ES_BG_PIDS="$ES_BG_PIDS $1"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

check() {
	local desc=$1; shift
	"$@" || fail "$desc (command: $*)"
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# 1 when it still fails after SECONDS times $ES_WAIT_SCALE (default 3).  The
# limits only end hangs: a loaded machine (make -j beside other builds, a
# sanitizer build) must not turn a slow start into a failure.
wait_until() {
	local deadline=$(( $(date +%s) + $1 * ${ES_WAIT_SCALE:-3} )); shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

es_install() {
	make -s -C "$top_builddir" install DESTDIR="$T/inst" >"$T/install.log" 2>&1 ||
		{ cat "$T/install.log" >&2; fail "make install"; }
	local prefix
	prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
	ES_PREFIX="$T/inst$prefix"
	PATH="$ES_PREFIX/bin:$ES_PREFIX/sbin:$PATH"
	export PATH
}
