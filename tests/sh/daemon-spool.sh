#!/bin/sh
# spool.max_bytes (issue 4): at the limit the daemon stops taking new files
# and says so, deletes nothing undelivered, and takes files again when
# deliveries make room.  The database then equals the golden.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi

central_start
URL=$ESD_URL
# No delivery yet, and room for one payload of about 2.4 MB, not two.
ESD_URL=
esd_config "spool: { max_bytes: 3M }" "workers: 2"
esd_start
cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-11-01.bz2 "$ESD_LOGS/"
bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$ESD_LOGS/fdsnws-requests.log.2024-10-31.bz2"
esd_wait 30 spool.full true
# Files already being read when the spool filled up finish first.
esd_wait 30 files.running 0
esd_wait 10 files_counted 1
check "one payload kept" test "$(esd_get spool.pending)" = 1
check "two files wait" test "$(esd_get files.waiting)" = 2
esd_get last_error.message | grep -q "the spool is full (spool.max_bytes = 3145728): not taking new files" ||
	fail "the full spool is not reported: $(esd_get last_error.message)"
"$ES_CLI" status --socket "$ESD_SOCK" | grep -q "FULL: not taking new files" || fail "status text lacks FULL"
# It stays so: no file is read again and again while nothing is delivered.
lines=$(esd_get lines.read)
sleep 3
check "no file read in vain while full" test "$(esd_get lines.read)" = "$lines"
check "still one payload" test "$(esd_get spool.pending)" = 1
check "nothing deleted" test "$(ls "$ESD_STATE/spool/"*.payload | wc -l)" = 1

# Deliveries make room: the waiting files are taken one by one.
ESD_URL=$URL
esd_config "spool: { max_bytes: 3M }" "workers: 2"
esd_cmd reload | grep -q '"ok":true' || fail "reload"
esd_wait 60 files_counted 3
esd_wait 30 spool.pending 0
check "not full any more" test "$(esd_get spool.full)" = false
db_check "$DATA/synthetic-small/expected-multi.json" || fail "database differs"
esd_stop
exit 0
