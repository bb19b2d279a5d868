#!/bin/sh
# The report directory on the web (issue 9, "Delivery: Web" and "Web,
# private"): eidastats-ingestd serves report_dir under PREFIX/reports/ with
# content types, caching headers and 304s; a node's own files only to its
# submission token (401 without, 403 with another node's); networks/ never;
# every traversal attempt (.., %2e%2e, //, backslashes, %00, symbolic links
# out of the directory, hidden and temporary files) is 404; report_dir
# removed by a reload: 404 saying so.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

# The directory as eidastats-report lays it out (REPORT-CONTRACT: DIR/PERIOD/...).
R=$T/reports
mkdir -p "$R/2025-01/nodes" "$R/2025-01/networks/node1" "$R/2025"
printf '<!DOCTYPE html><title>EIDA reports</title>\n' >"$R/index.html"
printf '<!DOCTYPE html><title>2025-01</title>\n' >"$R/2025-01/index.html"
printf '{"schema": 1, "period": "2025-01"}\n' >"$R/2025-01/report.json"
printf 'node,nb_reqs\nnode1,3\n' >"$R/2025-01/nodes.csv"
printf '\211PNG\r\n\032\n' >"$R/2025-01/chart.png"
printf 'raw' >"$R/2025-01/blob.bin"
printf '<!DOCTYPE html><title>2025</title>\n' >"$R/2025/index.html"
printf '<!DOCTYPE html><title>node1 private</title>\n' >"$R/2025-01/nodes/node1.html"
printf 'network,nb_reqs\nXX,3\n' >"$R/2025-01/nodes/node1-networks.csv"
printf '<!DOCTYPE html><title>GFZ private</title>\n' >"$R/2025-01/nodes/GFZ.html"
printf '<!DOCTYPE html><title>PI report</title>\n' >"$R/2025-01/networks/node1/XX.html"
printf 'hidden\n' >"$R/2025-01/.hidden.csv"
printf 'half\n' >"$R/2025-01/nodes.csv.tmp.Ab12Cd"
# What must never leak: a file beside the directory, reached by links and by "..".
printf 'SECRET\n' >"$T/secret.txt"
ln -s "$T/secret.txt" "$R/2025-01/leak.csv"
ln -s "$T" "$R/2024-12"
ln -s ../secret.txt "$R/up.html"
mkfifo "$R/2025-01/fifo.csv"
# A large file, to check that it is streamed whole.
dd if=/dev/urandom of="$R/2025-01/big.csv" bs=1M count=24 2>/dev/null || fail "dd"

printf 'report_dir: %s\n' "$R" >"$T/ingestd.yaml"
central_start --config "$T/ingestd.yaml"
new_node GFZ
GFZ_TOKEN=$NODE_TOKEN
U=$ES_INGEST_BASE/reports

# get PATH [CURL-OPTION...]: prints the status; headers in $T/h, body in $T/b.
get() {
	_p=$1
	shift
	rm -f "$T/b"
	curl -s --path-as-is -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$U$_p"
}
hdr() { sed -n "s/^$1: //Ip" "$T/h" | tr -d '\r'; }
expect() {   # expect STATUS PATH [CURL-OPTION...]
	_want=$1
	shift
	_got=$(get "$@")
	[ "$_got" = "$_want" ] || fail "GET $1: status $_got, expected $_want: $(cat "$T/b")"
}
# public PATH FILE TYPE: a public file, whole, with its type and caching headers.
public() {
	expect 200 "$1"
	cmp -s "$T/b" "$2" || fail "GET $1: not the content of $2"
	[ "$(hdr Content-Type)" = "$3" ] || fail "GET $1: Content-Type $(hdr Content-Type), expected $3"
	[ "$(hdr Content-Length)" = "$(wc -c <"$2" | tr -d ' ')" ] || fail "GET $1: Content-Length $(hdr Content-Length)"
	[ "$(hdr Cache-Control)" = "public, max-age=300" ] || fail "GET $1: Cache-Control $(hdr Cache-Control)"
	[ -n "$(hdr ETag)" ] || fail "GET $1: no ETag"
	[ "$(hdr Last-Modified)" = "$(TZ=GMT LC_ALL=C date -r "$2" '+%a, %d %b %Y %H:%M:%S GMT')" ] ||
		fail "GET $1: Last-Modified $(hdr Last-Modified)"
}

