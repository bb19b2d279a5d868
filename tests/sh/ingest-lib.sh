# ingest-lib.sh - a running central service for shell tests: a throw-away
# PostgreSQL with the eidastats schema (pg.sh), a node with a token, and
# eidastats-ingestd on a free loopback port.  Source tests/sh/lib.sh first,
# then this file; it registers (es_at_exit) the stop of eidastats-ingestd and
# PostgreSQL, which runs before the temporary directory goes.
#
# Functions:
#   central_start [INGESTD-OPTION...]
#       pg_start "$T/central" (the test exits 77 when PostgreSQL 15 with hll
#       is missing), `eidastats-admin db init`, a node "node1" with a token,
#       then ingestd_start with the options.  Exports ES_DB, ES_TOKEN,
#       ES_NODE_ID and what ingestd_start exports.
#   ingestd_start [OPTION...]
#       Starts eidastats-ingestd --db "$ES_DB" --listen 127.0.0.1:0 (log in
#       $T/ingestd.log) and waits until it listens and has opened (or failed
#       to open) its write sessions and rehearsed.  Exports ES_INGEST_BASE
#       (http://127.0.0.1:PORT/eidaws/statistics/1), ES_SUBMIT_URL
#       (.../submit) and ES_INGESTD_PID.
#   ingestd_stop
#       SIGTERM; fails the test unless it exits with status 0 within 10 s.
#   es_admin ARG...
#       eidastats-admin --db "$ES_DB" with the source tree's migrations.
#   new_node NAME
#       Adds a node; sets NODE_ID and NODE_TOKEN.
#   submit FILE [METHOD [CURL-OPTION...]]
#       Sends FILE to ES_SUBMIT_URL with ES_TOKEN (POST by default); prints
#       the HTTP status; the answer's body is in $T/response.
#   stat_line MONTH NET STA LOC CHA COUNTRY BYTES NBREQ NBOK NBFAIL HLLHEX
#       One stat of a payload (NBREQ and NBFAIL may be null; HLLHEX is an
#       EXPLICIT set's values after its header).
#   stats_payload OUT DAY < STAT-LINES
#       A payload covering DAY with those stats.
#   payload_from_expected IN OUT
#       A golden expected.json with real generated_at and version.
#   db_state
#       Prints every stored row and payload, to compare before and after.
#   db_expect NODE_ID FILE...
#       Checks in PostgreSQL that the node's rows are exactly the stats of the
#       FILEs summed by key (country normalised; HLLs unioned): counters
#       equal and hll_cardinality(clients) equal.  Prints differences.
#   central_at NNN
#       Like central_start's first step, but the schema stops at migration
#       NNN (the tree's migrations up to it, copied to $T/sqlNNN): for tests
#       of a later migration on a filled database.  Starts no service.
#   delete_waits_then_fails INSERT-SQL DELETE-SQL WHAT
#       An open transaction runs INSERT-SQL (statements, ';'-separated); then
#       DELETE-SQL, started meanwhile, must wait for a lock, and fail with
#       SQLSTATE 23503 once the transaction has committed, as a foreign key's
#       NO ACTION would make it.
#
# Environment: ES_INGESTD and ES_ADMIN override the programs.

. "$top_srcdir/tests/sh/pg.sh"

INGESTD=${ES_INGESTD:-$top_builddir/src/ingestd/eidastats-ingestd}
ADMIN=${ES_ADMIN:-$top_builddir/src/admin/eidastats-admin}
ES_INGESTD_PID=""

command -v curl >/dev/null 2>&1 || skip "curl is not installed"

central_cleanup() {
	if [ -n "$ES_INGESTD_PID" ]; then
		kill "$ES_INGESTD_PID" 2>/dev/null
		wait "$ES_INGESTD_PID" 2>/dev/null
		ES_INGESTD_PID=""
	fi
	pg_stop
}
es_at_exit central_cleanup

es_admin() {
	"$ADMIN" --db "$ES_DB" --sql-dir "$top_srcdir/sql" "$@"
}

