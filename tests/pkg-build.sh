#!/bin/sh
# Builds the Debian packages (debian/) the way a clean clone would:
#   sh tests/pkg-build.sh OUTDIR
# copies the tracked files of this checkout (its uncommitted changes to them
# included, `git stash create`; untracked files left out) into a temporary
# directory, runs `dpkg-buildpackage -us -uc -b` there (niced: machines are
# shared) and moves the .deb, .changes and .buildinfo files into OUTDIR.
# Exit 77 when dpkg-buildpackage or git is missing, 1 when the build fails
# (the end of its log is printed).
set -u
out=${1:?usage: pkg-build.sh OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
command -v dpkg-buildpackage >/dev/null 2>&1 || { echo "pkg-build: dpkg-buildpackage is not installed (dpkg-dev)" >&2; exit 77; }
command -v git >/dev/null 2>&1 || { echo "pkg-build: git is not installed" >&2; exit 77; }
mkdir -p "$out" || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/es-pkg.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP
g() { git -c safe.directory="$top" -C "$top" "$@"; }
g rev-parse --verify -q HEAD >/dev/null || { echo "pkg-build: $top is not a git checkout with a commit" >&2; exit 77; }
tree=$(g stash create) || exit 1
mkdir "$work/eidastats" && g archive "${tree:-HEAD}" | tar -x -C "$work/eidastats" || exit 1
start=$(date +%s)
if ! (cd "$work/eidastats" && nice -n 10 dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -60 "$work/build.log"
	echo "pkg-build: dpkg-buildpackage failed" >&2
	exit 1
fi
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/ || exit 1
echo "pkg-build: $(cd "$out" && ls ./*.deb | tr '\n' ' ')in $(( $(date +%s) - start )) s"
