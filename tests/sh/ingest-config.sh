#!/bin/sh
# eidastats-ingestd's command line and YAML file: every bad setting is an
# error naming the file, line and key; the command line overrides the file;
# the prefix, IPv6 and a quick clean exit on SIGTERM.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

# refuses MESSAGE ARG...: eidastats-ingestd exits 1 at once, saying MESSAGE.
refuses() {
	_msg=$1
	shift
	timeout 10 "$INGESTD" "$@" >"$T/out" 2>"$T/err"
	_rc=$?
	[ "$_rc" = 1 ] || fail "eidastats-ingestd $*: exit $_rc, expected 1 ($(cat "$T/err"))"
	grep -q -F -- "$_msg" "$T/err" || fail "eidastats-ingestd $*: '$(cat "$T/err")' lacks '$_msg'"
}

"$INGESTD" --help >"$T/out" || fail "--help"
grep -q -- '--max-decompressed' "$T/out" || fail "--help text"
"$INGESTD" --version | grep -q '^eidastats-ingestd ' || fail "--version"
refuses "no database" --listen 127.0.0.1:0
refuses "Usage" --db x --frobnicate
refuses "unexpected argument 'extra'" --db x extra
refuses "workers: not a number" --db x --workers 0
refuses "max_body: not a size" --db x --max-body 12parsecs
refuses "max_stats: not a positive number" --db x --max-stats -3
refuses "max_decompressed: not a size" --db x --max-decompressed 0
refuses "timeout: not a number of seconds" --db x --timeout 0
refuses "max_connections: not a number" --db x --max-connections 1x
refuses "listen: not ADDR:PORT" --db x --listen nonsense
refuses "listen: '[::1]8080' is not ADDR:PORT" --db x --listen '[::1]8080'
refuses "listen:" --db x --listen 192.0.2.1:0
refuses "prefix: must start with '/'" --db x --prefix api

printf 'db: "host=/nowhere"\nlisten: 127.0.0.1:0\ncolour: red\n' >"$T/unknown.yaml"
refuses "$T/unknown.yaml:3: unknown key 'colour'" --config "$T/unknown.yaml"
printf 'db: x\nworkers: many\n' >"$T/badvalue.yaml"
refuses "$T/badvalue.yaml:2: workers: not a number" --config "$T/badvalue.yaml"
printf 'db: x\nlimits:\n  max_body: 1MiB\n' >"$T/nested.yaml"
refuses "$T/nested.yaml:3: 'limits': nested mappings are not settings" --config "$T/nested.yaml"
printf 'db: [a, b]\n' >"$T/list.yaml"
refuses "$T/list.yaml:1: 'db': a list is not a setting" --config "$T/list.yaml"
printf 'db: "x\n' >"$T/broken.yaml"
refuses "$T/broken.yaml:" --config "$T/broken.yaml"
refuses "$T/missing.yaml: No such file or directory" --config "$T/missing.yaml"

# A port already taken.
mkdir -p "$T/central"
pg_start "$T/central" || exit $?
es_admin db init >/dev/null 2>&1 || fail "db init"
new_node node1
ES_TOKEN=$NODE_TOKEN
ingestd_start
port=${ES_INGEST_BASE#http://127.0.0.1:}
port=${port%%/*}
refuses "Address already in use" --db "$ES_DB" --listen "127.0.0.1:$port"
ingestd_stop

# The file's settings, with the command line winning over the file.
cat >"$T/ingestd.yaml" <<YAML
# Settings of a test service.
db: "$ES_DB"
listen: "192.0.2.1:1"
prefix: /stats/v1/
workers: 2
max_body: 1MiB
max_decompressed: 2MiB
max_stats: 50
timeout: 30
max_connections: 16
YAML
: >"$T/ingestd.log"
"$INGESTD" --config "$T/ingestd.yaml" --listen 127.0.0.1:0 2>>"$T/ingestd.log" &
ES_INGESTD_PID=$!
bg_track "$ES_INGESTD_PID"
wait_until 10 grep -q 'listening on' "$T/ingestd.log" || fail "start with --config: $(cat "$T/ingestd.log")"
addr=$(sed -n 's/.*listening on //p' "$T/ingestd.log")
ES_SUBMIT_URL="http://$addr/stats/v1/submit"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/stats/v1/health")" = 200 ] || fail "prefix health"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/eidaws/statistics/1/health")" = 404 ] ||
	fail "the default prefix still answers"
payload_from_expected "$DATA/upstream-sample/expected.json" "$T/p.json"
[ "$(submit "$T/p.json")" = 413 ] || fail "max_stats from the file: $(cat "$T/response")"
payload_from_expected "$DATA/null-country/expected.json" "$T/small.json"
[ "$(submit "$T/small.json")" = 200 ] || fail "POST with --config: $(cat "$T/response")"
# SIGHUP is logged and changes nothing.
kill -HUP "$ES_INGESTD_PID"
wait_until 5 grep -q 'SIGHUP' "$T/ingestd.log" || fail "SIGHUP was not logged"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/stats/v1/health")" = 200 ] || fail "health after SIGHUP"
ingestd_stop

# IPv6 loopback: where the machine has ::1 (on lo in /proc/net/if_inet6),
# ingestd listens and answers there; elsewhere this check cannot run and the
# test ends as skipped, after all the rest passed.
grep -q '^00000000000000000000000000000001 .* lo$' /proc/net/if_inet6 2>/dev/null ||
	skip "no IPv6 loopback on this machine: the [::1] listen check did not run (all else passed)"
"$INGESTD" --db "$ES_DB" --listen '[::1]:0' 2>"$T/v6.log" &
pid=$!
bg_track "$pid"
wait_until 10 grep -q 'listening on \[::1\]' "$T/v6.log" ||
	{ cat "$T/v6.log" >&2; fail "ingestd does not listen on [::1]"; }
addr=$(sed -n 's/.*listening on //p' "$T/v6.log")
[ "$(curl -s -g -o /dev/null -w '%{http_code}' "http://$addr/eidaws/statistics/1/health")" = 200 ] ||
	fail "health over IPv6 ($addr)"
kill "$pid"
wait "$pid"
check "ingestd on [::1] exits 0 on SIGTERM" test $? = 0
exit 0