new_node() {
	NODE_ID=$(es_admin node add --name "$1" --contact "ops@$1.example" 2>>"$T/admin.log") ||
		fail "node add $1"
	NODE_TOKEN=$(es_admin token add --node "$1" 2>>"$T/admin.log") || fail "token add $1"
}

ingestd_start() {
	: >"$T/ingestd.log"
	"$INGESTD" --db "$ES_DB" --listen 127.0.0.1:0 "$@" 2>>"$T/ingestd.log" &
	ES_INGESTD_PID=$!
	bg_track "$ES_INGESTD_PID"
	if ! wait_until 10 grep -q 'listening on' "$T/ingestd.log"; then
		cat "$T/ingestd.log" >&2
		fail "eidastats-ingestd did not start"
	fi
	# Then the opening of the write sessions and their rehearsed ingests
	# (db_pool_warm), so that no test meets a rehearsal's statements or locks.
	if ! wait_until 30 grep -q 'write sessions open' "$T/ingestd.log"; then
		cat "$T/ingestd.log" >&2
		fail "eidastats-ingestd did not open its write sessions (nor say why)"
	fi
	_addr=$(sed -n 's/.*listening on //p' "$T/ingestd.log" | tail -n 1)
	ES_INGEST_BASE="http://$_addr/eidaws/statistics/1"
	ES_SUBMIT_URL="$ES_INGEST_BASE/submit"
	export ES_INGEST_BASE ES_SUBMIT_URL ES_INGESTD_PID
}

ingestd_stop() {
	[ -n "$ES_INGESTD_PID" ] || return 0
	kill -TERM "$ES_INGESTD_PID"
	_i=0
	while kill -0 "$ES_INGESTD_PID" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -lt 300 ] || fail "eidastats-ingestd did not stop within 30 s of SIGTERM"
		sleep 0.1
	done
	wait "$ES_INGESTD_PID"
	_rc=$?
	ES_INGESTD_PID=""
	[ "$_rc" -eq 0 ] || fail "eidastats-ingestd exited with status $_rc after SIGTERM"
}

central_start() {
	mkdir -p "$T/central"
	pg_start "$T/central" || exit $?
	es_admin db init >"$T/dbinit.log" 2>&1 || { cat "$T/dbinit.log" >&2; fail "db init"; }
	new_node node1
	ES_NODE_ID=$NODE_ID
	ES_TOKEN=$NODE_TOKEN
	export ES_DB ES_NODE_ID ES_TOKEN
	ingestd_start "$@"
}

submit() {
	_file=$1
	_method=${2:-POST}
	shift
	[ $# -gt 0 ] && shift
	curl -s -o "$T/response" -w '%{http_code}' -X "$_method" \
		-H "Authentication: Bearer $ES_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$_file" "$@" "$ES_SUBMIT_URL"
}

# edit IN OUT DAY [SED-EXPR...]: IN with its coverage set to DAY, then the expressions.
edit() {
	_in=$1 _out=$2 _day=$3
	shift 3
	sed -e "s/\"days_coverage\": \[[^]]*\]/\"days_coverage\": [\"$_day\"]/" "$@" "$_in" >"$_out"
}
# first IN N OUT: IN with only its first N stats.
first() {
	awk -v n="$2" '/^  {"month"/ { if (++k > n) next; if (k == n) sub(/,$/, "") } { print }' "$1" >"$3"
}
expect_200() { [ "$1" = 200 ] || fail "$2: status $1: $(cat "$T/response")"; }
# submit_concurrently IN MONTH POSTDAYS: six payloads made from IN, covering the
# days MONTH-01 to MONTH-06, sent at once: POST for the days matching the case
# pattern POSTDAYS, PUT for the others.  Fails unless every answer is 200.
submit_concurrently() {
	_pids=""
	for _d in 01 02 03 04 05 06; do
		# shellcheck disable=SC2254
		case $_d in $3) _m=POST ;; *) _m=PUT ;; esac
		edit "$1" "$T/k$_d.json" "$2-$_d"
		curl -s -o /dev/null -w '%{http_code}\n' -X $_m -H "Authentication: Bearer $ES_TOKEN" \
			--data-binary "@$T/k$_d.json" "$ES_SUBMIT_URL" >"$T/k$_d.code" &
		_pids="$_pids $!"
	done
	# shellcheck disable=SC2086
	wait $_pids
	[ "$(cat "$T"/k0[1-6].code | sort -u)" = 200 ] ||
		fail "concurrent POSTs and PUTs: $(cat "$T"/k0[1-6].code)"
}

