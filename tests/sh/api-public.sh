#!/bin/sh
# api-public.sh - GET PREFIX/dataselect/public on a real eidastats-ingestd
# whose database was filled through submit: every level and detail, filters
# and repeated parameters, country NULL, hllvalues, Other rows, CSV and JSON
# compared with answers computed from the payloads (tests/sh/api_oracle.py);
# upstream's error texts; bad input of every kind gets a clear 4xx and the
# service keeps answering.  Exit 0 pass, 77 skip, else fail.
. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/api-lib.sh"

api_start
P=dataselect/public

# Rows: each query against the oracle, in CSV and in JSON.
for q in \
	"start=2021-01" \
	"start=2021-01&end=2021-02" \
	"start=2021-1&end=2021-2" \
	"start=2021-01&level=node" \
	"start=2021-01&level=node&details=month" \
	"start=2021-01&level=network&details=month,country" \
	"start=2021-01&end=2021-03&level=network&details=month,country" \
	"start=2021-01&level=network&details=year" \
	"start=2021-01&level=network&details=country&hllvalues=true" \
	"start=2021-01&level=network&node=node1,node3" \
	"start=2021-01&node=node1&node=node2&country=GR,FR&country=DE&level=node&details=country" \
	"start=2021-01&country=&level=network&details=country" \
	"start=2021-01&details=country" \
	"start=2021-01&network=FR&level=network&details=month" \
	"start=2021-01&network=GE&details=country&hllvalues=true" \
	"start=2021-01&level=network&level=node" \
	"start=2021-03&end=2021-01" \
	"start=2030-01" \
	"start=2020-01&end=2022-12&level=network&details=month,country&hllvalues=true"; do
	st=$(api_get "$P?$q")
	[ "$st" = 200 ] || fail "$q: status $st: $(head -c 300 "$T/body")"
	grep -qi '^content-type: text/csv; charset=UTF-8' "$T/headers" || fail "$q: not CSV"
	[ "$(sed -n 1p "$T/body")" = "# version: 1.0.0" ] || fail "$q: first line"
	[ "$(sed -n 2p "$T/body")" = "# request_parameters: $q" ] || fail "$q: second line"
	hdr="date,node,network,station,location,channel,country,bytes,nb_reqs,nb_successful_reqs,clients"
	case $q in *hllvalues=true*) hdr="$hdr,hll_clients" ;; esac
	[ "$(sed -n 3p "$T/body")" = "$hdr" ] || fail "$q: header $(sed -n 3p "$T/body")"
	[ "$(tail -c 1 "$T/body" | od -An -c | tr -d ' ')" != '\n' ] || fail "$q: newline at the end"
	api_check public "$q"
	st=$(api_get "$P?$q&format=json")
	[ "$st" = 200 ] || fail "$q json: status $st"
	grep -qi '^content-type: application/json' "$T/headers" || fail "$q: not JSON"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d)==["version","request_parameters","results"], list(d); assert d["request_parameters"]==sys.argv[2]' \
		"$T/body" "$q&format=json" || fail "$q: JSON envelope"
	api_check public "$q&format=json"
done

# Details month: sorted by date; Other rows after the regular rows of their date.
api_get "$P?start=2021-01&level=network&details=month" >/dev/null
tail -n +4 "$T/body" | cut -d, -f1 >"$T/dates"
sort -c "$T/dates" || fail "month rows not sorted by date"
grep -q '^2021-01,Other,Other,' "$T/body" || fail "no Other row (Z3, node3's QQ): $(cat "$T/body")"
awk -F, 'NR > 3 { if ($1 != d) { d = $1; other = 0 } if ($2 == "Other") other = 1; else if (other) exit 1 }' \
	"$T/body" || fail "a regular row after an Other row of its date"
# Node level: restricted networks are counted, not folded.
api_get "$P?start=2021-01&level=node" >/dev/null
grep -q Other "$T/body" && fail "node level folded rows"
# A NULL country is None in CSV, null in JSON.
api_get "$P?start=2021-02&end=2021-02&network=GE&details=country" >/dev/null
grep -q '^\*,\*,\*,\*,\*,\*,None,' "$T/body" || fail "NULL country in CSV: $(cat "$T/body")"
api_get "$P?start=2021-02&end=2021-02&network=GE&details=country&format=json" >/dev/null
grep -q '"country": null' "$T/body" || fail "NULL country in JSON: $(cat "$T/body")"

# HEAD: status and headers, no body.
st=$(api_get "$P?start=2021-01" -I)
[ "$st" = 200 ] || fail "HEAD: $st"
grep -qi '^content-type: text/csv' "$T/headers" || fail "HEAD content type"
# (curl -I writes the headers where the body would go: nothing else may be there.)
grep -q '^date,node' "$T/body" && fail "HEAD sent a body"

