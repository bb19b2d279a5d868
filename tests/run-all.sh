#!/bin/sh
# The whole test suite: builds a normal tree and an AddressSanitizer + UBSan tree,
# runs `make check` in both (unit tests and end-to-end shell tests; a compiler
# warning in either build counts as one failure), then
# `make distcheck`, lists the skipped tests and ends with the line
# "N passed, N failed, N skipped".  A test skips (exit 77) when something it
# needs is missing; under CI=true, where every dependency is installed, a skip
# means a broken install step and counts as a failure too.
# With ES_FAILURES set to a file name, each failed test's name and the end of
# its log are appended there, for a caller that shows only its last lines
# (.ci/run repeats them at the end of its output).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
passed=0 failed=0 skipped=0
skiplist=$(mktemp "${TMPDIR:-/tmp}/es-skips.XXXXXX")
trap 'rm -f "$skiplist"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)

count() {
	# Adds the PASS, FAIL (ERROR and XPASS as failures) and SKIP totals of one
	# test-suite.log (in the current build directory) and records each skipped
	# test with its reason.
	log=$1 variant=$2
	p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
	f=$(sed -n 's/^# FAIL: *//p' "$log" | head -1)
	e=$(sed -n 's/^# ERROR: *//p' "$log" | head -1)
	x=$(sed -n 's/^# XPASS: *//p' "$log" | head -1)
	s=$(sed -n 's/^# SKIP: *//p' "$log" | head -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
	skipped=$((skipped + ${s:-0}))
	# A skipped shell test's log ends with its "SKIP: reason" line.
	grep '^SKIP: ' check.out 2>/dev/null | while read -r _ name rest; do
		reason=""
		base=${name%.sh}
		[ -f "$base.log" ] && reason=$(grep '^SKIP: ' "$base.log" | tail -1 | sed 's/^SKIP: //')
		[ -n "$reason" ] || reason=$rest
		echo "[$variant] $name: ${reason:-no reason given}"
	done >>"$skiplist"
	note_failures "$log" "$variant"
}

# note_failures LOG VARIANT: appends each failed test of a test-suite.log (in
# the current directory) and its log's last lines to $ES_FAILURES.
note_failures() {
	[ -n "${ES_FAILURES:-}" ] || return 0
	sed -n 's/^\(FAIL\|ERROR\|XPASS\): \([^ ]*\).*/\2/p' "$1" | sort -u | while read -r name; do
		echo "[$2] FAIL: $name"
		base=${name%.sh}
		[ -f "$base.log" ] && tail -n 25 "$base.log" | sed 's/^/    /'
	done >>"$ES_FAILURES"
}

autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
for variant in normal sanitizers; do
	dir=$top/_build-test-$variant
	flags=""
	[ "$variant" = sanitizers ] && flags="--enable-sanitizers"
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
	echo "=== $variant build"
	if ! ../configure -q $flags >configure.out 2>&1 || ! make -j"$jobs" >make.out 2>&1; then
		tail -40 configure.out make.out 2>/dev/null
		echo "$variant build failed"
		failed=$((failed + 1))
		cd "$top"
		continue
	fi
	# ASan's leak checker needs ptrace, which some sandboxes lack; leaks are still
	# checked where it works.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 \
		make -j"$jobs" check >check.out 2>&1
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.out | sed "s/^/[$variant] /"
	# -Wall -Wextra clean: the programs (make.out) and the tests (check.out).
	if grep -q 'warning:' make.out check.out; then
		grep -h 'warning:' make.out check.out | sort -u | head -40
		echo "FAIL: [$variant] compiler warnings"
		[ -n "${ES_FAILURES:-}" ] && echo "[$variant] FAIL: compiler warnings (see above)" >>"$ES_FAILURES"
		failed=$((failed + 1))
	else
		echo "PASS: [$variant] no compiler warning"
		passed=$((passed + 1))
	fi
	if [ -f test-suite.log ]; then
		count test-suite.log "$variant"
		grep -q '^# FAIL: *0$' test-suite.log || sed -n '/^FAIL:\|^ERROR:/,$p' test-suite.log | head -200
	else
		tail -40 check.out
		failed=$((failed + 1))
	fi
	cd "$top"
done

echo "=== make distcheck"
cd "$top/_build-test-normal" &&
if make -j"$jobs" distcheck >distcheck.out 2>&1; then
	echo "PASS: make distcheck"
	passed=$((passed + 1))
else
	tail -60 distcheck.out
	# distcheck leaves its tree behind when a test fails: name the tests.
	for log in "$top"/_build-test-normal/eidastats-*/_build/sub/test-suite.log; do
		[ -f "$log" ] || continue
		sed -n '/^FAIL:\|^ERROR:/,$p' "$log" | head -200
		(cd "$(dirname "$log")" && note_failures test-suite.log distcheck)
	done
	echo "FAIL: make distcheck"
	failed=$((failed + 1))
fi
cd "$top"
if [ "$skipped" -gt 0 ]; then
	echo "=== skipped tests ($skipped)"
	cat "$skiplist"
	if [ "${CI:-}" = true ]; then
		echo "CI=true installs every dependency: each skip above counts as a failure"
		failed=$((failed + skipped))
	fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
