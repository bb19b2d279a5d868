#!/bin/sh
# Every bad input gets its 4xx, a message naming what is wrong, and leaves
# the database exactly as it was: no token, bad or expired tokens, wrong
# methods and paths, bodies that are not JSON or not gzip, size and count
# limits, gzip bombs, and each invalid field (SQL metacharacters included).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

central_start --max-body 2MiB --max-decompressed 4MiB --max-stats 1000

GOOD='{"month": "2024-10-01", "network": "FR", "station": "CIEL", "location": "00", "channel": "HHZ", "country": "FR", "bytes": 10, "nb_requests": 1, "nb_successful_requests": 1, "nb_unsuccessful_requests": 0, "clients": "\\x128B7F0000000047198F26"}'
# payload OUT [STAT...]: a payload of GOOD followed by the given stats.
payload() {
	_out=$1
	shift
	{
		printf '{"generated_at": "2026-11-28 22:27:27", "version": "0.8.0", "days_coverage": ["2024-10-01"], "stats": [%s' "$GOOD"
		for _s in "$@"; do
			printf ', %s' "$_s"
		done
		printf ']}\n'
	} >"$_out"
}
# bad SED-EXPRESSION: GOOD altered by sed, as the second stat.
bad() { printf '%s\n' "$GOOD" | sed "$1"; }

# check STATUS MESSAGE CURL-ARG...: the answer's status and text; nothing stored.
check_refused() {
	_want=$1 _msg=$2
	shift 2
	db_state >"$T/before" || fail "db_state"
	_got=$(curl -s -o "$T/response" -w '%{http_code}' "$@")
	[ "$_got" = "$_want" ] || fail "status $_got, expected $_want for: $* ($(cat "$T/response"))"
	[ -z "$_msg" ] || grep -q -F -- "$_msg" "$T/response" ||
		fail "answer '$(cat "$T/response")' lacks '$_msg' for: $*"
	db_state >"$T/after" || fail "db_state"
	cmp -s "$T/before" "$T/after" || fail "the database changed after: $*"
}
# refused STATUS MESSAGE FILE [CURL-ARG...]: POST FILE with the token.
refused() {
	_want=$1 _msg=$2 _file=$3
	shift 3
	check_refused "$_want" "$_msg" -X POST -H "Authentication: Bearer $ES_TOKEN" \
		--data-binary "@$_file" "$@" "$ES_SUBMIT_URL"
}

payload "$T/good.json"

# Authentication.
check_refused 401 "No token provided" --data-binary "@$T/good.json" "$ES_SUBMIT_URL"
check_refused 401 "No token provided" -H "Authentication: Basic $ES_TOKEN" --data-binary "@$T/good.json" "$ES_SUBMIT_URL"
check_refused 401 "No token provided" -H "Authentication: Bearer" --data-binary "@$T/good.json" "$ES_SUBMIT_URL"
check_refused 403 "No valid token" -H "Authentication: Bearer 0123456789abcdef0123456789abcdef" \
	--data-binary "@$T/good.json" "$ES_SUBMIT_URL"
check_refused 403 "No valid token" -H "Authentication: Bearer ' OR '1'='1" --data-binary "@$T/good.json" "$ES_SUBMIT_URL"
check_refused 403 "No valid token" -H "Authorization: Bearer $ES_TOKEN$ES_TOKEN$ES_TOKEN" \
	--data-binary "@$T/good.json" "$ES_SUBMIT_URL"
# A prefix of the real token is not the token.
check_refused 403 "No valid token" -H "Authentication: Bearer $(printf %s "$ES_TOKEN" | cut -c1-31)" \
	--data-binary "@$T/good.json" "$ES_SUBMIT_URL"
es_admin token add --node node1 >"$T/expired.token" 2>/dev/null || fail "token add"
pg_psql -c "UPDATE tokens SET valid_from = now() - interval '2 days', valid_until = now() - interval '1 day'
	WHERE digest = sha256(convert_to('$(cat "$T/expired.token")', 'UTF8'))"