# Public files and directory URLs.
public / "$R/index.html" "text/html; charset=UTF-8"
public /index.html "$R/index.html" "text/html; charset=UTF-8"
public /2025-01/ "$R/2025-01/index.html" "text/html; charset=UTF-8"
public /2025/ "$R/2025/index.html" "text/html; charset=UTF-8"
public /2025-01/report.json "$R/2025-01/report.json" "application/json"
public /2025-01/nodes.csv "$R/2025-01/nodes.csv" "text/csv; charset=UTF-8"
public /2025-01/chart.png "$R/2025-01/chart.png" "image/png"
public /2025-01/blob.bin "$R/2025-01/blob.bin" "application/octet-stream"
public /2025-01/big.csv "$R/2025-01/big.csv" "text/csv; charset=UTF-8"
grep -q "^eidastats-ingestd: access 127.0.0.1 \"GET /eidaws/statistics/1/reports/2025-01/big.csv\" 200 .*\"file\"" \
	"$T/ingestd.log" || fail "big.csv was not sent from its file: $(tail -n 3 "$T/ingestd.log")"

# Redirects to the directory URL.
expect 301 ""
[ "$(hdr Location)" = "/eidaws/statistics/1/reports/" ] || fail "/reports: Location $(hdr Location)"
expect 301 /2025-01
[ "$(hdr Location)" = "/eidaws/statistics/1/reports/2025-01/" ] || fail "/reports/2025-01: Location $(hdr Location)"
[ "$(curl -s -L -o /dev/null -w '%{http_code}' "$U")" = 200 ] || fail "following /reports"

# HEAD: the headers of GET, no body.
# head PATH [CURL-OPTION...]: prints "STATUS BYTES-OF-BODY"; headers in $T/h.
head_req() {
	_p=$1
	shift
	curl -s -I --path-as-is -D "$T/h" -o /dev/null -w '%{http_code} %{size_download}' "$@" "$U$_p"
}
[ "$(head_req /2025-01/report.json)" = "200 0" ] || fail "HEAD report.json: $(head_req /2025-01/report.json)"
[ "$(hdr Content-Length)" = "$(wc -c <"$R/2025-01/report.json" | tr -d ' ')" ] || fail "HEAD: Content-Length $(hdr Content-Length)"
[ "$(hdr Content-Type)" = "application/json" ] || fail "HEAD: Content-Type"
[ "$(head_req /2025-01/big.csv)" = "200 0" ] || fail "HEAD big.csv"
[ "$(hdr Content-Length)" = $((24 * 1024 * 1024)) ] || fail "HEAD big.csv: Content-Length $(hdr Content-Length)"
[ "$(head_req /2025-01/missing.csv)" = "404 0" ] || fail "HEAD of a missing file"

