#!/bin/sh
# Every systemd unit `make install` installs (eidastatsd, eidastats-ingestd,
# eidastats-report and its timer) passes `systemd-analyze verify` without a
# warning: installed into a temporary DESTDIR, each ExecStart= must name a
# program that the same install put there (the unit and the binary agree on
# the path), and is then pointed at that copy for the check.  Prints the
# `systemd-analyze security` exposure score of each service (README,
# "Install from packages").  Skips (77) when systemd-analyze is missing
# (tests/deps.sh installs it, so under CI the skip fails).
. "$top_srcdir/tests/sh/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze is not installed: the units are not verified"
es_install
unitdir=$(sed -n 's/^systemdsystemunitdir = //p' "$top_builddir/Makefile")
[ -n "$unitdir" ] || fail "no systemdsystemunitdir in the Makefile"
# ${prefix} (configure's default) is left in it for make to expand.
unitdir=$(printf '%s\n' "$unitdir" | sed "s|\${prefix}|$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")|")
case $unitdir in /*) ;; *) fail "systemdsystemunitdir is not absolute: $unitdir" ;; esac
src=$T/inst$unitdir
mkdir "$T/units"

expected="eidastatsd.service eidastats-ingestd.service eidastats-report.service eidastats-report.timer"
for u in $expected; do
	[ -f "$src/$u" ] || fail "make install did not install $unitdir/$u: $(ls "$src" 2>&1)"
done
n=0
for f in "$src"/*.service "$src"/*.timer; do
	u=${f##*/}
	n=$((n + 1))
	prog=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$f")
	if [ -z "$prog" ]; then
		cp "$f" "$T/units/$u"
		continue
	fi
	if [ -x "$T/inst$prog" ]; then
		sed "s|^ExecStart=$prog|ExecStart=$T/inst$prog|" "$f" >"$T/units/$u"
	elif [ "$u" = eidastats-report.service ] && [ ! -e "$top_srcdir/src/report" ]; then
		# Until src/report (issue 9) is in this tree, its program is not built:
		# the unit is checked with a stand-in at the installed path.
		echo "NOTE: $prog is not built in this tree (no src/report): $u verified with a stand-in"
		mkdir -p "$T/stand-in"
		printf '#!/bin/sh\nexit 0\n' >"$T/stand-in/${prog##*/}"
		chmod +x "$T/stand-in/${prog##*/}"
		sed "s|^ExecStart=$prog|ExecStart=$T/stand-in/${prog##*/}|" "$f" >"$T/units/$u"
	else
		fail "$u: ExecStart=$prog is not a program make install installed"
	fi
done
check "every unit was found ($n)" test "$n" -ge 4

( cd "$T/units" && systemd-analyze verify --man=no ./*.service ./*.timer ) >"$T/verify.out" 2>&1 ||
	{ cat "$T/verify.out" >&2; fail "systemd-analyze verify"; }
[ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "systemd-analyze verify warns"; }

# A broken unit of each kind is refused, so the check above can fail.
sed 's/^Type=notify/Type=no-such-type/' "$T/units/eidastats-ingestd.service" >"$T/broken.service"
systemd-analyze verify --man=no "$T/broken.service" >"$T/broken.out" 2>&1
grep -q "no-such-type" "$T/broken.out" || { cat "$T/broken.out" >&2; fail "a bad Type= was not reported"; }
sed 's/^OnCalendar=.*/OnCalendar=someday/' "$T/units/eidastats-report.timer" >"$T/broken.timer"
cp "$T/units/eidastats-report.service" "$T/broken.service"
systemd-analyze verify --man=no "$T/broken.timer" >"$T/broken.out" 2>&1
grep -q "someday" "$T/broken.out" || { cat "$T/broken.out" >&2; fail "a bad OnCalendar= was not reported"; }

# The exposure scores (lower is better; 10 is an unprotected root service).
for f in "$T/units"/*.service; do
	u=${f##*/}
	systemd-analyze security --offline=yes --no-pager "$f" >"$T/security.out" 2>&1 ||
		{ cat "$T/security.out" >&2; fail "systemd-analyze security $u"; }
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$T/security.out")
	[ -n "$score" ] || { cat "$T/security.out" >&2; fail "no exposure score for $u"; }
	echo "security: $u $score"
	# Every one of ours keeps the daemon's hardening: OK (below 2.0).
	awk -v s="$score" 'BEGIN { exit !(s < 2.0) }' ||
		{ grep '✗' "$T/security.out" >&2; fail "$u is exposed: $score"; }
done
echo "units verified: $n"