check_refused 403 "No valid token" -H "Authentication: Bearer $(cat "$T/expired.token")" \
	--data-binary "@$T/good.json" "$ES_SUBMIT_URL"
es_admin token add --node node1 >"$T/future.token" 2>/dev/null || fail "token add"
pg_psql -c "UPDATE tokens SET valid_from = now() + interval '1 day' WHERE digest = sha256(convert_to('$(cat "$T/future.token")', 'UTF8'))"
check_refused 403 "No valid token" -H "Authentication: Bearer $(cat "$T/future.token")" \
	--data-binary "@$T/good.json" "$ES_SUBMIT_URL"

# Methods and paths.
check_refused 405 "Only PUT or POST" -H "Authentication: Bearer $ES_TOKEN" "$ES_SUBMIT_URL"
check_refused 405 "Only PUT or POST" -X DELETE -H "Authentication: Bearer $ES_TOKEN" "$ES_SUBMIT_URL"
curl -s -D "$T/headers" -o /dev/null "$ES_SUBMIT_URL"
grep -qi '^Allow: POST, PUT' "$T/headers" || fail "405 without an Allow header"
check_refused 404 "Not found" -H "Authentication: Bearer $ES_TOKEN" --data-binary "@$T/good.json" \
	"$ES_INGEST_BASE/submit/x"
check_refused 404 "Not found" --data-binary "@$T/good.json" "${ES_INGEST_BASE%/1}/2/submit"
check_refused 405 "" -X POST "$ES_INGEST_BASE/health"

# Bodies.
printf 'hello' >"$T/hello"
refused 400 "invalid JSON at byte 0" "$T/hello"
: >"$T/empty"
refused 400 "the body is empty" "$T/empty"
gzip -c "$T/good.json" >"$T/good.json.gz"
refused 400 "Malformed payload" "$T/good.json.gz"
refused 400 "not valid gzip" "$T/good.json" -H 'Content-Encoding: gzip'
head -c 40 "$T/good.json.gz" >"$T/truncated.gz"
refused 400 "not valid gzip: truncated" "$T/truncated.gz" -H 'Content-Encoding: gzip'
refused 415 "Unsupported Content-Encoding" "$T/good.json" -H 'Content-Encoding: br'
head -c 3145728 /dev/zero | tr '\0' ' ' >"$T/big"
refused 413 "larger than 2097152 bytes" "$T/big"
refused 413 "larger than 2097152 bytes" "$T/big" -H 'Transfer-Encoding: chunked'
head -c 67108864 /dev/zero | gzip -c >"$T/bomb.gz"
refused 413 "decompressed body is larger than 4194304" "$T/bomb.gz" -H 'Content-Encoding: gzip'
{
	printf '{"generated_at": "2026-11-28 22:27:27", "version": "0.8.0", "days_coverage": [], "stats": [%s' "$GOOD"
	i=0
	while [ $i -lt 1000 ]; do printf ', %s' "$GOOD"; i=$((i + 1)); done
	printf ']}'
} >"$T/many.json"
refused 413 "more than 1000 statistics" "$T/many.json"