# Conditional requests.
expect 200 /2025-01/nodes.csv
etag=$(hdr ETag)
lm=$(hdr Last-Modified)
expect 304 /2025-01/nodes.csv -H "If-None-Match: $etag"
[ ! -s "$T/b" ] || fail "304 with a body: $(od -c "$T/b" | head -3) $(cat "$T/h")"
[ "$(hdr ETag)" = "$etag" ] || fail "304 without the ETag"
[ "$(hdr Content-Length)" = "$(wc -c <"$R/2025-01/nodes.csv" | tr -d ' ')" ] || fail "304: Content-Length $(hdr Content-Length)"
expect 304 /2025-01/nodes.csv -H "If-None-Match: \"x\", W/$etag"
expect 304 /2025-01/nodes.csv -H "If-None-Match: *"
expect 304 /2025-01/nodes.csv -H "If-Modified-Since: $lm"
expect 200 /2025-01/nodes.csv -H 'If-None-Match: "other"'
expect 200 /2025-01/nodes.csv -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT"
expect 200 /2025-01/nodes.csv -H "If-Modified-Since: yesterday"
# If-None-Match wins over If-Modified-Since (RFC 9110).
expect 200 /2025-01/nodes.csv -H 'If-None-Match: "other"' -H "If-Modified-Since: $lm"
# A changed file has another ETag.
sleep_until_next_second() { _s=$(date +%s); wait_until 3 sh -c "[ \$(date +%s) -gt $_s ]"; }
sleep_until_next_second
printf 'node,nb_reqs\nnode1,4\n' >"$R/2025-01/nodes.csv.new" && mv "$R/2025-01/nodes.csv.new" "$R/2025-01/nodes.csv"
expect 200 /2025-01/nodes.csv -H "If-None-Match: $etag"
[ "$(hdr ETag)" != "$etag" ] || fail "the ETag did not change with the file"
expect 200 /2025-01/nodes.csv -H "If-Modified-Since: $lm"

# Private files: the node's token, and nobody else's.
expect 401 /2025-01/nodes/node1.html
hdr WWW-Authenticate | grep -q '^Bearer' || fail "401 without WWW-Authenticate"
expect 401 /2025-01/nodes/GFZ.html
expect 401 /2025-01/nodes/nobody.html
expect 200 /2025-01/nodes/node1.html -H "Authorization: Bearer $ES_TOKEN"
cmp -s "$T/b" "$R/2025-01/nodes/node1.html" || fail "node1.html content"
[ "$(hdr Cache-Control)" = "private, no-store" ] || fail "private Cache-Control: $(hdr Cache-Control)"
[ "$(hdr Vary)" = "Authorization" ] || fail "private Vary: $(hdr Vary)"
[ "$(hdr Content-Type)" = "text/html; charset=UTF-8" ] || fail "private Content-Type"
expect 200 /2025-01/nodes/node1-networks.csv -H "Authentication: Bearer $ES_TOKEN"
[ "$(hdr Content-Type)" = "text/csv; charset=UTF-8" ] || fail "private CSV Content-Type"
expect 304 /2025-01/nodes/node1.html -H "Authorization: Bearer $ES_TOKEN" -H "If-None-Match: $(get /2025-01/nodes/node1.html -H "Authorization: Bearer $ES_TOKEN" >/dev/null; hdr ETag)"
[ "$(head_req /2025-01/nodes/node1.html -H "Authorization: Bearer $ES_TOKEN")" = "200 0" ] || fail "HEAD private"
[ "$(head_req /2025-01/nodes/node1.html)" = "401 0" ] || fail "HEAD private without a token"
expect 403 /2025-01/nodes/GFZ.html -H "Authorization: Bearer $ES_TOKEN"
grep -q 'another node' "$T/b" || fail "403 message: $(cat "$T/b")"
grep -q 'private' "$T/b" && fail "403 shows the other node's file"
expect 200 /2025-01/nodes/GFZ.html -H "Authorization: Bearer $GFZ_TOKEN"
expect 403 /2025-01/nodes/node1.html -H "Authorization: Bearer $GFZ_TOKEN"
expect 403 /2025-01/nodes/node1-networks.csv -H "Authorization: Bearer $GFZ_TOKEN"
# Another node's file that does not exist: 403 too (nothing learnt); one's own: 404.
expect 403 /2025-01/nodes/nobody.html -H "Authorization: Bearer $GFZ_TOKEN"
expect 404 /2025-01/nodes/GFZ-stations.csv -H "Authorization: Bearer $GFZ_TOKEN"
expect 403 /2025-01/nodes/node1.html -H "Authorization: Bearer ffffffffffffffffffffffffffffffff"
grep -q 'No valid token' "$T/b" || fail "unknown token message: $(cat "$T/b")"
expect 403 /2025-01/nodes/node1.html -H "Authorization: Basic bm9kZTE6eA==" -H "Authentication: Bearer nope"
# The public part needs no token, and a token changes nothing there.
public /2025-01/report.json "$R/2025-01/report.json" "application/json"
expect 200 /2025-01/report.json -H "Authorization: Bearer $ES_TOKEN"
[ "$(hdr Cache-Control)" = "public, max-age=300" ] || fail "public file with a token: $(hdr Cache-Control)"
# networks/: never, whatever the token.
expect 404 /2025-01/networks/node1/XX.html
expect 404 /2025-01/networks/node1/XX.html -H "Authorization: Bearer $ES_TOKEN"
expect 404 /2025-01/networks/