# stat_line MONTH NET STA LOC CHA COUNTRY BYTES NBREQ NBOK NBFAIL HLLHEX (NBREQ, NBFAIL may be null)
stat_line() {
	printf '{"month": "%s", "network": "%s", "station": "%s", "location": "%s", "channel": "%s",' "$1" "$2" "$3" "$4" "$5"
	printf ' "country": "%s", "bytes": %s, "nb_requests": %s, "nb_successful_requests": %s,' "$6" "$7" "$8" "$9"
	printf ' "nb_unsuccessful_requests": %s, "clients": "\\\\x128B7F%s"}\n' "${10}" "${11}"
}
# stats_payload OUT DAY < stat lines
stats_payload() {
	{
		printf '{"generated_at": "2026-11-28 12:00:00", "version": "0.8.0", "days_coverage": ["%s"], "stats": [\n' "$2"
		sed '$!s/$/,/'
		printf ']}\n'
	} >"$1"
}

payload_from_expected() {
	sed -e 's/"GENERATED_AT"/"2026-11-28 12:00:00"/' -e 's/"VERSION"/"0.8.0"/' "$1" >"$2"
}

db_state() {
	pg_psql -c "SELECT node_id, date, network, station, location, channel, country, bytes,
		nb_reqs, nb_successful_reqs, nb_failed_reqs, hll_print(clients), created_at, updated_at
		FROM dataselect_stats ORDER BY 1, 2, 3, 4, 5, 6, 7" \
		-c "SELECT id, node_id, generated_at, version, coverage, digest, method, nb_stats
		FROM payloads ORDER BY id" \
		-c "SELECT node_id, name FROM networks ORDER BY 1, 2"
}

# Loads FILEs (JSON payloads) into the temporary table expected_docs, one row each.
db__load_docs() {
	echo "CREATE TEMP TABLE expected_docs (doc json);"
	echo "COPY expected_docs (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02');"
	for _f in "$@"; do
		# JSON needs no raw newline outside strings, and has none inside them.
		tr '\n' ' ' <"$_f"
		echo
	done
	echo '\.'
}

