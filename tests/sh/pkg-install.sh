#!/bin/sh
# The Debian packages install, work, keep the administrator's settings and
# purge cleanly, on this machine (it must be a disposable Debian 12 one: the
# test installs and purges system packages, and leaves the two system users,
# as Debian does).  Run by .ci/run after the suite, not by `make check`:
#   ES_DEBS_DIR=DIR sh tests/sh/pkg-install.sh   # the .debs of DIR
#   sh tests/sh/pkg-install.sh                   # builds them first (tests/pkg-build.sh)
# Checks: `apt-get install ./eidastats_*.deb ./eidastats-central_*.deb`; the
# files where README.md ("Install from packages") says; the users from
# sysusers.d; the units enabled and not started; `eidastatsd --check-config`
# as the service user against the installed sample, then with a token file
# (and its refusal without one); a changed /etc/eidastats.yaml kept when the
# same version is installed again; `apt-get purge` leaves nothing of ours
# but the documented leftovers.  Whatever happens, the packages are purged
# at the end.  Skips (77) when not root, or without apt-get, or without
# dpkg-buildpackage and ES_DEBS_DIR, or when either package is already
# installed (an administrator's install is never touched).
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/sh/lib.sh"

[ "$(id -u)" = 0 ] || skip "not root: the packages are not installed"
command -v apt-get >/dev/null 2>&1 || skip "no apt-get: not a Debian machine"
for p in eidastats eidastats-central; do
	case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) in
	"" | not-installed) ;;
	*) skip "$p is already installed on this machine: not touched" ;;
	esac
done
if [ -n "${ES_DEBS_DIR:-}" ]; then
	debs=$ES_DEBS_DIR
else
	command -v dpkg-buildpackage >/dev/null 2>&1 || skip "no dpkg-buildpackage and no ES_DEBS_DIR"
	debs=$T/debs
	sh "$top_srcdir/tests/pkg-build.sh" "$debs" || fail "the package build"
fi
node_deb=$(ls "$debs"/eidastats_*.deb 2>/dev/null | head -1)
central_deb=$(ls "$debs"/eidastats-central_*.deb 2>/dev/null | head -1)
[ -f "$node_deb" ] && [ -f "$central_deb" ] || fail "no eidastats_*.deb and eidastats-central_*.deb in $debs"
export DEBIAN_FRONTEND=noninteractive

# What carries our names before, to tell our leftovers from what was there.
ours() {
	find /etc /usr /var -xdev \( -path /var/tmp -o -path /var/cache -o -path /var/log \) -prune -o \
		\( -name '*eidastats*' -o -name 'eida_stats*' \) -print 2>/dev/null | sort
}
ours >"$T/before"

purge() {
	if dpkg-query -W eidastats eidastats-central >/dev/null 2>&1; then
		apt-get purge -y -q eidastats eidastats-central </dev/null >>"$T/apt.log" 2>&1
	fi
}
es_at_exit purge

apt() {
	apt-get "$@" </dev/null >>"$T/apt.log" 2>&1 || { tail -40 "$T/apt.log" >&2; fail "apt-get $*"; }
}
apt install -y -q "$node_deb" "$central_deb"

# The files, where README.md says they are.
for f in /usr/bin/eidastats /usr/sbin/eidastatsd /usr/sbin/eidastats-ingestd /usr/sbin/eidastats-admin \
	/usr/sbin/eidastats-report; do
	[ -x "$f" ] || fail "$f is not installed"
done
[ "$(readlink /usr/bin/eida_stats_aggregator)" = eidastats ] || fail "eida_stats_aggregator is not eidastats"
for f in /etc/eidastats.yaml /etc/eidastats/ingestd.yaml /etc/eidastats/report.yaml \
	/lib/systemd/system/eidastatsd.service /lib/systemd/system/eidastats-ingestd.service \
	/lib/systemd/system/eidastats-report.service /lib/systemd/system/eidastats-report.timer \
	/usr/lib/sysusers.d/eidastats.conf /usr/lib/sysusers.d/eidastats-central.conf \
	/usr/share/eidastats/sql/001-schema.sql \
	/usr/share/man/man1/eidastats.1.gz /usr/share/man/man1/eida_stats_aggregator.1.gz \
	/usr/share/man/man5/eidastats.yaml.5.gz /usr/share/man/man8/eidastatsd.8.gz \
	/usr/share/man/man8/eidastats-ingestd.8.gz /usr/share/man/man8/eidastats-admin.8.gz \
	/usr/share/man/man8/eidastats-report.8.gz; do
	[ -e "$f" ] || fail "$f is not installed"
