#!/bin/sh
# The crash oracle (issue 4, test 3).
#
# eidastatsd-crash is the daemon with its crash points compiled in: with
# EIDASTATS_CRASHPOINT=NAME[:N] it _exit(99)s the N-th time it passes NAME.
# For every point: start it on three log files, let it crash there, restart
# it without the crash point, and the database must equal the golden exactly
# (no loss, no double count).  Each point has its own node (and token), its
# own state and log directory, against one PostgreSQL and one ingestd.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi
CRASH_BIN=$top_builddir/src/eidastatsd/eidastatsd-crash
[ -x "$CRASH_BIN" ] || fail "$CRASH_BIN not built"

central_start

# Points in the order a file meets them (the daemon's and those of the spool
# and the ledger, see crash.h, spool.h, ledger.h); ":N" lets N-1 through first.
POINTS="after-parse after-parse:2 spool-mid-write spool-before-rename spool-after-rename
after-spool-write:3 ledger-mid-append after-ledger mid-delivery mid-delivery:2 after-2xx
after-2xx:3 spool-after-unlink after-spool-done"

n=0
for point in $POINTS; do
	n=$((n + 1))
	node=crash$n
	"$top_builddir/src/admin/eidastats-admin" --db "$ES_DB" node add --name "$node" \
		--contact t@example.org >>"$T/admin.log" 2>&1 || fail "node add $node"
	ESD_TOKEN_FILE=$T/token-$n
	(umask 077 && "$top_builddir/src/admin/eidastats-admin" --db "$ES_DB" token add \
		--node "$node" >"$ESD_TOKEN_FILE" 2>>"$T/admin.log") || fail "token add $node"
	ESD_LOGS=$T/logs-$n
	ESD_STATE=$T/state-$n
	ESD_LOG=$T/eidastatsd-$n.log
	mkdir -p "$ESD_LOGS" "$ESD_STATE"
	esd_config
	cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-11-01.bz2 \
		"$ESD_LOGS/"
	cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2020-09-18.bz2"
	bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/whole.bz2" && mv "$T/whole.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-31.bz2"   # whole, then in place

	# The crashing run.  It must really crash (99), not just stop.
	echo "---- crash point $point" >>"$ESD_LOG"
	EIDASTATS_CRASHPOINT=$point "$CRASH_BIN" --foreground -c "$ESD_CONF" >>"$ESD_LOG" 2>&1 &
	ESD_PID=$!
	bg_track "$ESD_PID"
	esd_wait_exit 99 90
	grep -Eq "crash point '?${point%%:*}'? reached" "$ESD_LOG" || fail "$point: no crash message"

	# The run after the crash, with the same binary and no crash point.
	esd_start "$CRASH_BIN"
	esd_wait 90 files.done 4
	esd_wait 60 spool.pending 0
	check "$point: nothing failed" test "$(esd_get files.failed)" = 0
	check "$point: no bad spool file" test "$(esd_get spool.bad)" = 0
	esd_stop
	if ! "$TOOLS/dbcheck" "$ES_DB" "$node" "$DATA/synthetic-small/expected-multi.json" \
		"$DATA/upstream-sample/expected.json" >"$T/dbcheck-$n.out"; then
		cat "$T/dbcheck-$n.out" >&2
		tail -n 30 "$ESD_LOG" >&2
		fail "crash point $point: the database differs from the golden"
	fi
	payloads=$(pg_psql -c "select count(*) from payloads p join nodes n on n.id = p.node_id where n.name = '$node'")
	check "$point: four payloads" test "$payloads" = 4
	echo "ok: crash point $point"
done
exit 0