# Fields: the second stat is bad, the first good; nothing at all is stored.
n=0
field() {
	_msg=$1
	shift
	n=$((n + 1))
	payload "$T/field$n.json" "$@"
	refused 400 "$_msg" "$T/field$n.json"
}
field 'stats[1].month: not a date' "$(bad 's/2024-10-01/2024-02-30/')"
field 'stats[1].network: longer than 6' "$(bad "s/\"FR\", \"station\"/\"X');DROP TABLE dataselect_stats;--\", \"station\"/")"
field "stats[1].station: longer than 5" "$(bad "s/\"CIEL\"/\"CI'\\\\\"EL\"/")"
field 'stats[1].location: longer than 2' "$(bad 's/"00"/"000"/')"
field 'stats[1].channel: longer than 3' "$(bad 's/"HHZ"/"HH;Z"/')"
field 'stats[1].station: contains a NUL' "$(bad 's/"CIEL"/"C\\u0000"/')"
field 'stats[1].country: a number' "$(bad 's/"country": "FR"/"country": 33/')"
field 'stats[1].bytes: negative' "$(bad 's/"bytes": 10/"bytes": -10/')"
field 'stats[1].bytes: not an integer' "$(bad 's/"bytes": 10/"bytes": 10.5/')"
field 'stats[1].bytes: a string' "$(bad 's/"bytes": 10/"bytes": "10"/')"
field 'stats[1].nb_successful_requests: larger than 2147483647' "$(bad 's/"nb_successful_requests": 1/"nb_successful_requests": 2147483648/')"
field 'stats[1].clients: not valid hll(11,5) bytes' "$(bad 's/x128B7F/x128C7F/')"
field 'stats[1].clients: not valid hll(11,5) bytes' "$(bad 's/47198F26//')"
field 'stats[1].clients: not \x' "$(bad 's/\\\\x128B/128B/')"
field 'stats[1].clients: missing' "$(bad 's/, "clients": "[^"]*"//')"
field 'stats[2]: a string, not an object' "$GOOD" '"x"'
sed 's/"0.8.0"/"0123456789012345678901234567890123"/' "$T/good.json" >"$T/version.json"
refused 400 "version: longer than 32" "$T/version.json"
sed 's/\["2024-10-01"\]/["2024-10-1"]/' "$T/good.json" >"$T/days.json"
refused 400 "days_coverage[0]: not a date" "$T/days.json"
sed 's/"generated_at": "[^"]*", //' "$T/good.json" >"$T/nogen.json"
refused 400 "generated_at: missing" "$T/nogen.json"

# Codes with quotes, backslashes and SQL are data when they fit their column.
payload "$T/quotes.json" "$(bad "s/\"FR\", \"station\": \"CIEL\", \"location\": \"00\", \"channel\": \"HHZ\"/\"A'B;\", \"station\": \"X\\\\\"--\", \"location\": \"\\\\\\\\\", \"channel\": \"\\\\t%\"/")"
code=$(submit "$T/quotes.json")
[ "$code" = 200 ] || fail "codes with quotes: status $code: $(cat "$T/response")"
stored=$(pg_psql -c "SELECT count(*) FROM dataselect_stats WHERE network = 'A''B;' AND station = 'X\"--'
	AND location = E'\\\\' AND channel = E'\\t%'")
[ "$stored" = 1 ] || fail "the codes with quotes were not stored verbatim"
db_expect "$ES_NODE_ID" "$T/quotes.json" || fail "quotes payload"

# A sum that overflows its column is refused as a whole.
new_node overflow
ES_TOKEN=$NODE_TOKEN
sed -e 's/"nb_requests": 1, "nb_successful_requests": 1/"nb_requests": 2147483647, "nb_successful_requests": 2147483647/' \
	-e 's/"2024-10-01"\]/"2024-10-02"]/' "$T/good.json" >"$T/max.json"
code=$(submit "$T/max.json")
[ "$code" = 200 ] || fail "max counters: status $code: $(cat "$T/response")"
refused 400 "overflows a counter" "$T/good.json"
# Within one payload: two stations of one (month, network, country) whose bytes
# add up past bigint, as the rollup would sum them (src/central/sgroup.c).
payload "$T/groupsum.json" "$(bad 's/"station": "CIEL"/"station": "OTHER"/; s/"bytes": 10/"bytes": 9000000000000000000/')"
sed -i 's/"bytes": 10,/"bytes": 9000000000000000000,/' "$T/groupsum.json"
refused 400 "overflows a counter" "$T/groupsum.json"
ingestd_stop
exit 0
