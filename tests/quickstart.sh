#!/bin/sh
# Quick start: the whole system on one machine.  Installs the packages and
# builds; starts a private PostgreSQL (with hll) and the central service
# eidastats-ingestd on 127.0.0.1; starts the node daemon eidastatsd, which
# picks up the bundled sample logs (three days of SeisComP fdsnws requests),
# aggregates them and delivers the payloads; makes the report of the first
# month with eidastats-report; prints where the report is and one answer of
# the query API; then stops everything it started (the report stays).
set -eu
cd "$(dirname "$0")/.."
sh tests/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p _build && cd _build
[ -f Makefile ] || ../configure -q
make -j"$(nproc)" >/dev/null
make tests/daemon/jget >/dev/null
top_builddir=$(pwd)
top_srcdir=$(cd .. && pwd)
export top_srcdir top_builddir
OUT=${ES_QUICKSTART_OUT:-/tmp/eidastats-quickstart}

# The test helpers start and stop everything (tests/sh/lib.sh, tests/daemon/common.sh).
set +e
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

echo "== a private PostgreSQL and eidastats-ingestd on 127.0.0.1"
central_start
echo "   database: $ES_DB"
echo "   submit URL: $CENTRAL_URL"
echo "== eidastatsd delivers the sample logs"
esd_config
esd_start
cp "$DATA"/synthetic-small/multi/* "$ESD_LOGS/"
esd_wait 120 delivery.delivered 3
esd_stop
echo "   $(db_payloads) payloads in the database"
echo "== eidastats-report --month 2024-10"
rm -rf "$OUT"
"$top_builddir/src/report/eidastats-report" --db "$ES_DB" --out "$OUT" --month 2024-10 ||
	fail "eidastats-report"
BASE=${CENTRAL_URL%/submit}
Q="start=2024-10&end=2024-10&level=node"
echo "== the query API: $BASE/dataselect/public?$Q"
curl -s "$BASE/dataselect/public?$Q" || fail "query API"
echo
echo
echo "The report: $OUT/2024-10/index.html (all periods: $OUT/index.html; data: $OUT/2024-10/report.json)"
echo "Stopping PostgreSQL and eidastats-ingestd."
