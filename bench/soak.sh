#!/bin/sh
# bench/soak.sh - eidastats-ingestd under load and faults for a bounded time.
#
# Usage: bench/soak.sh [-d SECONDS] [BUILDDIR]   (default 600 s; BUILDDIR
#        default: _build beside this script's tree)
#
# On a throw-away PostgreSQL (tests/sh/pg.sh): 12 simulated nodes
# (bench/soak.py node, tokens from eidastats-admin) submit daily payloads
# concurrently, some by PUT, some sent again (must be 409), re-sending what
# is refused (429, 5xx, transport errors) until it is stored; wrk hammers
# PREFIX/dataselect/public and PREFIX/dataselect/restricted (an EIDA token
# signed by a keyring made here; bench/soak.lua); at a third of the time the
# service is sent SIGHUP, at half PostgreSQL is restarted.
#
# At the end it checks that every accepted payload is stored exactly once
# (the database's counters equal the sums of the accepted payloads, and one
# payloads row per accepted payload), that nothing was refused for good and
# no client gave up, and prints p50/p99 latencies of submit and query,
# answers and errors by kind, and the service's peak RSS (VmHWM).  Exit 0
# when every check holds, 1 otherwise, 77 when something it needs is
# missing (PostgreSQL 15 with hll, wrk, gpg, python3).
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
D=600
while getopts d: o; do
	case $o in
	d) D=$OPTARG ;;
	*) echo "usage: bench/soak.sh [-d SECONDS] [BUILDDIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $D in
''|*[!0-9]*) echo "soak.sh: -d takes a number of seconds" >&2; exit 2 ;;
esac
[ "$D" -ge 10 ] || { echo "soak.sh: -d must be at least 10" >&2; exit 2; }
build=${1:-$here/_build}
build=$(cd "$build" && pwd) || exit 1
INGESTD=$build/src/ingestd/eidastats-ingestd
ADMIN=$build/src/admin/eidastats-admin
[ -x "$INGESTD" ] && [ -x "$ADMIN" ] || { echo "build eidastats first (no $INGESTD)" >&2; exit 1; }
for t in wrk gpg python3 curl; do
	command -v $t >/dev/null 2>&1 || { echo "soak.sh: $t is not installed" >&2; exit 77; }
done

. "$here/tests/sh/pg.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/es-soak.XXXXXX")
PID=""
KIDS=""
cleanup() {
	for k in $KIDS; do
		kill "$k" 2>/dev/null
	done
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	gpgconf --homedir "$T/g/eas" --kill gpg-agent 2>/dev/null
	pg_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "soak: FAIL: $*" >&2; exit 1; }
# waitfor SECONDS CMD...: polls CMD until it succeeds or the deadline passes.
waitfor() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

pg_start "$T" || exit $?
"$ADMIN" --db "$ES_DB" --sql-dir "$here/sql" db init >/dev/null 2>&1 || fail "db init"

# The EIDA keyring and a member's token.
G=$T/g
mkdir -m 700 "$G" "$G/eas" "$G/ring" "$T/run" "$T/out"
gpg --homedir "$G/eas" --batch -q --passphrase '' --quick-gen-key "eas <eas@example.org>" ed25519 sign 1y \
	2>/dev/null || fail "gpg could not make a key"
gpg --homedir "$G/eas" --batch -q --armor --export >"$G/ring/eas.asc" || fail "gpg export"
printf '%s\n' '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Soak", "memberof": "/epos"}' >"$G/tok.txt"
gpg --homedir "$G/eas" --batch -q --yes --clearsign -o "$G/tok" "$G/tok.txt" 2>/dev/null || fail "gpg sign"

i=0
while [ $i -lt 12 ]; do
	"$ADMIN" --db "$ES_DB" node add --name "node$i" --contact soak@example >/dev/null 2>&1 ||
		fail "node add node$i"
	"$ADMIN" --db "$ES_DB" token add --node "node$i" >"$T/token$i" 2>/dev/null || fail "token add node$i"
	i=$((i + 1))
done

# Open nodes: public queries see every network.
"$(pg__bin)/psql" -X -q -v ON_ERROR_STOP=1 "$ES_DB" -c "UPDATE nodes SET restriction_policy = false" ||
	fail "node policies"

cat >"$T/ingestd.yaml" <<EOF
db: "$ES_DB"
listen: 127.0.0.1:0
workers: 8
eas_keyring: $G/ring
runtime_dir: $T/run
max_connections_per_ip: 0
max_queries_per_client: 64
query_timeout: 30
EOF
"$INGESTD" --config "$T/ingestd.yaml" 2>"$T/ingestd.log" &
PID=$!
waitfor 10 grep -q 'listening on' "$T/ingestd.log" || { cat "$T/ingestd.log" >&2; fail "ingestd did not start"; }
ADDR=$(sed -n 's/.*listening on //p' "$T/ingestd.log" | tail -n 1)
BASE="http://$ADDR/eidaws/statistics/1"
P=/eidaws/statistics/1

