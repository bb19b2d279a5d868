# api-lib.sh - a central service filled through submit for the query API
# tests (api-*.sh).  Source tests/sh/lib.sh first.
#
#   api_start [INGESTD-OPTION...]
#       central_start (ingest-lib.sh) with the options; nodes node1 (open,
#       operators' group /op/n1), node2 (open) and node3 (no policy yet);
#       the payloads of tests/sh/api_oracle.py gen POSTed by their nodes;
#       network Z3 of node1 restricted for group /epos/z3; one row with a
#       NULL country (old data) written with psql.  $T/policy.json and
#       $T/pay/files.txt describe it all for the oracle.
#   api_get PATH_AND_QUERY [CURL-OPTION...]
#       GET $ES_INGEST_BASE/PATH_AND_QUERY: prints the status; body in
#       $T/body, headers in $T/headers.
#   api_check public|restricted QUERY [GROUPS]
#       Compares the rows of $T/body (CSV or JSON by the query's format)
#       with the oracle's for QUERY; fails with both on a difference.
#   expect_body STATUS TEXT WHAT
#       The last answer had STATUS and exactly the body TEXT.

. "$top_srcdir/tests/sh/ingest-lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
ORACLE="python3 $top_srcdir/tests/sh/api_oracle.py"
EIDASTATS=$top_builddir/src/eidastats/eidastats
export EIDASTATS

api_start() {
	central_start "$@"
	new_node node2
	N2_TOKEN=$NODE_TOKEN
	new_node node3
	N3_TOKEN=$NODE_TOKEN
	mkdir -p "$T/pay"
	$ORACLE gen "$T/pay" "$EIDASTATS" || fail "generating payloads"
	while read -r _node _file; do
		case $_node in
		node1) _tok=$ES_TOKEN ;;
		node2) _tok=$N2_TOKEN ;;
		node3) _tok=$N3_TOKEN ;;
		esac
		_st=$(curl -s -o "$T/response" -w '%{http_code}' -H "Authentication: Bearer $_tok" \
			--data-binary "@$_file" "$ES_SUBMIT_URL")
		[ "$_st" = 200 ] || fail "submit $_file: $_st $(cat "$T/response")"
	done <"$T/pay/files.txt"
	# A row of old data with a NULL country, for node2 (also for the oracle).
	_hll=$("$EIDASTATS" hll add 901 902 903)
	pg_psql >/dev/null <<EOF || fail "policies"
UPDATE nodes SET restriction_policy = false WHERE name IN ('node1', 'node2');
UPDATE nodes SET restriction_policy = NULL WHERE name = 'node3';
UPDATE nodes SET eas_group = '/op/n1' WHERE name = 'node1';
UPDATE networks SET inverted_policy = true, eas_group = '/epos/z3'
	WHERE name = 'Z3' AND node_id = (SELECT id FROM nodes WHERE name = 'node1');
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	SELECT id, '2021-02-01', 'GE', 'A1', '00', 'HHZ', NULL, 7, 3, 2, 1, '$_hll'::hll
	FROM nodes WHERE name = 'node2';
SELECT eidastats_rollup_rebuild();
EOF
	_hll=$(printf '%s' "$_hll" | sed 's/\\/\\\\/g')
	cat >"$T/pay/extra.json" <<EOF
{"stats": [{"month": "2021-02-01", "network": "GE", "station": "A1", "location": "00",
 "channel": "HHZ", "country": null, "bytes": 7, "nb_requests": 3,
 "nb_successful_requests": 2, "nb_unsuccessful_requests": 1, "clients": "$_hll"}]}
EOF
	echo "node2 $T/pay/extra.json" >>"$T/pay/files.txt"
	cat >"$T/policy.json" <<'EOF'
{"nodes": {"node1": [false, "/op/n1"], "node2": [false, null], "node3": [null, null]},
 "nets": {"node1/Z3": [true, "/epos/z3"]}}
EOF
}

api_get() {
	_p=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@" "$ES_INGEST_BASE/$_p"
}

api_check() {
	case "&$2&" in
	*'&format=json&'*) _kind=json ;;
	*) _kind=csv ;;
	esac
	$ORACLE expect "$T/pay/files.txt" "$T/policy.json" "$1" "$2" "${3:-}" >"$T/want" ||
		fail "oracle failed on $2"
	$ORACLE canon "$_kind" "$T/body" >"$T/got" 2>"$T/canon.err" ||
		fail "$1 $2: answer unreadable: $(cat "$T/canon.err") $(head -c 300 "$T/body")"
	if ! cmp -s "$T/want" "$T/got"; then
		echo "$1 $2: expected rows:" >&2
		head -n 30 "$T/want" >&2
		echo "got:" >&2
		head -n 30 "$T/got" >&2
		fail "$1 $2: rows differ"
	fi
	[ -s "$T/want" ] || [ "$(wc -c <"$T/got")" -le 1 ]
}

expect_body() {
	[ "$_last_status" = "$1" ] || fail "$3: status $_last_status, expected $1: $(head -c 300 "$T/body")"
	[ "$(cat "$T/body")" = "$2" ] || fail "$3: body $(head -c 300 "$T/body"), expected $2"
}
