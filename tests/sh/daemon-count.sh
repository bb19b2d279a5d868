#!/bin/sh
# Files dropped in the log directory are counted once (issue 4, test 1).
#
# Real PostgreSQL + hll, eidastats-ingestd and eidastatsd.  Three days
# arrive as SeisComP delivers them: a .bz2 copied in, a plain dated file
# that a slow "bzip2" replaces by its .bz2 over several seconds (then the
# plain file is removed), and another .bz2.  The database must then equal
# the golden of the three days, counters exactly and hll_cardinality.  Then
# the same days arrive again in every other form (renamed copy, touched,
# decompressed plain twin, gzip): nothing changes in the database.  A restart
# reads nothing again.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi
D1=fdsnws-requests.log.2024-10-30
D2=fdsnws-requests.log.2024-10-31
D3=fdsnws-requests.log.2024-11-01

central_start
# Two workers: copies of one day read at the same time are still counted once.
esd_config "workers: 2"
esd_start

# Day 1: a finished .bz2 appears.
cp "$MULTI/$D1.bz2" "$ESD_LOGS/$D1.bz2"

# Day 2: the SeisComP sequence.  The rotated plain file first ...
cp "$MULTI/$D2" "$ESD_LOGS/$D2"
# ... then bzip2 writes the .bz2 slowly, over about 4 s ...
bzip2 -c "$MULTI/$D2" >"$T/d2.bz2"
size=$(wc -c <"$T/d2.bz2")
chunk=$(( size / 8 + 1 ))
: >"$ESD_LOGS/$D2.bz2"
i=0
while [ $i -lt 8 ]; do
	dd if="$T/d2.bz2" bs="$chunk" skip=$i count=1 2>/dev/null >>"$ESD_LOGS/$D2.bz2"
	sleep 0.5
	i=$((i + 1))
done
cmp -s "$T/d2.bz2" "$ESD_LOGS/$D2.bz2" || fail "the slow copy of the .bz2 went wrong"
# ... and removes the plain file when it has finished.
rm "$ESD_LOGS/$D2"

# Day 3: another finished .bz2.
cp "$MULTI/$D3.bz2" "$ESD_LOGS/$D3.bz2"

esd_wait 60 files.done 3
esd_wait 60 spool.pending 0
esd_wait 30 delivery.delivered 3
check "nothing failed" test "$(esd_get files.failed)" = 0
check "three payloads counted" test "$(esd_get files_counted)" = 3
check "the database holds three payloads" test "$(db_payloads)" = 3
db_check "$DATA/synthetic-small/expected-multi.json" || fail "database differs from the golden"
if grep -qi "truncat" "$ESD_LOG"; then
	grep -i "truncat" "$ESD_LOG" >&2
	fail "the slowly written .bz2 was reported as truncated"
fi
lines=$(esd_get lines.read)
check "15000 lines read once" test "$lines" = 15000

# The same days again, in every other form: none is counted a second time.
cp "$MULTI/$D1.bz2" "$ESD_LOGS/$D1.copy.bz2"           # copied under another name
mv "$ESD_LOGS/$D3.bz2" "$ESD_LOGS/$D3.renamed.bz2"      # renamed
touch "$ESD_LOGS/$D1.bz2"                               # touched
bzip2 -dc "$MULTI/$D1.bz2" >"$ESD_LOGS/$D1.plain"       # decompressed
gzip -c "$MULTI/$D2" >"$ESD_LOGS/$D2.gz"                # recompressed with gzip
# 3 originals (one renamed) + 3 new forms + 1 touched: 6 names, all done.
esd_wait 60 files.done 6
esd_wait 10 files.waiting 0
check "still nothing failed" test "$(esd_get files.failed)" = 0
check "no new payload" test "$(esd_get files_counted)" = 3
check "the database still holds three payloads" test "$(db_payloads)" = 3
check "no new spool file" test "$(esd_get spool.pending)" = 0
db_check "$DATA/synthetic-small/expected-multi.json" || fail "database changed by duplicates"

# A restart reads no file again: the ledger knows their identities.
esd_stop
esd_start
# "done" is the daemon's decision on each of the six files after it looked
# them up in the ledger: nothing is waiting or running, so nothing will be read.
esd_wait 30 files.done 6
check "nothing waits after restart" test "$(esd_get files.waiting)" = 0
check "nothing runs after restart" test "$(esd_get files.running)" = 0
check "nothing read after restart" test "$(esd_get lines.read)" = 0
check "no payload after restart" test "$(esd_get files_counted)" = 0
check "still three payloads" test "$(db_payloads)" = 3
esd_stop
exit 0
