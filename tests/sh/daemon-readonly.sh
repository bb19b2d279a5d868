#!/bin/sh
# The node on a bad day (issue 11): the state directory turns read-only (its
# tmpfs, in a private mount namespace, is remounted read-only under the
# running daemon; it holds no file open for writing between writes).
#
# Part 1: files arrive while it is read-only.  They are not failed: they
# wait, the log and `status` say why, nothing is counted; once it is
# writable again they are counted and delivered by themselves.
# Part 2: a payload is delivered while it is read-only, so its spool file
# cannot be removed.  It is not sent again, the log says so, and once the
# directory is writable the spool is updated by itself.  At the end the
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
bad_ro
cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-11-01.bz2 "$ESD_LOGS/"
esd_wait 60 files.state_directory_error "Read-only file system"
grep -q "error: the state directory $ESD_STATE cannot be written: cannot write the spool: Read-only file system; no file is taken until it can" "$ESD_LOG" ||
	{ cat "$ESD_LOG" >&2; fail "no clear message about the read-only state directory"; }
check "no file failed" test "$(esd_get files.failed)" = 0
check "the files wait" test "$(esd_get files.waiting)" = 2
check "nothing counted" test "$(esd_get files_counted)" = 0
check "the ledger learnt nothing" test "$(esd_get files.ledger)" = 0
check "the daemon still answers" esd_answers
bad_rw
esd_wait 60 files.done 2
esd_wait 60 spool.pending 0
grep -q "the state directory $ESD_STATE can be written again: taking files again" "$ESD_LOG" ||
	fail "the recovery is not logged"
check "no file failed after the recovery" test "$(esd_get files.failed)" = 0

# Part 2.
bad_delivery_part bad_ro bad_rw "Read-only file system"
esd_stop
exit 0
