#!/bin/sh
# Reloads and responsiveness (issue 4, test 5).
#
# SIGHUP with a good configuration applies it (files ignored by `since` are
# then counted); SIGHUP and `reload` with a bad one are refused and the old
# configuration keeps working; a refused token (401/403) pauses deliveries
# until a reload with the right token; and the control socket answers at once
# while a big file is being aggregated.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi

central_start
esd_config "since: 2099-01-01"
esd_start
cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-11-01.bz2 "$ESD_LOGS/"
bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/whole.bz2" && mv "$T/whole.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-31.bz2"   # whole, then in place
# "ignored" is the daemon's decision on each file (it looked and will not
# count it): no time to wait for nothing to happen.
esd_wait 20 files.ignored 3
check "files before since are not counted" test "$(esd_get files_counted)" = 0
check "files before since are not read" test "$(esd_get lines.read)" = 0
check "files before since do not wait" test "$(esd_get files.waiting)" = 0

# A good configuration by SIGHUP: the files are counted.
esd_config
kill -HUP "$ESD_PID"
esd_wait 60 files_counted 3
esd_wait 30 spool.pending 0
db_check "$DATA/synthetic-small/expected-multi.json" || fail "database after the good reload"

# A bad configuration by SIGHUP and by `reload`: refused, the old one stays.
esd_config "bogus_key: 1"
kill -HUP "$ESD_PID"
wait_until 10 sh -c "grep -q 'reload refused' '$ESD_LOG'" || fail "no refusal logged"
kill -0 "$ESD_PID" || fail "the daemon died of a bad reload"
esd_get last_error.message | grep -q "reload refused.*bogus_key" || fail "the refusal is not in the status"
esd_cmd reload >"$T/reload.out"
grep -q '"ok":false,"error":".*bogus_key' "$T/reload.out" || fail "reload: $(cat "$T/reload.out")"
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2020-09-18.bz2"
esd_wait 30 files_counted 4
esd_wait 30 spool.pending 0
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" ||
	fail "database after the bad reload"

# A token the service refuses pauses deliveries until a reload.
cp "$ESD_TOKEN_FILE" "$T/good-token"
echo 0123456789abcdef0123456789abcdef >"$ESD_TOKEN_FILE"
esd_config
esd_cmd reload | grep -q '"ok":true' || fail "reload with a well-formed token file"
cp "$DATA/hll-edges/hll-edges.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-02.bz2"
esd_wait 30 delivery.state paused-auth
esd_get delivery.auth_problem | grep -q "refused the token (HTTP 40[13])" || fail "auth problem not shown"
"$ES_CLI" status --socket "$ESD_SOCK" | grep -q "deliveries paused until reload" || fail "status text lacks the pause"
check "the payload waits" test "$(esd_get spool.pending)" = 1
if grep -q "$(cat "$ESD_TOKEN_FILE")" "$ESD_LOG"; then fail "the token appears in the log"; fi
cat "$T/good-token" >"$ESD_TOKEN_FILE"
esd_cmd reload | grep -q '"ok":true' || fail "reload with the good token"
esd_wait 30 spool.pending 0
check "delivery resumed" test "$(esd_get delivery.state)" = idle
if grep -q "$(cat "$ESD_TOKEN_FILE")" "$ESD_LOG"; then fail "the token appears in the log"; fi

# The control socket answers at once while a big file is aggregated: twenty
# copies of the 20 000-line log in one gzip file.
copies=20
i=0
while [ $i -lt $copies ]; do
	bzip2 -dc "$DATA/synthetic-small/small.log.bz2"
	i=$((i + 1))
done | gzip -1 >"$T/big.gz"
mv "$T/big.gz" "$ESD_LOGS/fdsnws-requests.log.2024-09-29.gz"
# Each answer that still reports the file running was given during the
# aggregation; an event loop blocked by the file would answer once, at its
# end, and report it done.  So three such answers prove the loop free, and
# how many more fit depends only on the machine (a sanitizer build under
# load gave 4 of 10 copies' worth).  Latency is judged against the
# aggregation's own length (both grow alike on a slow or busy machine), not
# against a fixed number of ms.
esd_wait 30 files.running 1
slowest=0
n=0
span0=$(date +%s%N)
while :; do
	t0=$(date +%s%N)
	running=$(esd_get files.running) || fail "status failed while aggregating"
	t1=$(date +%s%N)
	[ "$running" = 1 ] || break
	ms=$(( (t1 - t0) / 1000000 ))
	[ $ms -gt $slowest ] && slowest=$ms
	n=$((n + 1))
done
span=$(( ($(date +%s%N) - span0) / 1000000 ))
echo "status answered $n times during ${span} ms of aggregation; slowest ${slowest} ms"
check "status answered at least 3 times while the big file was read ($n)" test $n -ge 3
check "the slowest status (${slowest} ms) took under a fifth of the aggregation (${span} ms)" \
	test $((slowest * 5)) -lt "$span"
esd_wait 120 spool.pending 0
set -- "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" \
	"$DATA/hll-edges/expected.json"
i=0
while [ $i -lt $copies ]; do
	set -- "$@" "$DATA/synthetic-small/expected.json"
	i=$((i + 1))
done
db_check "$@" || fail "database after the big file"

# SIGTERM while a big file is read: a clean stop; the file is not recorded
# and is read again after the restart (five copies: other content).
i=0
while [ $i -lt 5 ]; do
	bzip2 -dc "$DATA/synthetic-small/small.log.bz2"
	i=$((i + 1))
done | gzip -1 >"$T/big5.gz"
mv "$T/big5.gz" "$ESD_LOGS/fdsnws-requests.log.2024-09-28.gz"
# The daemon is frozen (SIGSTOP) as soon as it reports the file running, and
# SIGTERM is queued before it runs again: the stop is handled on the loop's
# first turn after SIGCONT, while most of the 100 000 lines remain to be read
# (seconds of work), and the worker checks for a stop before it commits.
esd_wait 30 files.running 1
kill -STOP "$ESD_PID"
kill -TERM "$ESD_PID"
kill -CONT "$ESD_PID"
esd__reap 30
check "a clean stop during aggregation (status $ESD_RC)" test "$ESD_RC" = 0
grep -q "SIGTERM: stopping" "$ESD_LOG" || fail "the stop is not logged"
[ ! -e "$ESD_SOCK" ] || fail "the control socket was left behind after a clean stop"
check "nothing spooled for the abandoned file" test "$(ls "$ESD_STATE/spool/"*.payload 2>/dev/null | wc -l)" = 0
esd_start
esd_wait 120 files_counted 1
esd_wait 60 spool.pending 0
i=0
while [ $i -lt 5 ]; do
	set -- "$@" "$DATA/synthetic-small/expected.json"
	i=$((i + 1))
done
db_check "$@" || fail "database after the stop during aggregation"
esd_stop
exit 0
