#!/bin/sh
# The whole test suite: builds a normal tree and an AddressSanitizer + UBSan tree,
# runs `make check` in both (unit tests and end-to-end shell tests), then
# `make distcheck`, and ends with the line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
passed=0 failed=0
jobs=$(nproc 2>/dev/null || echo 2)

count() {
	# Adds the PASS/FAIL (and ERROR, XPASS as failures) totals of one test-suite.log.
	log=$1
	p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
	f=$(sed -n 's/^# FAIL: *//p' "$log" | head -1)
	e=$(sed -n 's/^# ERROR: *//p' "$log" | head -1)
	x=$(sed -n 's/^# XPASS: *//p' "$log" | head -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
}

autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; echo "0 passed, 1 failed"; exit 1; }
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
	if [ -f test-suite.log ]; then
		count test-suite.log
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
	echo "FAIL: make distcheck"
	failed=$((failed + 1))
fi
cd "$top"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