done
# Every migration of the source tree is installed where eidastats-admin looks.
for f in "$top_srcdir"/sql/*.sql; do
	[ -f "/usr/share/eidastats/sql/${f##*/}" ] || fail "${f##*/} is not in /usr/share/eidastats/sql"
done
dpkg-query -W -f='${Conffiles}\n' eidastats | grep -q '^ /etc/eidastats.yaml ' ||
	fail "/etc/eidastats.yaml is not a conffile"
dpkg-query -W -f='${Conffiles}\n' eidastats-central | grep -q '^ /etc/eidastats/ingestd.yaml ' ||
	fail "/etc/eidastats/ingestd.yaml is not a conffile"
[ "$(stat -c '%a %U %G' /etc/eidastats/ingestd.yaml)" = "640 root eidastats-central" ] ||
	fail "ingestd.yaml: $(stat -c '%a %U %G' /etc/eidastats/ingestd.yaml), not 640 root eidastats-central"

# The users, from sysusers.d: system users without a login.
for u in eidastats eidastats-central; do
	getent passwd "$u" >"$T/pw" || fail "no user $u"
	[ "$(cut -d: -f3 "$T/pw")" -lt 1000 ] || fail "$u is not a system user: $(cat "$T/pw")"
	[ "$(cut -d: -f7 "$T/pw")" = /usr/sbin/nologin ] || fail "$u has a login shell: $(cat "$T/pw")"
	getent group "$u" >/dev/null || fail "no group $u"
done

# Enabled (the symlinks deb-systemd-helper makes), never started by the
# maintainer scripts (only a running service is restarted, on upgrade).
for l in multi-user.target.wants/eidastatsd.service multi-user.target.wants/eidastats-ingestd.service \
	timers.target.wants/eidastats-report.timer; do
	[ -L "/etc/systemd/system/$l" ] || fail "not enabled: $l"
done
for p in eidastats eidastats-central; do
	grep -v 'try-restart' "/var/lib/dpkg/info/$p.postinst" | grep -q 'deb-systemd-invoke.*start' &&
		fail "$p.postinst starts a service: $(grep deb-systemd-invoke "/var/lib/dpkg/info/$p.postinst")"
done

# ... and stopped on removal (systemd is not running the services here: the
# scripts are read).
grep -q "deb-systemd-invoke stop eidastatsd.service" /var/lib/dpkg/info/eidastats.prerm ||
	fail "eidastats.prerm does not stop the daemon"
for u in eidastats-report.timer eidastats-ingestd.service; do
	grep -A1 "deb-systemd-invoke stop" /var/lib/dpkg/info/eidastats-central.prerm | grep -q "$u" ||
		fail "eidastats-central.prerm does not stop $u"
done

# The daemon's configuration check as its user, against the installed sample.
chmod 0711 "$T"
runuser -u eidastats -- /usr/sbin/eidastatsd --check-config >"$T/check.out" 2>&1 ||
	fail "eidastatsd --check-config as eidastats: $(cat "$T/check.out")"
grep -q '/etc/eidastats.yaml: configuration valid' "$T/check.out" || fail "check-config: $(cat "$T/check.out")"
# With a central URL it needs its token file: refused without it, named...
mkdir "$T/node" && chown eidastats:eidastats "$T/node" && chmod 0700 "$T/node"
sed -e 's|^  # url: .*|  url: https://central.example.org/eidaws/statistics/1/submit|' \
	-e "s|^  # token_file: .*|  token_file: $T/node/token|" /etc/eidastats.yaml >"$T/node.yaml"
grep -q "^  token_file: $T/node/token" "$T/node.yaml" || fail "the sample has no token_file line to set"
chmod 0644 "$T/node.yaml"
runuser -u eidastats -- /usr/sbin/eidastatsd --check-config -c "$T/node.yaml" >"$T/check.out" 2>&1 &&
	fail "check-config accepted a missing token file: $(cat "$T/check.out")"
grep -q "$T/node/token" "$T/check.out" || fail "the missing token file is not named: $(cat "$T/check.out")"
# ... and accepted with it (0600, owned by the service user).
runuser -u eidastats -- sh -c "umask 077 && echo node-token-for-the-test >'$T/node/token'"
runuser -u eidastats -- /usr/sbin/eidastatsd --check-config -c "$T/node.yaml" >"$T/check.out" 2>&1 ||
	fail "check-config with a token file: $(cat "$T/check.out")"
# The central tools run as their user.
runuser -u eidastats-central -- /usr/sbin/eidastats-ingestd --version >"$T/v.out" 2>&1 ||
	fail "eidastats-ingestd --version: $(cat "$T/v.out")"
runuser -u eidastats-central -- /usr/sbin/eidastats-admin --help >"$T/v.out" 2>&1 ||
	fail "eidastats-admin --help: $(cat "$T/v.out")"

# The same version again over a changed conffile keeps the change.
sed -i 's/^settle: .*/settle: 77/' /etc/eidastats.yaml
printf '# changed by the administrator\n' >>/etc/eidastats/ingestd.yaml
apt install -y -q --reinstall "$node_deb" "$central_deb"
grep -q '^settle: 77$' /etc/eidastats.yaml || fail "the reinstall lost the change to /etc/eidastats.yaml"
grep -q '^# changed by the administrator$' /etc/eidastats/ingestd.yaml ||
	fail "the reinstall lost the change to /etc/eidastats/ingestd.yaml"
ls /etc/eidastats.yaml.dpkg-* /etc/eidastats/*.dpkg-* 2>/dev/null && fail "dpkg left copies beside the conffiles"
runuser -u eidastats -- /usr/sbin/eidastatsd --check-config >"$T/check.out" 2>&1 ||
	fail "check-config after the reinstall: $(cat "$T/check.out")"

# Purge: nothing of ours is left but the documented leftovers (README.md,
# "Install from packages"): the two users and groups (Debian keeps system
# users), and /var/lib/eidastats and /var/lib/eidastats-reports when the
# services ran (not here: no service runs).
apt purge -y -q eidastats eidastats-central
dpkg-query -W -f='${db:Status-Status}\n' eidastats eidastats-central 2>/dev/null | grep -v '^not-installed$' |
	grep . && fail "a package is still known to dpkg"
ours >"$T/after"
comm -13 "$T/before" "$T/after" >"$T/left"
[ ! -s "$T/left" ] || fail "left after purge: $(cat "$T/left")"
[ ! -e /etc/eidastats.yaml ] || fail "/etc/eidastats.yaml is left"
echo "installed, checked, reinstalled and purged: ${node_deb##*/} ${central_deb##*/}"
