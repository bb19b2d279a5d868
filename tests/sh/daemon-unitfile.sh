#!/bin/sh
# The built systemd unit passes `systemd-analyze verify` without a warning
# (ExecStart pointed at this build's daemon).  Skips (77) when systemd-analyze
# is not installed (tests/deps.sh installs it, so under CI the skip fails).
. "$top_srcdir/tests/sh/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze is not installed: the unit file is not verified"
unit=$top_builddir/systemd/eidastatsd.service
[ -f "$unit" ] || fail "$unit was not built"
sed "s|^ExecStart=[^ ]*|ExecStart=$top_builddir/src/eidastatsd/eidastatsd|" "$unit" >"$T/eidastatsd.service"
grep -q "^ExecStart=$top_builddir/src/eidastatsd/eidastatsd --foreground -c " "$T/eidastatsd.service" ||
	fail "ExecStart was not rewritten: $(grep ExecStart "$T/eidastatsd.service")"
systemd-analyze verify --man=no "$T/eidastatsd.service" >"$T/verify.out" 2>&1 ||
	{ cat "$T/verify.out" >&2; fail "systemd-analyze verify"; }
[ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "systemd-analyze verify warns"; }

# A broken unit is refused, so the check above can fail.
sed 's/^Type=notify/Type=no-such-type/' "$T/eidastatsd.service" >"$T/broken.service"
systemd-analyze verify --man=no "$T/broken.service" >"$T/broken.out" 2>&1
grep -q "no-such-type" "$T/broken.out" || { cat "$T/broken.out" >&2; fail "a bad Type= was not reported"; }
echo "unit file verified"