db_expect() {
	_node=$1
	shift
	{
		db__load_docs "$@"
		cat <<EOF
WITH st AS (
	SELECT json_array_elements(doc->'stats') AS s FROM expected_docs
), e AS (
	SELECT (s->>'month')::date AS date, s->>'network' AS network, s->>'station' AS station,
		s->>'location' AS location, s->>'channel' AS channel,
		CASE WHEN s->>'country' ~ '^[A-Za-z0-9]{2}\$' THEN s->>'country' ELSE '' END AS country,
		sum((s->>'bytes')::bigint) AS bytes,
		sum(coalesce((s->>'nb_requests')::bigint,
			(s->>'nb_successful_requests')::bigint
			+ coalesce((s->>'nb_unsuccessful_requests')::bigint, 0))) AS nb_reqs,
		sum((s->>'nb_successful_requests')::bigint) AS nb_ok,
		sum(coalesce((s->>'nb_unsuccessful_requests')::bigint, 0)) AS nb_failed,
		hll_union_agg((s->>'clients')::hll) AS clients
	FROM st GROUP BY 1, 2, 3, 4, 5, 6
), d AS (
	SELECT * FROM dataselect_stats WHERE node_id = $_node
), j AS (
	SELECT e.date AS e_date, d.date AS d_date, coalesce(e.date, d.date) AS date,
		coalesce(e.network, d.network) AS network, coalesce(e.station, d.station) AS station,
		coalesce(e.location, d.location) AS location, coalesce(e.channel, d.channel) AS channel,
		coalesce(e.country, d.country) AS country,
		e.bytes AS e_bytes, d.bytes AS d_bytes, e.nb_reqs AS e_reqs, d.nb_reqs AS d_reqs,
		e.nb_ok AS e_ok, d.nb_successful_reqs AS d_ok, e.nb_failed AS e_failed,
		d.nb_failed_reqs AS d_failed,
		hll_cardinality(e.clients) AS e_card, hll_cardinality(d.clients) AS d_card
	FROM e FULL JOIN d ON e.date = d.date AND e.network = d.network AND e.station = d.station
		AND e.location = d.location AND e.channel = d.channel AND e.country = d.country
)
SELECT CASE WHEN e_date IS NULL THEN 'unexpected' WHEN d_date IS NULL THEN 'missing'
		ELSE 'differs' END, date, network, station, location, channel, country,
	e_bytes, d_bytes, e_reqs, d_reqs, e_ok, d_ok, e_failed, d_failed, e_card, d_card
FROM j
WHERE e_date IS NULL OR d_date IS NULL OR e_bytes <> d_bytes OR e_reqs <> d_reqs
	OR e_ok <> d_ok OR e_failed <> d_failed OR e_card IS DISTINCT FROM d_card
UNION ALL
SELECT 'empty', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM e);
EOF
	} | pg_psql -F ' ' >"$T/db_expect.out" 2>&1
	_rc=$?
	if [ "$_rc" -ne 0 ] || [ -s "$T/db_expect.out" ]; then
		echo "db_expect node $_node: stored rows differ from $* (kind date net sta loc cha country" \
			"bytes: expected stored, requests, successful, failed, clients):" >&2
		head -n 20 "$T/db_expect.out" >&2
		return 1
	fi
	return 0
}

central_at() {
	mkdir -p "$T/central" "$T/sql$1"
	chmod o+x "$T"   # PostgreSQL runs as its own user when the test runs as root.
	for _f in "$top_srcdir"/sql/[0-9][0-9][0-9]-*.sql; do
		_v=${_f##*/}
		[ "$(expr "${_v%%-*}" + 0)" -le "$(expr "$1" + 0)" ] && cp "$_f" "$T/sql$1/"
	done
	ls "$T/sql$1/$1"-*.sql >/dev/null 2>&1 || fail "no migration $1 in the tree"
	pg_start "$T/central" || exit $?
	"$ADMIN" --db "$ES_DB" --sql-dir "$T/sql$1" db init >/dev/null 2>"$T/init$1.err" ||
		fail "db init up to $1: $(cat "$T/init$1.err")"
	check "the database is at $1" test "$(pg_psql -c 'select count(*) from eidastats_migrations')" = \
		"$(expr "$1" + 0)"
}

delete_waits_then_fails() {
	_psql_bg() { "$(pg__bin)/psql" -X -q -v VERBOSITY=verbose -d "$ES_DB" "$@"; }
	_waiting() {
		[ "$(pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query = \$q\$$2\$q\$")" = 1 ]
	}
	rm -f "$T/held.in"
	mkfifo "$T/held.in"
	_psql_bg <"$T/held.in" >"$T/held.out" 2>&1 &
	_held=$!
	bg_track "$_held"
	exec 3>"$T/held.in"
	printf "BEGIN;\n%s;\nSELECT 'inserted';\n" "$1" >&3
	wait_until 10 grep -q 'inserted' "$T/held.out" || fail "$3: the open transaction's insert: $(cat "$T/held.out")"
	_psql_bg -c "$2" >"$T/waiting.out" 2>&1 &
	_waiter=$!
	bg_track "$_waiter"
	wait_until 10 _waiting "$@" || fail "$3: the delete did not wait for the open insert"
	printf 'COMMIT;\n' >&3
	exec 3>&-
	wait "$_held" || fail "$3: the insert's transaction: $(cat "$T/held.out")"
	wait "$_waiter" && fail "$3: the delete was accepted after the insert committed"
	grep -q 'ERROR:  23503' "$T/waiting.out" || fail "$3: not a foreign key violation: $(cat "$T/waiting.out")"
	return 0
}
