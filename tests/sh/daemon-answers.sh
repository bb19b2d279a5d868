#!/bin/sh
# What eidastatsd does with each kind of answer from the central service, and
# what the control commands `retry` and `rescan` do (README "The node daemon").
# The central service is tests/daemon/faultsrv alone (no PostgreSQL): it
# answers as scripted and says "stored" to a pass.
#   - upstream's 400 "already exists" counts as delivered (a duplicate), not
#     as a rejection;
#   - 408 and 429 are retried, not rejected;
#   - the wait between failed attempts doubles from retry.initial up to
#     retry.max and stays there (half of it fixed, half random);
#   - `retry` ends a long wait (here a Retry-After of 600 s) at once;
#   - `rescan` reads a failed file again.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

ESD_TOKEN_FILE=$T/token
(umask 077 && echo 0123456789abcdef0123456789abcdef >"$ESD_TOKEN_FILE")
fault_script pass
CENTRAL_URL=
fault_start
# retry.initial 1 s, retry.max 3 s: waits of 1, 2, 3, 3 ... s before jitter.
esd_config
sed -i 's/^    max: 2$/    max: 3/' "$ESD_CONF"
grep -q '^    max: 3$' "$ESD_CONF" || fail "could not set retry.max"
esd_start
n=0
drop() {
	# drop GOLDEN-LOG: a new day (each a different log: the same content
	# would be a duplicate day), counted and spooled.
	n=$((n + 1))
	case $1 in
	*.bz2) cp "$1" "$T/next.bz2" ;;
	*) bzip2 -c "$1" >"$T/next.bz2" ;;
	esac
	mv "$T/next.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-$((10 + n)).bz2"
	esd_wait 30 files_counted "$n"
}
answers() { wc -l <"$FAULT_LOG"; }

# 1. Upstream's duplicate answer: 400 with "already exists".
fault_script 'status 400 {"error": "Statistic already exists"}'
drop "$DATA/upstream-sample/test.log.bz2"
esd_wait 30 spool.pending 0
check "400 'already exists' is a duplicate" test "$(esd_get delivery.duplicates)" = 1
check "... not a rejection" test "$(esd_get delivery.rejected)" = 0
check "... nothing kept in rejected/" test "$(esd_get spool.rejected)" = 0
grep -q "duplicate: answered HTTP 400 'already exists'; counted as delivered" "$ESD_LOG" ||
	fail "the duplicate is not logged as delivered"
# A 400 without those words is a rejection: the rule reads the answer.
fault_script 'status 400 {"error": "bad payload"}'
drop "$DATA/null-country/null-country.log"
esd_wait 30 spool.rejected 1
check "a plain 400 is rejected" test "$(esd_get delivery.rejected)" = 1
check "... and no duplicate" test "$(esd_get delivery.duplicates)" = 1

# 2. 408 and 429 are retried, then the payload is delivered.
fault_script "status 408 request timeout" "status 429 too many requests" pass
drop "$DATA/hll-edges/hll-edges.log.bz2"
esd_wait 30 spool.pending 0
check "delivered after 408 and 429" test "$(esd_get delivery.delivered)" = 1
check "neither was a rejection" test "$(esd_get delivery.rejected)" = 1
tail -n 3 "$FAULT_LOG" | awk '{print $2 " " $4}' >"$T/tail"
printf 'status 408\nstatus 429\npass 200\n' >"$T/tail.want"
cmp -s "$T/tail" "$T/tail.want" || { cat "$FAULT_LOG" >&2; fail "not 408, 429, then 200"; }

# 3. Backoff: five 500s in a row; the waits grow from 1 s and stop at 3 s.
start=$(wc -l <"$ESD_LOG")
fault_script "status 500 internal error" "status 500 internal error" "status 500 internal error" \
	"status 500 internal error" "status 500 internal error" pass
drop "$DATA/synthetic-small/multi/fdsnws-requests.log.2024-10-30.bz2"
esd_wait 60 spool.pending 0
tail -n +"$((start + 1))" "$ESD_LOG" | sed -n 's/.*next delivery attempt in \([0-9.]*\) s.*/\1/p' >"$T/waits"
check "five waits ($(tr '\n' ' ' <"$T/waits"))" test "$(wc -l <"$T/waits")" = 5
# Wait k is in [base/2, base] with base = min(1 * 2^(k-1), 3).
awk 'BEGIN { split("1 2 3 3 3", base, " ") }
	{ b = base[NR]; if ($1 < b / 2 - 0.05 || $1 > b + 0.05) { print "wait " NR " = " $1 " s, not in [" b / 2 ", " b "]"; bad = 1 } }
	END { exit bad }' "$T/waits" || fail "backoff waits: $(tr '\n' ' ' <"$T/waits")"
echo "# backoff waits: $(tr '\n' ' ' <"$T/waits")"

# 4. `retry` ends a 600 s wait at once.
fault_script "retry-after 600" pass
drop "$DATA/synthetic-small/multi/fdsnws-requests.log.2024-11-01.bz2"
esd_wait 30 delivery.state backoff
wait_until 10 esd_ge delivery.next_attempt_s 500 || fail "no long wait: $(esd_get delivery.next_attempt_s)"
delivered=$(esd_get delivery.delivered)
esd_cmd retry | grep -q '"ok":true,"command":"retry"' || fail "retry refused"
esd_wait 20 spool.pending 0
check "delivered right after retry" test "$(esd_get delivery.delivered)" = $((delivered + 1))
grep -q "control: retry" "$ESD_LOG" || fail "the retry is not logged"

# 5. `rescan` reads a failed file again (a failed file is otherwise left
# alone until it changes).
printf 'BZh91AY&SY this is not bzip2 data at all\n' >"$ESD_LOGS/fdsnws-requests.log.2024-01-01.bz2"
esd_wait 30 files.failed 1
tries() { grep -c "cannot aggregate.*(file fdsnws-requests.log.2024-01-01.bz2" "$ESD_LOG"; }
before=$(tries)
check "the failure is logged" test "$before" -ge 1
esd_cmd rescan | grep -q '"ok":true,"command":"rescan"' || fail "rescan refused"
tries_gt() { [ "$(tries)" -gt "$1" ]; }
wait_until 30 tries_gt "$before" || fail "rescan did not read the failed file again"
esd_wait 30 files.failed 1
grep -q "control: rescan" "$ESD_LOG" || fail "the rescan is not logged"
esd_stop
echo "duplicates, retried answers, backoff, retry and rescan behave"
