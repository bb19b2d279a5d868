#!/bin/sh
# A rotated day counts only once it is complete (README "The node daemon"),
# observed directly in the daemon's status while it waits, not through the
# deduplication of a day read twice:
#   1. a compressed file whose uncompressed twin still exists waits ("waiting
#      for compression to finish") for as long as the twin is there, and is
#      counted once the twin is gone;
#   2. a compressed file still being written is "settling" and not read until
#      it has been unchanged for `settle` seconds, then counted whole;
#   3. a plain dated file alone is read only `plain_after` seconds after its
#      last change.
# No central service: counting is what is watched (files_counted, lines.read).
# A plain file with a twin is "being compressed" for plain_after seconds after
# the twin's last change, then read (compression is taken as stuck): parts 1
# and 2 run with plain_after 300 so that no load can make the test look too
# late; part 3 reloads it to 24 s, its wait (20 s) a window wide enough to see.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi
ESD_URL=
esd_config
sed -i -e 's/^settle: 1$/settle: 3/' -e 's/^plain_after: 4$/plain_after: 300/' "$ESD_CONF"
grep -q '^settle: 3$' "$ESD_CONF" && grep -q '^plain_after: 300$' "$ESD_CONF" || fail "could not set the timings"
esd_start

# reason_of NAME: the reason the status gives for the waiting file NAME.
reason_of() {
	esd_get waiting_files | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    if f["file"] == sys.argv[1]:
        print(f["state"] + ": " + f["reason"])' "$1"
}
reason_is() { reason_of "$1" | grep -q "$2"; }
# counted NAME LINES: NAME was counted exactly once, with LINES lines (the
# daemon's "counted:" log line; lines.read also counts lines read in vain
# from an unfinished stream).
counted() {
	grep "info: counted: .*(file $1, payload " "$ESD_LOG" >"$T/counted" || fail "$1 was not counted"
	[ "$(wc -l <"$T/counted")" = 1 ] || fail "$1 was counted more than once: $(cat "$T/counted")"
	grep -q "counted: $2 lines " "$T/counted" || fail "$1 was not counted whole ($2 lines): $(cat "$T/counted")"
}

# 1. The twin.  The plain day is old; its .bz2 is complete but dated in the
# future, as if compression were still going on, so nothing else decides.
D1=fdsnws-requests.log.2024-10-30
# In this order the plain file is never old and alone, which would be read at once.
bzip2 -dc "$MULTI/$D1.bz2" >"$ESD_LOGS/$D1"
cp "$MULTI/$D1.bz2" "$ESD_LOGS/$D1.bz2"
touch -d '1 hour' "$ESD_LOGS/$D1.bz2"
touch -d '1 hour ago' "$ESD_LOGS/$D1"
wait_until 30 reason_is "$D1.bz2" "waiting for compression to finish: the uncompressed twin still exists" ||
	fail "$D1.bz2 does not wait for its twin: $(reason_of "$D1.bz2")"
wait_until 10 reason_is "$D1" "being compressed" || fail "$D1 is not 'being compressed': $(reason_of "$D1")"
check "nothing counted while the twin exists" test "$(esd_get files_counted)" = 0
check "nothing read while the twin exists" test "$(esd_get lines.read)" = 0
rm "$ESD_LOGS/$D1"
esd_wait 30 files_counted 1
counted "$D1.bz2" "$(bzip2 -dc "$MULTI/$D1.bz2" | wc -l)"

# 2. A .bz2 written over about 8 s in eight pieces: "settling" while it
# changes, never counted before it is whole.  (On a machine so loaded that the
# writer pauses past `settle`, the daemon reads the partial stream, finds it
# unfinished and waits: that is allowed, counting it is not.)
D2=fdsnws-requests.log.2024-11-01
size=$(wc -c <"$MULTI/$D2.bz2")
chunk=$(( size / 8 + 1 ))
: >"$ESD_LOGS/$D2.bz2"
# The writer runs on its own, so that looking at the status never delays it.
(
	i=0
	while [ $i -lt 8 ]; do
		dd if="$MULTI/$D2.bz2" bs="$chunk" skip=$i count=1 2>/dev/null >>"$ESD_LOGS/$D2.bz2"
		sleep 1
		i=$((i + 1))
	done
	: >"$T/written"
) &
writer=$!
bg_track "$writer"
seen=0
while [ ! -e "$T/written" ]; do
	# One status call per look (cheap even under ASan on a busy machine).
	"$ES_CLI" status --socket "$ESD_SOCK" --json >"$T/st.json" || fail "status"
	[ -e "$T/written" ] && break
	[ "$("$TOOLS/jget" files_counted <"$T/st.json")" = 1 ] || fail "$D2.bz2 was counted while being written"
	r=""
	if [ "$("$TOOLS/jget" 'waiting_files[0].file' <"$T/st.json" 2>/dev/null)" = "$D2.bz2" ]; then
		r="$("$TOOLS/jget" 'waiting_files[0].state' <"$T/st.json"): $("$TOOLS/jget" 'waiting_files[0].reason' <"$T/st.json")"
	fi
	case $r in
	"settling: settling: unchanged for "*) seen=$((seen + 1)) ;;
	"settling: compressed stream not complete yet; waiting") seen=$((seen + 1)) ;;
	"settling: new"|"queued: queued"|"running: "*|"") ;;
	*) fail "$D2.bz2 while written: $r" ;;
	esac
done
wait "$writer" || fail "the writer failed"
cmp -s "$MULTI/$D2.bz2" "$ESD_LOGS/$D2.bz2" || fail "the slow copy went wrong"
check "the growing file was seen held back ($seen times)" test "$seen" -ge 1
esd_wait 30 files_counted 2
counted "$D2.bz2" "$(bzip2 -dc "$MULTI/$D2.bz2" | wc -l)"
check "nothing failed" test "$(esd_get files.failed)" = 0
grep -qi "truncat" "$ESD_LOG" && fail "a file was read before it was whole: $(grep -i truncat "$ESD_LOG")"

# 3. A plain day alone, last changed 4 s ago (past `settle`): it waits until
# plain_after (24 s) after that change.
sed -i -e 's/^plain_after: 300$/plain_after: 24/' "$ESD_CONF"
grep -q '^plain_after: 24$' "$ESD_CONF" || fail "could not set plain_after"
esd_cmd reload | grep -q '"ok":true' || fail "reload with plain_after 24"
D3=fdsnws-requests.log.2024-10-31
cp "$MULTI/$D3" "$ESD_LOGS/$D3"
changed=$(( $(date +%s) - 4 ))
touch -d "@$changed" "$ESD_LOGS/$D3"
wait_until 10 reason_is "$D3" "uncompressed: read 24 s after its last change unless compressed first" ||
	fail "$D3 does not wait for plain_after: $(reason_of "$D3")"
seen_at=$(date +%s)
[ "$(esd_get files_counted)" = 2 ] || fail "$D3 was counted before plain_after"
check "the wait was seen before plain_after ended" test "$seen_at" -lt $((changed + 24))
esd_wait 60 files_counted 3
counted "$D3" "$(wc -l <"$MULTI/$D3")"
check "three files, three payloads" test "$(ls "$ESD_STATE/spool/"*.payload | wc -l)" = 3
esd_stop
echo "twin, settle and plain_after hold files back until they are complete"
