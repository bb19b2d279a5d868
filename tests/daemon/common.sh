# common.sh - helpers of the daemon's end-to-end tests (tests/sh/daemon-*.sh).
#
# Source after tests/sh/lib.sh (which gives $T, $DATA, fail, skip, check,
# wait_until, bg_track).  Everything runs in $T and talks to 127.0.0.1 or to
# Unix sockets in $T; every process started here is registered for the EXIT
# cleanup.  Every wait has a deadline.
#
# Daemon:
#   esd_config [YAML-LINE...]  writes $ESD_CONF: logs in $ESD_LOGS, state in
#                 $ESD_STATE, socket $ESD_SOCK, settle 1 s, plain_after 4 s,
#                 retry 1 s..2 s, timeout 60 s (a loaded machine must not time
#                 out a slow forward: a second duplicate), the golden network registry;
#                 central.url/token_file when $ESD_URL/$ESD_TOKEN_FILE are
#                 set; extra lines are appended (top-level keys).
#   esd_start [BIN]  starts the daemon (default the normal build) in the
#                 foreground, its log in $ESD_LOG, waits until it answers;
#                 as the user $ESD_RUNAS names a prefix for (e.g. setpriv).
#   esd_stop      SIGTERM, waits for a clean exit (status 0).
#   esd_wait_exit CODE  waits for the daemon to exit by itself with CODE.
#   esd_get PATH...  values of the status JSON (tests/daemon/jget paths).
#   esd_wait SECONDS PATH VALUE  waits until esd_get PATH prints VALUE.
#   esd_ge PATH N  true when the number at PATH is at least N.
#   esd_cmd CMD   sends one control command, prints the answer line.
# Central service (real PostgreSQL + hll + eidastats-ingestd):
#   central_start  starts PostgreSQL (pg.sh), creates the schema, node
#                 "testnode" and its token (in $ESD_TOKEN_FILE, mode 0600),
#                 starts ingestd on a free port; sets $CENTRAL_URL and
#                 $ESD_URL.  Skips (77) without PostgreSQL or hll.
#   ingest_stop / ingest_resume  stop and start ingestd again (same port).
#   db_check GOLDEN...  the node's rows must equal the goldens' sum.
#   db_payloads   number of payloads the database accepted for the node.
# Fault injection (tests/daemon/faultsrv in front of ingestd):
#   fault_start   starts it with script $FAULT_SCRIPT; sets $ESD_URL to it.
#   fault_script LINE...  rewrites the script (the count starts over).

TOOLS=$top_builddir/tests/daemon
ESD_BIN_DEFAULT=$top_builddir/src/eidastatsd/eidastatsd
ES_CLI=$top_builddir/src/eidastats/eidastats
ESD_LOGS=$T/logs
ESD_STATE=$T/state
ESD_SOCK=$T/ctl.sock
ESD_CONF=$T/eidastatsd.yaml
ESD_LOG=$T/eidastatsd.log
ESD_PID=
ESD_RUNAS=
ESD_URL=${ESD_URL:-}
ESD_TOKEN_FILE=${ESD_TOKEN_FILE:-}
ESD_NETWORKS=$DATA/synthetic-small/networks.json
mkdir -p "$ESD_LOGS" "$ESD_STATE"

esd_config() {
	{
		echo "log_directory: $ESD_LOGS"
		echo "state_directory: $ESD_STATE"
		echo "control_socket: $ESD_SOCK"
		echo "settle: 1"
		echo "plain_after: 4"
		if [ -n "$ESD_URL" ]; then
			echo "central:"
			echo "  url: $ESD_URL"
			echo "  token_file: $ESD_TOKEN_FILE"
			echo "  retry:"
			echo "    initial: 1"
			echo "    max: 2"
			echo "  timeout: 60"
		fi
		echo "networks:"
		echo "  file: $ESD_NETWORKS"
		echo "  url: http://127.0.0.1:9/unreachable"
		for line in "$@"; do
			echo "$line"
		done
	} >"$ESD_CONF"
}

esd_answers() {
	"$ES_CLI" status --socket "$ESD_SOCK" --json >/dev/null 2>&1
}

esd_start() {
	local bin=${1:-$ESD_BIN_DEFAULT}
	echo "---- start $(date +%T) $bin" >>"$ESD_LOG"
	$ESD_RUNAS "$bin" --foreground -c "$ESD_CONF" >>"$ESD_LOG" 2>&1 &
	ESD_PID=$!
	bg_track "$ESD_PID"
	if ! wait_until 20 esd_answers; then
		cat "$ESD_LOG" >&2
		fail "eidastatsd did not answer on $ESD_SOCK"
	fi
}

# Waits up to $2 seconds (default 30) for the daemon to end; sets ESD_RC.
esd__reap() {
	local deadline=$(( $(date +%s) + ${1:-30} ))
	while kill -0 "$ESD_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			cat "$ESD_LOG" >&2
			fail "eidastatsd (pid $ESD_PID) did not exit"
		fi
		sleep 0.1
	done
	wait "$ESD_PID"
	ESD_RC=$?
}

esd_stop() {
	kill -TERM "$ESD_PID" 2>/dev/null || fail "eidastatsd is not running"
	esd__reap 30
	if [ "$ESD_RC" -ne 0 ]; then
		cat "$ESD_LOG" >&2
		fail "eidastatsd exited with $ESD_RC after SIGTERM"
	fi
	[ ! -e "$ESD_SOCK" ] || fail "the control socket was left behind after a clean stop"
}

