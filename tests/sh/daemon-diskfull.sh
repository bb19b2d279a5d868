#!/bin/sh
# The node on a bad day (issue 11): the state directory's file system fills
# up (a 24 MiB tmpfs of the test's own, filled by a file).
#
# Part 1: files arrive while it is full.  They are not failed: they wait,
# the log and `status` say why, nothing is counted, the ledger learns
# nothing; once space is freed they are counted and delivered by themselves.
# Part 2: a payload is delivered while it is full, so its spool file cannot
# be updated.  It is not sent again (no storm of repeats), the log says so,
# and once space is freed the spool is updated by itself.  At the end the
# database equals the golden exactly: nothing lost, nothing counted twice.
. "$top_srcdir/tests/daemon/badday.sh"
bad_need_ns "$@"
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"
MULTI=$DATA/synthetic-small/multi

central_start
bad_state_tmpfs 24m
esd_config
esd_start

# Part 1.
bad_fill
cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-11-01.bz2 "$ESD_LOGS/"
esd_wait 60 files.state_directory_error "No space left on device"
grep -q "error: the state directory $ESD_STATE cannot be written: cannot write the spool: No space left on device; no file is taken until it can" "$ESD_LOG" ||
	{ cat "$ESD_LOG" >&2; fail "no clear message about the full state directory"; }
esd_get last_error.message | grep -q "No space left on device" || fail "status: $(esd_get last_error.message)"
check "no file failed" test "$(esd_get files.failed)" = 0
check "the files wait" test "$(esd_get files.waiting)" = 2
check "nothing counted" test "$(esd_get files_counted)" = 0
check "the ledger learnt nothing" test "$(esd_get files.ledger)" = 0
check "nothing spooled" test "$(esd_get spool.pending)" = 0
bad_unfill
esd_wait 60 files.done 2
esd_wait 60 spool.pending 0
grep -q "the state directory $ESD_STATE can be written again: taking files again" "$ESD_LOG" ||
	fail "the recovery is not logged"
check "no file failed after the recovery" test "$(esd_get files.failed)" = 0

# Part 2.
bad_delivery_part bad_fill bad_unfill "No space left on device"
esd_stop
exit 0
