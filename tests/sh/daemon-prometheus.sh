#!/bin/sh
# `eidastats status --prometheus` (issue 12, "Metrics"): the daemon's state
# in the Prometheus text format passes `promtool check metrics`; the values
# move when things happen: a delivered file, an outage of the central
# service (the failure count rises, the spool holds the payload), the
# recovery, a refused token (delivery paused), a stopped daemon (up 0).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

command -v promtool >/dev/null 2>&1 || skip "promtool (Debian package prometheus) is not installed"

# prom: the metrics into $T/prom (checked by promtool); the exit status of eidastats.
prom() {
	"$ES_CLI" status --socket "$ESD_SOCK" --prometheus >"$T/prom" 2>"$T/prom.err"
	_rc=$?
	promtool check metrics <"$T/prom" >"$T/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$T/promtool.out") in: $(cat "$T/prom")"
	return $_rc
}
value() { S=$1 awk '$1 == ENVIRON["S"] { print $2; found = 1 } END { if (!found) print "absent" }' "$T/prom"; }
expect_value() {
	[ "$(value "$1")" = "$2" ] || fail "$1 = $(value "$1"), expected $2"
}
# prom_ge SERIES N: the series is at least N now.
prom_ge() { prom && awk -v v="$(value "$1")" -v n="$2" 'BEGIN { exit !(v != "absent" && v >= n) }'; }

central_start
esd_config
esd_start
prom || fail "status --prometheus: $(cat "$T/prom.err")"
expect_value eidastats_daemon_up 1
expect_value eidastats_daemon_payloads_delivered_total 0
expect_value eidastats_daemon_last_delivery_timestamp_seconds 0
grep -q '^# TYPE eidastats_daemon_files_counted_total counter$' "$T/prom" || fail "no TYPE line: $(cat "$T/prom")"

# A file counted and delivered.
before=$(date +%s)
cp "$DATA/synthetic-small/small.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-01.bz2"
esd_wait 60 delivery.delivered 1
prom || fail "status --prometheus after a delivery"
expect_value eidastats_daemon_files_counted_total 1
expect_value 'eidastats_daemon_files{state="done"}' 1
expect_value eidastats_daemon_payloads_delivered_total 1
expect_value eidastats_daemon_spool_pending_payloads 0
expect_value eidastats_daemon_delivery_consecutive_failures 0
expect_value eidastats_daemon_delivery_paused_auth 0
last=$(value eidastats_daemon_last_delivery_timestamp_seconds)
awk -v l="$last" -v b="$before" 'BEGIN { exit !(l >= b && l <= b + 120) }' ||
	fail "last delivery at $last, file given at $before"

# An outage: the payload waits in the spool, the failures count up.
ingest_stop
cp "$DATA/hll-edges/hll-edges.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-02.bz2"
esd_wait 60 files_counted 2
wait_until 30 prom_ge eidastats_daemon_delivery_consecutive_failures 1 ||
	fail "no failure counted during the outage: $(cat "$T/prom")"
first=$(value eidastats_daemon_delivery_consecutive_failures)
wait_until 30 prom_ge eidastats_daemon_delivery_consecutive_failures $((first + 1)) ||
	fail "the failure count does not rise during the outage (stays $first)"
expect_value eidastats_daemon_spool_pending_payloads 1
awk -v b="$(value eidastats_daemon_spool_pending_bytes)" 'BEGIN { exit !(b > 0) }' || fail "spool bytes 0 with a payload pending"
expect_value eidastats_daemon_payloads_delivered_total 1
expect_value eidastats_daemon_last_delivery_timestamp_seconds "$last"

# The service back: delivered, the failures reset.
ingest_resume
esd_wait 60 spool.pending 0
prom || fail "status --prometheus after the outage"
expect_value eidastats_daemon_payloads_delivered_total 2
expect_value eidastats_daemon_delivery_consecutive_failures 0
expect_value eidastats_daemon_spool_pending_payloads 0

# A token the service refuses: delivery paused.
echo 0123456789abcdef0123456789abcdef >"$ESD_TOKEN_FILE"
esd_cmd reload | grep -q '"ok":true' || fail "reload with another token"
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-03.bz2"
esd_wait 60 delivery.state paused-auth
prom || fail "status --prometheus while paused"
expect_value eidastats_daemon_delivery_paused_auth 1
expect_value eidastats_daemon_spool_pending_payloads 1

# The daemon gone: exit status 5 and eidastats_daemon_up 0 for the collector.
esd_stop
prom && fail "status --prometheus succeeded without a daemon"
[ "$_rc" = 5 ] || fail "exit status $_rc without a daemon, expected 5"
expect_value eidastats_daemon_up 0
grep -q 'cannot reach eidastatsd' "$T/prom.err" || fail "message: $(cat "$T/prom.err")"
# --json and --prometheus together: a usage error.
"$ES_CLI" status --socket "$ESD_SOCK" --json --prometheus >/dev/null 2>&1
[ $? = 1 ] || fail "--json with --prometheus was accepted"
