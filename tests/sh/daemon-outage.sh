#!/bin/sh
# The central service down, failing, resetting, slow (issue 4, test 2).
#
# Part 1: eidastats-ingestd is stopped; the daemon spools every file and
# retries; when ingestd is back, everything is delivered, nothing twice.
# Part 2: the daemon talks to ingestd through tests/daemon/faultsrv, which
# answers 500, resets the connection, is slow, stores a payload and answers
# 500 anyway (the upstream service's hazard), and answers 503 with
# Retry-After.  Everything arrives exactly once; the payload stored behind a
# 500 comes back as a duplicate (409) and is flagged for attention.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi

central_start
ingest_stop
esd_config
esd_start
cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-10-31 \
	"$MULTI"/fdsnws-requests.log.2024-11-01.bz2 "$ESD_LOGS/"
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2020-09-18.bz2"
# The plain middle day waits plain_after (4 s); then all four are spooled.
esd_wait 60 files_counted 4
esd_wait 10 spool.pending 4
wait_until 20 esd_ge delivery.consecutive_failures 2 ||
	fail "the daemon does not retry while the service is down"
check "nothing delivered while down" test "$(esd_get delivery.delivered)" = 0
"$ES_CLI" status --socket "$ESD_SOCK" >"$T/status.txt" || fail "eidastats status failed"
grep -Eq '^delivery: +(backoff|sending), [0-9]+ failed attempts' "$T/status.txt" ||
	{ cat "$T/status.txt" >&2; fail "the status does not show the failing deliveries"; }
grep -q '^last error: .*delivery failed' "$T/status.txt" ||
	{ cat "$T/status.txt" >&2; fail "the status does not show the last error"; }
ingest_resume
esd_wait 30 spool.pending 0
esd_wait 10 delivery.delivered 4
check "no duplicate answers" test "$(esd_get delivery.duplicates)" = 0
check "four payloads in the database" test "$(db_payloads)" = 4
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" ||
	fail "database differs after the outage"
esd_stop

# Part 2: faults between the daemon and ingestd.
fault_script "status 500 internal error" reset "slow 2" "after 500" "retry-after 3" pass
fault_start "$CENTRAL_URL"
esd_config
esd_start
cp "$DATA/synthetic-small/small.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-01.bz2"
cp "$DATA/hll-edges/hll-edges.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-02.bz2"
esd_wait 60 files_counted 2
esd_wait 60 spool.pending 0
check "every scripted fault was met" test "$(wc -l <"$FAULT_LOG")" -ge 6
grep -q ' reset ' "$FAULT_LOG" || fail "no reset happened"
grep -Eq ' after 20[0-9] 500 ' "$FAULT_LOG" || { cat "$FAULT_LOG" >&2; fail "no stored-then-500 happened"; }
grep -q 'next delivery attempt in 3.0 s' "$ESD_LOG" || fail "Retry-After: 3 was not honoured"
# The payload stored behind the 500 is answered 409 and flagged.
check "one duplicate" test "$(esd_get delivery.duplicates)" = 1
check "one attention entry" test "$(esd_get attention.#)" = 1
grep -q 'after an earlier 5xx' "$ESD_STATE/attention.log" || fail "attention.log lacks the flagged payload"
check "six payloads in the database" test "$(db_payloads)" = 6
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" \
	"$DATA/synthetic-small/expected.json" "$DATA/hll-edges/expected.json" ||
	fail "database differs after the faults"

# Part 3: TLS and DNS failures are retried too, and a reload to the right URL
# delivers.  https:// to the plain-HTTP fault server fails the TLS handshake.
FAULT_URL=$ESD_URL
ESD_URL=$(echo "$FAULT_URL" | sed 's|^http:|https:|')
esd_config
esd_cmd reload | grep -q '"ok":true' || fail "reload to https"
gzip -c "$DATA/null-country/null-country.log" >"$ESD_LOGS/fdsnws-requests.log.2024-10-03.gz"
esd_wait 30 files_counted 3
wait_until 20 esd_ge delivery.consecutive_failures 2 || fail "TLS failure not retried"
esd_get delivery.last_failure | grep -Eiq "ssl|tls" || fail "not a TLS failure: $(esd_get delivery.last_failure)"
ESD_URL=http://no-such-host.invalid/submit
esd_config
esd_cmd reload | grep -q '"ok":true' || fail "reload to an unknown host"
wait_until 20 sh -c "\"$ES_CLI\" status --socket \"$ESD_SOCK\" --json | \"$TOOLS/jget\" delivery.last_failure | grep -qi resolve" ||
	fail "DNS failure not retried: $(esd_get delivery.last_failure)"
check "the payload waits" test "$(esd_get spool.pending)" = 1
ESD_URL=$FAULT_URL
esd_config
esd_cmd reload | grep -q '"ok":true' || fail "reload to the right URL"
esd_wait 30 spool.pending 0
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" \
	"$DATA/synthetic-small/expected.json" "$DATA/hll-edges/expected.json" \
	"$DATA/null-country/expected.json" || fail "database differs after TLS and DNS failures"

# Part 4: a 4xx other than 401/403/408/409/429 rejects the payload for good:
# it is kept in spool/rejected/ with the reason, reported, and the next
# payloads go on.
before=$(db_payloads)
fault_script "status 422 the payload is unprocessable" pass
cp "$DATA/upstream-crashes/gzip.log.gz" "$ESD_LOGS/fdsnws-requests.log.2024-10-04.gz"
esd_wait 30 spool.rejected 1
esd_wait 10 spool.pending 0
check "one rejection counted" test "$(esd_get delivery.rejected)" = 1
esd_get last_error.message | grep -q "payload rejected: HTTP 422: the payload is unprocessable" ||
	fail "the rejection is not reported: $(esd_get last_error.message)"
ls "$ESD_STATE"/spool/rejected/*.payload >/dev/null 2>&1 || fail "the rejected payload is not kept"
grep -q "HTTP 422" "$ESD_STATE"/spool/rejected/*.reason || fail "the reason is not kept"
grep -q "alert: rejected, kept in spool/rejected/" "$ESD_LOG" || fail "no alert logged"
check "nothing stored for it" test "$(db_payloads)" = "$before"
esd_stop
exit 0
