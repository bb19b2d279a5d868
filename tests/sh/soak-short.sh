#!/bin/sh
# The soak benchmark (bench/soak.sh) for 60 seconds: 12 nodes submitting,
# wrk on the public and restricted query API, SIGHUP and a PostgreSQL
# restart in the middle; it checks that every accepted payload is stored
# exactly once and none was refused for good (its exit status).
. "$top_srcdir/tests/sh/lib.sh"

command -v wrk >/dev/null 2>&1 || skip "wrk is not installed (Debian package wrk)"
TMPDIR=$T "$top_srcdir/bench/soak.sh" -d 60 "$top_builddir" >"$T/soak.out" 2>&1
rc=$?
cat "$T/soak.out"
[ $rc = 77 ] && skip "soak.sh could not run here"
[ $rc = 0 ] || fail "soak.sh -d 60 exited $rc"
grep -q '^soak: PASS' "$T/soak.out" || fail "no PASS line"
exit 0
