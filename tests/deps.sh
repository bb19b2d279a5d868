#!/bin/sh
# Installs the Debian 12 packages eidastats builds, runs and tests with (as root).
set -eu
PKGS="build-essential autoconf automake pkg-config bzip2 gzip python3 curl procps time
bsdutils util-linux systemd faketime
libuv1-dev libbz2-dev zlib1g-dev libdeflate-dev libcjson-dev libcurl4-openssl-dev libyaml-dev libssl-dev
libsystemd-dev libpq-dev libmicrohttpd-dev libgpgme-dev gnupg postgresql-15 postgresql-15-hll
git dpkg-dev debhelper devscripts lintian fakeroot"
# The HTML reports are loaded in headless Chromium (tests/sh/chromium-lib.sh); a font for its text.
PKGS="$PKGS chromium fonts-dejavu-core"
PKGS="$PKGS prometheus"
# A loopback SMTP server for eidastats-report --mail (tests/sh/smtpd.py).
PKGS="$PKGS python3-aiosmtpd"
PKGS="$PKGS wrk"
# libFuzzer (./configure --enable-fuzzing CC=clang; .ci/run runs each target 15 s).
PKGS="$PKGS clang libclang-rt-14-dev"
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: run as root (apt-get install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $PKGS
# The package starts a cluster of its own; the tests start theirs, so stop it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
	for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}'); do
		pg_ctlcluster ${c%/*} ${c#*/} stop 2>/dev/null || true
	done
fi