# Errors: upstream's texts, in upstream's order.
err() { # STATUS QUERY TEXT
	_last_status=$(api_get "$P?$2")
	expect_body "$1" "$3" "$2"
}
err 400 "end=2021-01" "<h1>400 Bad Request</h1><p>Specify at least 'start' parameter</p>"
err 400 "start=2022-01&wrong=stg" "<h1>400 Bad Request</h1><p>Invalid parameter 'wrong'</p>"
err 400 "start=stg" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'start'</p>"
err 400 "start=2021-01-01" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'start'</p>"
err 400 "start=2021-13" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'start'</p>"
err 400 "start=2021-01&end=21-01" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'end'</p>"
err 400 "start=%EF%BC%92021-01" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'start'</p>"
err 400 "start=2021-01&level=station" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'level'</p>"
err 400 "start=2021-01&format=xml" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'format'</p>"
err 400 "start=2021-01&details=stg" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'details'</p>"
err 400 "start=2021-01&hllvalues=yes" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'hllvalues'</p>"
err 400 "start=2021-01&node=nope" "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'node'</p>"
err 400 "start=2021-01&details=month,year" "<h1>400 Bad Request</h1><p>Only one of 'month' or 'year' details can be requested each time</p>"
err 401 "start=2021-01&network=Z3" "<h1>401 Unauthorized</h1><p>No access to restricted networks for non-authenticated users<br>If you are a member of EIDA consider using /restricted method instead</p>"
err 401 "start=2021-01&network=QQ" "<h1>401 Unauthorized</h1><p>No access to restricted networks for non-authenticated users<br>If you are a member of EIDA consider using /restricted method instead</p>"
# The one-network rule: a comma list is one code that exists nowhere; wildcards are exact.
err 400 "start=2021-01&network=FR,GE" "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>"
err 400 "start=2021-01&network=F*" "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>"
err 400 "start=2021-01&node=node2&network=Z3" "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>"
err 400 "start=2021-01&wrong=1&format=json" '{"code": 400, "message": "Invalid parameter '"'wrong'"'"}'
err 401 "start=2021-01&network=Z3&format=json" '{"code": 401, "message": "No access to restricted networks for non-authenticated users If you are a member of EIDA consider using /restricted method instead"}'
grep -qi '^content-type: application/json' "$T/headers" || fail "JSON error content type"
err 400 "start=2021-01&%3Cb%3E=1" "<h1>400 Bad Request</h1><p>Invalid parameter '&lt;b&gt;'</p>"

# Bad input: a clear 4xx each time.
bad() { # QUERY WHAT
	_st=$(api_get "$P?$1")
	case $_st in 4??) ;; *) fail "$2: status $_st" ;; esac
	[ -s "$T/body" ] || fail "$2: empty answer"
}
bad "start=2021-01&network=%FF%FE" "non-UTF-8 value"
grep -q "network" "$T/body" || fail "non-UTF-8 value: $(cat "$T/body")"
bad "start=2021-01&%FF=1" "non-UTF-8 name"
bad "start=2021-01&network=%zz" "bad escape"
bad "start=2021-01&network=%00" "NUL"
long=$(python3 -c 'print("start=2021-01&network=" + "A" * 20000)')
bad "$long" "oversized query string"
many=$(python3 -c 'print("start=2021-01" + "&country=GR" * 300)')
bad "$many" "too many parameters"
grep -q 'more than 128 parameters' "$T/body" || fail "too many parameters: $(cat "$T/body")"
# POST and other methods: 405 with Allow.
st=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X POST --data x "$ES_INGEST_BASE/$P?start=2021-01")
[ "$st" = 405 ] || fail "POST public: $st"
grep -qi '^allow: GET, HEAD' "$T/headers" || fail "POST public: Allow: $(cat "$T/headers")"
# query_timeout: a query that waits for a lock past it gets 503 with a clear message.
ingestd_stop
ingestd_start --query-timeout 1
pg_psql -c "BEGIN; LOCK TABLE dataselect_stats, dataselect_rollup, dataselect_rollup_country,
	dataselect_rollup_node IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
LOCKER=$!
locked() {
	[ "$(pg_psql -c "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'AccessExclusiveLock'
		AND relation = 'dataselect_rollup_country'::regclass")" = 1 ]
}
wait_until 10 locked || fail "the lock was not taken"
_last_status=$(api_get "$P?start=2021-01")
expect_body 503 "<h1>503 Service Unavailable</h1><p>The query took longer than the service allows; narrow it (fewer months, a higher level or a network filter)</p>" "query timeout"
_last_status=$(api_get "$P?start=2021-01&format=json")
[ "$_last_status" = 503 ] && grep -q '"code": 503' "$T/body" || fail "query timeout in JSON: $(cat "$T/body")"
pg_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'
	AND pid <> pg_backend_pid()" >/dev/null
wait "$LOCKER" 2>/dev/null
# Still answering.
st=$(api_get "$P?start=2021-01")
[ "$st" = 200 ] || fail "the service stopped answering: $st"
api_check public "start=2021-01"
# A streamed answer read to its end leaves its session for the next one
# (qconn.h); a kept session the server ended is replaced, and the answers
# stay right after a query that changed a session setting.
query_sessions() {
	pg_psql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'eidastats-ingestd-query'"
}
kept() { [ "$(query_sessions)" -ge 1 ]; }
wait_until 10 kept || fail "no query session kept after an answer"
get_check() {
	st=$(api_get "$P?$1")
	[ "$st" = 200 ] || fail "$1: status $st"
	api_check public "$1"
}
get_check "start=2021-01&level=network&details=month,country"
get_check "start=2021-01&level=node&details=month"
pg_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'eidastats-ingestd-query'" >/dev/null
gone() { [ "$(query_sessions)" = 0 ]; }
wait_until 10 gone || fail "the kept sessions did not end"
get_check "start=2021-01&end=2021-03&level=network&details=month,country"
ingestd_stop
exit 0
