# badday.sh - helpers of the "node on a bad day" tests (issue 11): the state
# directory on a small tmpfs of its own, in a private mount namespace, so
# that the machine's mounts are never touched.
#
#   bad_need_ns ARGS   source this file first and call it before lib.sh: it
#                 skips (77) without root, unshare or mount namespaces, and
#                 else runs the test again inside `unshare --mount
#                 --propagation private` (everything the test starts lives
#                 and ends there).
# After lib.sh and common.sh:
#   bad_state_tmpfs SIZE  mounts a tmpfs of SIZE on $ESD_STATE (unmounted at exit).
#   bad_fill      fills it up (a file "filler" takes every free byte).
#   bad_unfill    frees the space again.
#   bad_delivery_part BREAK MEND REASON  the shared second part of the
#                 disk-full and read-only tests (below).
#   bad_ro / bad_rw  remounts it read-only / read-write (retried while the
#                 daemon happens to hold a file open for writing).

bad_need_ns() {
	[ -z "${ES_BADDAY_NS:-}" ] || return 0
	if [ "$(id -u)" != 0 ]; then echo "SKIP: a private mount namespace needs root" >&2; exit 77; fi
	if ! command -v unshare >/dev/null 2>&1; then echo "SKIP: unshare is not installed" >&2; exit 77; fi
	if ! unshare --mount --propagation private true 2>/dev/null; then
		echo "SKIP: mount namespaces are not available" >&2; exit 77
	fi
	ES_BADDAY_NS=1 exec unshare --mount --propagation private sh "$0" "$@"
}

bad_state_tmpfs() {
	mount -t tmpfs -o "size=$1,mode=0750" tmpfs "$ESD_STATE" || fail "cannot mount a tmpfs on $ESD_STATE"
	es_at_exit "umount -l '$ESD_STATE' 2>/dev/null"
}

bad_fill() {
	dd if=/dev/zero of="$ESD_STATE/filler" bs=64k 2>/dev/null
	[ "$(df --output=avail -B1 "$ESD_STATE" | tail -n 1)" -lt 4096 ] || fail "the state file system is not full"
}

bad_unfill() {
	rm -f "$ESD_STATE/filler"
}

bad__remount() {
	mount -o "remount,$1" "$ESD_STATE" 2>/dev/null
}

bad_ro() {
	wait_until 20 bad__remount ro || fail "cannot remount $ESD_STATE read-only"
}

bad_rw() {
	wait_until 20 bad__remount rw || fail "cannot remount $ESD_STATE read-write"
}

# bad_delivery_part BREAK MEND REASON: part 2 of the state-directory tests: a
# payload is delivered while the fault (BREAK, e.g. bad_fill) keeps its spool
# file from being updated; the daemon must not send it again, say REASON (the
# strerror text) and finish the update once MEND has cleared the fault, every
# file counted once and the database equal to the golden data.
bad_delivery_part() {
	ingest_stop
	bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/whole.bz2"
	mv "$T/whole.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-31.bz2"
	esd_wait 60 files_counted 3
	esd_wait 10 spool.pending 1
	"$1"
	ingest_resume
	esd_wait 60 delivery.unfinished 1
	grep -q "delivered, but the spool cannot be updated: $3; it is not sent again" "$ESD_LOG" ||
		{ tail -n 20 "$ESD_LOG" >&2; fail "no clear message about the spool update"; }
	check "delivery waits for the spool update" test "$(esd_get delivery.state)" = spool-update
	check "three payloads stored" test "$(db_payloads)" = 3
	"$2"
	esd_wait 60 delivery.unfinished 0
	esd_wait 30 spool.pending 0
	grep -q "the spool is updated after the answer" "$ESD_LOG" || fail "the spool update is not logged"
	check "never sent again (no 409)" test "$(esd_get delivery.duplicates)" = 0
	check "delivered once each" test "$(grep -c ': delivered (HTTP' "$ESD_LOG")" = 3
	check "three payloads stored at the end" test "$(db_payloads)" = 3
	check "three files in the ledger" test "$(esd_get files.ledger)" = 3
	db_check "$DATA/synthetic-small/expected-multi.json" || fail "the database differs from the golden"
}