# Traversal and hidden files: 404, and the secret never shows.
for p in \
	/../secret.txt /2025-01/../../secret.txt /%2e%2e/secret.txt /%2E%2E/secret.txt \
	/2025-01/%2e%2e/%2e%2e/secret.txt /%2e%2e%2fsecret.txt /2025-01/..%2f..%2fsecret.txt \
	/./index.html /2025-01/./index.html /2025-01/nodes/../nodes.csv \
	//index.html /2025-01//index.html //2025-01/ /2025-01/nodes//node1.html \
	'/2025-01/..\..\secret.txt' /2025-01/..%5c..%5csecret.txt /2025-01%5cindex.html '/2025-01\index.html' \
	/index.html%00.png /2025-01/report.json%00 /%00 /2025-01/nodes.csv%0a \
	/2025-01/leak.csv /2024-12/secret.txt /2024-12/ /up.html \
	/2025-01/.hidden.csv /2025-01/%2ehidden.csv /.hidden /2025-01/nodes.csv.tmp.Ab12Cd \
	/2025-01/fifo.csv /2025-01/nodes /2025-01/missing.csv /2025-13/ /x/ /x/index.html \
	/2025-01/nodes/%2e%2e/nodes.csv /2025-01/%zz /2025-01/%2 \
	; do
	_s=$(get "$p" -H "Authorization: Bearer $ES_TOKEN")
	[ "$_s" = 404 ] || fail "GET $p: status $_s, expected 404: $(head -c 200 "$T/b")"
	grep -q SECRET "$T/b" && fail "GET $p leaked the secret"
done
# The same without a token for the private tree (401 comes only after the path is valid).
expect 404 /2025-01/nodes/%2e%2e/nodes.csv
expect 404 /2025-01/nodes/.node1.html -H "Authorization: Bearer $ES_TOKEN"
# Other methods: 405 with Allow.
[ "$(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' -X POST --data x "$U/")" = 405 ] || fail "POST /reports/"
hdr Allow | grep -q 'GET, HEAD' || fail "405 Allow: $(hdr Allow)"
# The service is still well.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ES_INGEST_BASE/health")" = 200 ] || fail "health after the attempts"

# report_dir removed by a reload: 404 saying so; set again: served again.
: >"$T/ingestd.yaml"
kill -HUP "$ES_INGESTD_PID"
wait_until 10 grep -q 'settings reloaded' "$T/ingestd.log" || fail "no reload: $(cat "$T/ingestd.log")"
expect 404 /
grep -q 'report_dir is not set' "$T/b" || fail "404 without report_dir: $(cat "$T/b")"
printf 'report_dir: %s\n' "$R" >"$T/ingestd.yaml"
kill -HUP "$ES_INGESTD_PID"
wait_until 10 sh -c '[ "$(grep -c "settings reloaded" "$1")" -ge 2 ]' _ "$T/ingestd.log" || fail "no second reload"
public / "$R/index.html" "text/html; charset=UTF-8"
# A relative report_dir is refused.
"$INGESTD" --db "$ES_DB" --report-dir reports --listen 127.0.0.1:0 2>"$T/err" && fail "a relative report_dir was taken"
grep -q 'report_dir: not an absolute directory path' "$T/err" || fail "relative report_dir message: $(cat "$T/err")"
ingestd_stop
