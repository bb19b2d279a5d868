#!/bin/sh
# contrib/ for Prometheus (issue 12, "Metrics"): the alert rules pass
# `promtool check rules` and their cases (contrib/prometheus/
# eidastats.rules.test.yml: a node silent for 36 hours, a spool growing for
# 6 hours, and the cases that must not alert) pass `promtool test rules`;
# the sample eidastats-status.service writes a file the textfile collector
# accepts, replaced atomically, also when the daemon is down; the units
# pass `systemd-analyze verify` where it runs.
. "$top_srcdir/tests/sh/lib.sh"

command -v promtool >/dev/null 2>&1 || skip "promtool (Debian package prometheus) is not installed"
P=$top_srcdir/contrib/prometheus
S=$top_srcdir/contrib/systemd

promtool check rules "$P/eidastats.rules.yml" >"$T/out" 2>&1 || fail "promtool check rules: $(cat "$T/out")"
grep -q 'SUCCESS: 2 rules found' "$T/out" || fail "not two rules: $(cat "$T/out")"
# promtool test rules reads the rule file beside the test file.
cp "$P/eidastats.rules.yml" "$P/eidastats.rules.test.yml" "$T/"
(cd "$T" && promtool test rules eidastats.rules.test.yml) >"$T/out" 2>&1 ||
	fail "promtool test rules: $(cat "$T/out")"
# The rules name metrics that exist: the ingestd one in metrics.h, the daemon ones in cmd_status.c.
for m in eidastats_ingestd_node_last_submission_timestamp_seconds; do
	grep -q "$m" "$P/eidastats.rules.yml" || fail "the rules do not use $m"
	grep -q "\"${m#eidastats_ingestd_}\"" "$top_srcdir/src/ingestd/metrics.c" || fail "ingestd has no $m"
done
for m in eidastats_daemon_spool_pending_payloads eidastats_daemon_spool_pending_bytes; do
	grep -q "$m" "$P/eidastats.rules.yml" || fail "the rules do not use $m"
	grep -q "DM \"${m#eidastats_daemon_}\"" "$top_srcdir/src/eidastats/cmd_status.c" || fail "the CLI has no $m"
done

# The service's command, run with a stand-in for eidastats: the file is
# replaced by rename (a reader holding the old one keeps it whole) and
# written also when eidastats fails (exit 5, up 0).
cmd=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'$/\1/p" "$S/eidastats-status.service")
[ -n "$cmd" ] || fail "no ExecStart in eidastats-status.service"
mkdir -p "$T/bin" "$T/tf"
printf '#!/bin/sh\necho "eidastats_daemon_up $UP"\nexit $RC\n' >"$T/bin/eidastats"
chmod +x "$T/bin/eidastats"
run_unit() { DIR=$T/tf UP=$1 RC=$2 sh -c "$(printf '%s' "$cmd" | sed "s|/usr/bin/eidastats|$T/bin/eidastats|")"; }
run_unit 1 0 || fail "the service command failed"
[ "$(cat "$T/tf/eidastats.prom")" = "eidastats_daemon_up 1" ] || fail "eidastats.prom: $(cat "$T/tf/eidastats.prom")"
exec 3<"$T/tf/eidastats.prom"
run_unit 0 5 || fail "the service command failed when eidastats fails"
[ "$(cat "$T/tf/eidastats.prom")" = "eidastats_daemon_up 0" ] || fail "eidastats.prom after a failure"
[ "$(cat <&3)" = "eidastats_daemon_up 1" ] || fail "the old file was rewritten in place, not replaced"
exec 3<&-
[ ! -e "$T/tf/eidastats.prom.tmp" ] || fail "the temporary file was left"

if command -v systemd-analyze >/dev/null 2>&1; then
	cp "$S/eidastats-status.service" "$S/eidastats-status.timer" "$T/"
	# eidastatsd.service is named in After=; an empty stand-in keeps verify quiet about it.
	printf '[Service]\nExecStart=/bin/true\n' >"$T/eidastatsd.service"
	SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$T/eidastats-status.service" \
		"$T/eidastats-status.timer" >"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
	grep -v 'eidastats-status.service: Command /usr/bin/eidastats' "$T/verify" | grep -q . &&
		fail "systemd-analyze verify warns: $(cat "$T/verify")"
fi
exit 0
