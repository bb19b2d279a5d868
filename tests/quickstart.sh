#!/bin/sh
# Quick start: installs the packages, builds, and aggregates a bundled sample log
# (200 real SeisComP requests), printing the summary and where the payload went.
set -eu
cd "$(dirname "$0")/.."
sh tests/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p _build && cd _build
[ -f Makefile ] || ../configure -q
make -j"$(nproc)" >/dev/null
./src/eidastats/eidastats aggregate -o /tmp \
	--networks ../tests/data/upstream-sample/networks.json \
	../tests/data/upstream-sample/test.log.bz2
echo "Payload: /tmp/2020-09-18_2020-09-18.json.gz (gzip -dc it to read the JSON)"
