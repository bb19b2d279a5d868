#!/bin/sh
# Runs libFuzzer targets of a build configured with --enable-fuzzing CC=clang.
#
#   tests/fuzz/run.sh [-b BUILDDIR] TARGET|all SECONDS [LIBFUZZER-OPTION...]
#
# Each target runs for SECONDS (-max_total_time) under -rss_limit_mb and a
# per-input -timeout, on a working corpus in the build tree
# (BUILDDIR/tests/fuzz/work/TARGET, where libFuzzer adds what it finds) seeded
# from tests/fuzz/corpus/TARGET and tests/fuzz/regressions/TARGET (read only).
# A crash, leak, timeout or out-of-memory input goes to
# BUILDDIR/tests/fuzz/artifacts/TARGET/; copy it to tests/fuzz/regressions/TARGET/
# once fixed.  BUILDDIR defaults to $top_builddir, else the current directory.
# Prints one line per target:
#   TARGET: ok|FAILED execs N in Ss (N/s), cov N, ft N, corpus N
# and the whole libFuzzer log stays in BUILDDIR/tests/fuzz/logs/TARGET.log.
# Exit 0 when every target ran clean, 1 when one found something, 2 on usage.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-.}
if [ "${1:-}" = -b ]; then
	build=$2
	shift 2
fi
if [ $# -lt 2 ]; then
	echo "usage: $0 [-b BUILDDIR] TARGET|all SECONDS [LIBFUZZER-OPTION...]" >&2
	exit 2
fi
target=$1 secs=$2
shift 2
case $secs in
''|*[!0-9]*) echo "$0: SECONDS must be a number" >&2; exit 2 ;;
esac
build=$(cd "$build" 2>/dev/null && pwd) || { echo "$0: no build directory" >&2; exit 2; }
if ! ls "$build"/tests/fuzz/fuzz-* >/dev/null 2>&1; then
	echo "$0: no fuzz targets in $build (configure it with --enable-fuzzing CC=clang, then make)" >&2
	exit 2
fi
if [ "$target" = all ]; then
	targets=$(cd "$build/tests/fuzz" && ls fuzz-* | sed 's/^fuzz-//')
else
	targets=$target
fi

status=0
for t in $targets; do
	bin=$build/tests/fuzz/fuzz-$t
	if [ ! -x "$bin" ]; then
		echo "$0: no target $t ($bin)" >&2
		exit 2
	fi
	work=$build/tests/fuzz/work/$t
	art=$build/tests/fuzz/artifacts/$t
	log=$build/tests/fuzz/logs/$t.log
	mkdir -p "$work" "$art" "$(dirname "$log")"
	dirs="$work $here/corpus/$t"
	[ -d "$here/regressions/$t" ] && dirs="$dirs $here/regressions/$t"
	# shellcheck disable=SC2086
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$art/" "$@" $dirs >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	[ -n "$took" ] || took=$secs
	rate=$(( ${execs:-0} / (took > 0 ? took : 1) ))
	if [ "$rc" = 0 ]; then
		verdict=ok
	else
		verdict=FAILED
		status=1
	fi
	echo "$t: $verdict execs ${execs:-?} in ${took}s (${rate}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
	if [ "$rc" != 0 ]; then
		grep -E 'ERROR:|SUMMARY:|fuzz check failed|Test unit written' "$log" | head -5 | sed 's/^/  /'
	fi
done
exit $status