esd_wait_exit() {
	esd__reap "${2:-60}"
	if [ "$ESD_RC" -ne "$1" ]; then
		tail -n 30 "$ESD_LOG" >&2
		fail "eidastatsd exited with $ESD_RC, expected $1"
	fi
}

esd_get() {
	"$ES_CLI" status --socket "$ESD_SOCK" --json | "$TOOLS/jget" "$@"
}

esd_ge() {
	local v
	v=$(esd_get "$1" 2>/dev/null) || return 1
	[ "$v" -ge "$2" ] 2>/dev/null
}

esd__is() {
	[ "$(esd_get "$1" 2>/dev/null)" = "$2" ]
}

esd_wait() {
	if ! wait_until "$1" esd__is "$2" "$3"; then
		echo "---- status:" >&2
		"$ES_CLI" status --socket "$ESD_SOCK" >&2
		echo "---- log:" >&2
		tail -n 40 "$ESD_LOG" >&2
		fail "timeout ($1 s) waiting for $2 = $3 (it is '$(esd_get "$2" 2>/dev/null)')"
	fi
}

esd_cmd() {
	printf '%s\n' "$1" | "$TOOLS/ctlsend" "$ESD_SOCK" 10
}

# ---- Central service ----------------------------------------------------

INGEST_PID=
INGEST_LISTEN=127.0.0.1:0
INGEST_LOG=$T/ingestd.log

central_start() {
	local admin=$top_builddir/src/admin/eidastats-admin
	local ingestd=$top_builddir/src/ingestd/eidastats-ingestd
	[ -x "$admin" ] && [ -x "$ingestd" ] || fail "eidastats-admin or eidastats-ingestd not built"
	# shellcheck source=../sh/pg.sh
	. "$top_srcdir/tests/sh/pg.sh"
	mkdir -p "$T/db"
	chmod o+x "$T"   # PostgreSQL runs as its own user when the test runs as root.
	pg_start "$T/db" || exit $?
	ES_CLEANUP_PG=1
	"$admin" --db "$ES_DB" db init --sql-dir "$top_srcdir/sql" >"$T/admin.log" 2>&1 ||
		{ cat "$T/admin.log" >&2; fail "eidastats-admin db init"; }
	"$admin" --db "$ES_DB" node add --name testnode --contact test@example.org >>"$T/admin.log" 2>&1 ||
		{ cat "$T/admin.log" >&2; fail "eidastats-admin node add"; }
	ESD_TOKEN_FILE=$T/token
	(umask 077 && "$admin" --db "$ES_DB" token add --node testnode >"$ESD_TOKEN_FILE" 2>>"$T/admin.log") ||
		{ cat "$T/admin.log" >&2; fail "eidastats-admin token add"; }
	ingest_resume
	CENTRAL_URL=http://$INGEST_ADDR/eidaws/statistics/1/submit
	ESD_URL=$CENTRAL_URL
}

ingest__listening() {
	grep -q "listening on" "$INGEST_LOG"
}

ingest_resume() {
	: >"$INGEST_LOG"
	"$top_builddir/src/ingestd/eidastats-ingestd" --db "$ES_DB" --listen "$INGEST_LISTEN" \
		--workers 4 >"$INGEST_LOG" 2>&1 &
	INGEST_PID=$!
	bg_track "$INGEST_PID"
	wait_until 20 ingest__listening || { cat "$INGEST_LOG" >&2; fail "eidastats-ingestd did not start"; }
	INGEST_ADDR=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$INGEST_LOG" | head -n 1)
	# Come back on the same port after ingest_stop.
	INGEST_LISTEN=$INGEST_ADDR
}

ingest_stop() {
	kill -TERM "$INGEST_PID" 2>/dev/null
	wait "$INGEST_PID" 2>/dev/null
	INGEST_PID=
}

db_check() {
	"$TOOLS/dbcheck" "$ES_DB" testnode "$@"
}

db_payloads() {
	pg_psql -c "select count(*) from payloads p join nodes n on n.id = p.node_id where n.name = 'testnode'"
}

# ---- Fault injection ----------------------------------------------------

FAULT_SCRIPT=$T/fault.script
FAULT_LOG=$T/fault.log

fault_script() {
	# A new file (new inode and mtime): the server starts the count over.
	printf '%s\n' "$@" >"$FAULT_SCRIPT.new"
	mv "$FAULT_SCRIPT.new" "$FAULT_SCRIPT"
	# mtime resolution: make sure a rewrite within the same tick is noticed.
	sleep 0.02
}

fault__port() {
	[ -s "$T/fault.port" ]
}

fault_start() {
	local upstream=${1:-$CENTRAL_URL}
	[ -f "$FAULT_SCRIPT" ] || fault_script pass
	"$TOOLS/faultsrv" --port-file "$T/fault.port" --script "$FAULT_SCRIPT" --log "$FAULT_LOG" \
		${upstream:+--upstream "$upstream"} 2>>"$T/fault.err" &
	bg_track $!
	wait_until 10 fault__port || fail "faultsrv did not start"
	ESD_URL=http://127.0.0.1:$(cat "$T/fault.port")/eidaws/statistics/1/submit
}

# Stops PostgreSQL at exit too, after lib.sh has stopped the processes it tracks.
es_daemon_cleanup() {
	if [ -n "${ES_CLEANUP_PG:-}" ]; then
		pg_stop
	fi
}
es_at_exit es_daemon_cleanup
