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
bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/whole.bz2" && mv "$T/whole.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-31.bz2"   # whole, then in place
esd_wait 30 spool.full true
# Files already being read when the spool filled up finish first.
esd_wait 30 files.running 0
esd_wait 10 files_counted 1
check "one payload kept" test "$(esd_get spool.pending)" = 1
# The file moved in last is seen by a directory scan that may still be on
# its way (an inotify hint, then a scan on the work pool): wait for it.
esd_wait 30 files.waiting 2
esd_get last_error.message | grep -q "the spool is full (spool.max_bytes = 3145728): not taking new files" ||
	fail "the full spool is not reported: $(esd_get last_error.message)"
"$ES_CLI" status --socket "$ESD_SOCK" | grep -q "FULL: not taking new files" || fail "status text lacks FULL"
# It stays so: no file is read again and again while nothing is delivered.
# The positive event: the daemon keeps looking (a rescan, and a new day that
# settles and is queued after it) and decides to read nothing.
lines=$(esd_get lines.read)
esd_cmd rescan | grep -q '"ok":true' || fail "rescan"
bzip2 -c "$DATA/null-country/null-country.log" >"$T/nc.bz2"
mv "$T/nc.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-01.bz2"
queued() {
	esd_get waiting_files | python3 -c '
import json, sys
sys.exit(0 if any(f["file"] == sys.argv[1] and f["state"] == "queued" for f in json.load(sys.stdin)) else 1)' \
		fdsnws-requests.log.2024-10-01.bz2
}
wait_until 30 queued || fail "the new day was not queued: $(esd_get waiting_files)"
check "three files wait" test "$(esd_get files.waiting)" = 3
check "no file read in vain while full" test "$(esd_get lines.read)" = "$lines"
check "still full" test "$(esd_get spool.full)" = true
check "still one payload" test "$(esd_get spool.pending)" = 1
check "nothing deleted" test "$(ls "$ESD_STATE/spool/"*.payload | wc -l)" = 1

# Deliveries make room: the waiting files are taken one by one.
ESD_URL=$URL
esd_config "spool: { max_bytes: 3M }" "workers: 2"
esd_cmd reload | grep -q '"ok":true' || fail "reload"
esd_wait 60 files_counted 4
esd_wait 30 spool.pending 0
check "not full any more" test "$(esd_get spool.full)" = false
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/null-country/expected.json" ||
	fail "database differs"
esd_stop
exit 0
