#!/bin/sh
# The node on a bad day (issue 11): the wall clock jumps backwards and
# forwards under the running daemon (libfaketime with a timestamp file the
# test rewrites; the monotonic clock and file times stay real, as on a
# machine whose clock is stepped).
#
# Part 1, a day back: an uncompressed file that waits (plain_after) and a
# compressed file that arrives after the jump (its mtime is "in the future")
# are read after their usual waits, not a day later.
# Part 2, a day forward: an uncompressed file being written (first seen
# before the jump) does not look a day old: it waits for plain_after and is
# read once, whole, after its last write.  Its whole content is that of a
# day already counted, so it adds nothing; read early, its first part would
# have been counted as well.
# Part 3: the central service is down while the clock jumps a day back:
# the backoff keeps its pace (no storm, no stall) and delivery resumes when
# the service is back.
# Each jump is logged.  At the end the database equals the golden exactly:
# nothing lost, no file counted twice.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"
MULTI=$DATA/synthetic-small/multi

LIBFT=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1 \
	/usr/lib/faketime/libfaketimeMT.so.1 /usr/local/lib/faketime/libfaketimeMT.so.1; do
	[ -f "$f" ] && { LIBFT=$f; break; }
done
[ -n "$LIBFT" ] || skip "libfaketime is not installed (Debian package faketime)"

central_start
esd_config
sed -i 's/^plain_after: 4$/plain_after: 30/' "$ESD_CONF"
FT=$T/faketime
echo "+0" >"$FT"
# A sanitizer build wants its runtime first in the list of preloaded libraries.
PRELOAD=$LIBFT
ASANLIB=$(ldd "${ESD_BIN:-$ESD_BIN_DEFAULT}" 2>/dev/null | sed -n 's/^[[:space:]]*libasan[^ ]* => \([^ ]*\) .*/\1/p' | head -1)
[ -z "$ASANLIB" ] || PRELOAD="$ASANLIB:$LIBFT"
ESD_RUNAS="env LD_PRELOAD=$PRELOAD FAKETIME_TIMESTAMP_FILE=$FT FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1"
esd_start

# The daemon's idea of the time: its uptime is (wall now) - (wall at start).
uptime_below() { [ "$(esd_get uptime_s)" -lt "$1" ] 2>/dev/null; }
uptime_above() { [ "$(esd_get uptime_s)" -gt "$1" ] 2>/dev/null; }
waiting() {
	esd_get waiting_files | python3 -c '
import json, sys
sys.exit(0 if any(f["file"] == sys.argv[1] and f["reason"].startswith(sys.argv[2])
                  for f in json.load(sys.stdin)) else 1)' "$1" "$2"
}
jumps() { grep -c "the wall clock jumped by" "$ESD_LOG"; }

# Part 1.
cp "$MULTI/fdsnws-requests.log.2024-10-31" "$ESD_LOGS/"
wait_until 20 waiting fdsnws-requests.log.2024-10-31 uncompressed ||
	fail "the uncompressed file does not wait: $(esd_get waiting_files)"
echo "-1d" >"$FT"
wait_until 10 uptime_below -80000 || fail "the clock did not jump back (uptime $(esd_get uptime_s))"
cp "$MULTI/fdsnws-requests.log.2024-10-30.bz2" "$ESD_LOGS/"
esd_wait 60 files.done 2
wait_until 20 grep -q "the wall clock jumped by -86[34][0-9][0-9] s" "$ESD_LOG" ||
	fail "the jump back is not logged"
esd_wait 30 spool.pending 0

# Part 2.
P=$ESD_LOGS/fdsnws-requests.log.2024-11-02
head -n 2000 "$MULTI/fdsnws-requests.log.2024-10-31" >"$P"
wait_until 20 waiting fdsnws-requests.log.2024-11-02 uncompressed ||
	fail "the active file does not wait: $(esd_get waiting_files)"
n=$(jumps)
echo "+1d" >"$FT"
wait_until 10 uptime_above 80000 || fail "the clock did not jump forward (uptime $(esd_get uptime_s))"
# A scan now (not at the file's due time) meets the file after the jump.
esd_cmd rescan | grep -q '"ok":true' || fail "rescan"
wait_until 10 sh -c "[ \$(grep -c 'the wall clock jumped by' '$ESD_LOG') -gt $n ]" ||
	fail "the jump forward is not logged"
check "the active file still waits after the jump" waiting fdsnws-requests.log.2024-11-02 uncompressed
tail -n +2001 "$MULTI/fdsnws-requests.log.2024-10-31" >>"$P"
esd_wait 60 files.done 3
check "two files counted" test "$(esd_get files_counted)" = 2
grep -q "same content as 'fdsnws-requests.log.2024-10-31', already counted (file fdsnws-requests.log.2024-11-02," "$ESD_LOG" ||
	fail "the active file was not read whole"


# Part 3.
ingest_stop
cp "$MULTI/fdsnws-requests.log.2024-11-01.bz2" "$ESD_LOGS/"
esd_wait 30 files_counted 3
wait_until 30 esd_ge delivery.consecutive_failures 2 || fail "no retries while the service is down"
echo "+0" >"$FT"
wait_until 10 uptime_below 80000 || fail "the clock did not jump back again"
f0=$(esd_get delivery.consecutive_failures)
wait_until 30 esd_ge delivery.consecutive_failures $((f0 + 2)) || fail "the retries stalled after the jump"
ingest_resume
esd_wait 30 spool.pending 0
# retry.initial 1 s, retry.max 2 s: every wait was within them.
grep -o 'next delivery attempt in [0-9.]* s' "$ESD_LOG" | awk '$5 < 0.5 || $5 > 2.0 { bad = 1 } END { exit bad }' ||
	fail "a backoff outside 0.5..2 s: $(grep -o 'next delivery attempt in [0-9.]* s' "$ESD_LOG" | sort | uniq -c)"
a=$(esd_get delivery.attempts)
f=$(grep -c 'delivery failed, will retry' "$ESD_LOG")
check "no storm: one attempt per failure or delivery (attempts $a, failures $f)" test "$a" -le $((f + 5))

check "no file failed" test "$(esd_get files.failed)" = 0
check "no duplicate answers" test "$(esd_get delivery.duplicates)" = 0
check "three payloads stored" test "$(db_payloads)" = 3
db_check "$DATA/synthetic-small/expected-multi.json" ||
	fail "the database differs from the golden"
esd_stop
exit 0
