#!/bin/sh
# On a terminal, `eidastats aggregate` shows a progress line with the bytes
# read and the lines per second; not on a terminal it writes none.  The
# terminal comes from script(1) (bsdutils); without it the test skips (77).
. "$top_srcdir/tests/sh/lib.sh"
es_install
command -v script >/dev/null 2>&1 || skip "script (bsdutils) is not installed: no terminal to test the progress line on"

Y=$DATA/synthetic-small
mkdir "$T/tty" "$T/notty"
script -qec "eidastats aggregate --networks '$Y/networks.json' -o '$T/tty' '$Y/small.log.bz2'" \
	"$T/tty.typescript" >/dev/null 2>&1 </dev/null || fail "run on a terminal failed"
grep -q "small.log.bz2: .* of .* MB (.*%), .* lines/s" "$T/tty.typescript" ||
	fail "no progress line on a terminal: $(tr '\r' '\n' <"$T/tty.typescript" | head -5)"
[ -f "$T/tty/2024-09-28_2024-10-09.json.gz" ] || fail "the run on a terminal wrote no payload"

eidastats aggregate --networks "$Y/networks.json" -o "$T/notty" "$Y/small.log.bz2" 2>"$T/notty.err" ||
	fail "run without a terminal failed"
grep -q "lines/s" "$T/notty.err" && fail "a progress line was written to a non-terminal"
grep -q "Statistics stored to" "$T/notty.err" || fail "no summary without a terminal: $(cat "$T/notty.err")"
echo "progress line only on a terminal"