echo "soak: ${D} s, 12 nodes, wrk on public and restricted, SIGHUP at $((D / 3)) s, PostgreSQL restart at $((D / 2)) s"
START=$(date +%s)
i=0
while [ $i -lt 12 ]; do
	python3 "$here/bench/soak.py" node "$BASE/submit" "$(cat "$T/token$i")" $i "$D" "$T/out" &
	KIDS="$KIDS $!"
	i=$((i + 1))
done
SOAK_PATHS="$P/dataselect/public?start=2020-01&level=node|$P/dataselect/public?start=2020-01&level=network&details=month|$P/dataselect/public?start=2020-01&end=2020-06&level=network&details=month,country|$P/dataselect/public?start=2021-01&format=json" \
	wrk -t 2 -c 8 -d "${D}s" --timeout 30s --latency -s "$here/bench/soak.lua" "$BASE" >"$T/wrk-public" 2>&1 &
KIDS="$KIDS $!"
SOAK_BODY="$G/tok" SOAK_PATHS="$P/dataselect/restricted?start=2020-01&level=network|$P/dataselect/restricted?start=2020-01&level=network&details=month" \
	wrk -t 1 -c 4 -d "${D}s" --timeout 30s --latency -s "$here/bench/soak.lua" "$BASE" >"$T/wrk-restricted" 2>&1 &
KIDS="$KIDS $!"

# The faults, at their times.
at() { _t=$((START + $1 - $(date +%s))); [ "$_t" -le 0 ] || sleep "$_t"; }
at $((D / 3))
kill -HUP "$PID" || fail "SIGHUP"
waitfor 20 grep -q 'SIGHUP' "$T/ingestd.log" || fail "the service did not log the SIGHUP"
echo "soak: $(($(date +%s) - START)) s: SIGHUP sent"
at $((D / 2))
pg_restart >/dev/null || fail "PostgreSQL did not restart"
echo "soak: $(($(date +%s) - START)) s: PostgreSQL restarted"

for k in $KIDS; do
	wait "$k"
done
KIDS=""
kill -0 "$PID" 2>/dev/null || fail "the service died"
HWM=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/"$PID"/status)

python3 "$here/bench/soak.py" summary "$T/out" >"$T/summary" || fail "summary"
val() { sed -n "s/^$1 //p" "$T/summary"; }
# The database against the accepted payloads.
db() { "$(pg__bin)/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$ES_DB" -c "$1"; }
dbsums=$(db "SELECT coalesce(sum(bytes),0) || ' ' || coalesce(sum(nb_reqs),0) || ' ' || coalesce(sum(nb_successful_reqs),0) || ' ' || coalesce(sum(nb_failed_reqs),0) FROM dataselect_stats") ||
	fail "reading the totals"
npay=$(db "SELECT count(*) FROM payloads") || fail "reading the payloads"
want="$(val total_bytes) $(val total_nb_requests) $(val total_nb_successful_requests) $(val total_nb_unsuccessful_requests)"

echo "--- submit"
echo "accepted payloads: $(val accepted) (re-sent until stored: $(val resent_until_stored); deliberate repeats answered 409: $(val repeats_409))"
echo "requests: $(val submit_requests); latency p50 $(val submit_p50_ms) ms, p99 $(val submit_p99_ms) ms"
echo "answers: $(grep '^submit_status_' "$T/summary" | sed 's/^submit_status_//' | tr '\n' ' ')"
for w in public restricted; do
	echo "--- query $w (wrk)"
	grep -E 'Requests/sec|requests in' "$T/wrk-$w" | sed 's/^ *//'
	echo "latency p50 $(sed -n 's/^p50_ms //p' "$T/wrk-$w") ms, p99 $(sed -n 's/^p99_ms //p' "$T/wrk-$w") ms"
	echo "answers: $(sed -n 's/^status //p' "$T/wrk-$w" | tr '\n' ' ')"
	grep '^errors ' "$T/wrk-$w"
done
echo "--- service"
echo "peak RSS (VmHWM): $((HWM / 1024)) MiB"
echo "log lines other than access, by kind:"
grep -v ' access ' "$T/ingestd.log" | sed 's/^eidastats-ingestd: //; s/[0-9][0-9]*/N/g' | cut -c1-70 |
	sort | uniq -c | sort -rn | head -8
echo "--- checks"
ok=0
if [ "$dbsums" = "$want" ]; then
	echo "database totals = sums of the accepted payloads: $dbsums"
else
	echo "MISMATCH: database totals $dbsums, accepted payloads $want"
	ok=1
fi
if [ "$npay" = "$(val accepted)" ]; then
	echo "payload rows = accepted payloads: $npay"
else
	echo "MISMATCH: $npay payload rows, $(val accepted) accepted"
	ok=1
fi
if [ "$(val anomalies)" = 0 ]; then
	echo "no payload refused for good, none given up, every repeat 409"
else
	grep '^anomaly' "$T/summary"
	ok=1
fi
[ "$(val accepted)" -gt 0 ] || { echo "nothing accepted"; ok=1; }
for w in public restricted; do
	grep -q '^status 200 ' "$T/wrk-$w" || { echo "no 200 from $w queries"; ok=1; }
done
[ $ok = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $ok
