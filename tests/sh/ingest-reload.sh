#!/bin/sh
# eidastats-ingestd reloads its settings on SIGHUP: a changed limit takes
# effect at once; listen, db, read_db, workers, prefix and max_connections
# are kept until a restart and the log says so; a bad new file is refused,
# the running settings kept, and the service keeps answering.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

mkdir -p "$T/central"
pg_start "$T/central" || exit $?
es_admin db init >/dev/null 2>&1 || fail "db init"
new_node node1
ES_TOKEN=$NODE_TOKEN

# settings MAX_STATS [EXTRA-LINE]: writes the configuration file.
settings() {
	{
		printf 'db: "%s"\nlisten: 127.0.0.1:0\nmax_stats: %s\n' "$ES_DB" "$1"
		[ $# -lt 2 ] || printf '%s\n' "$2"
	} >"$T/ingestd.yaml.new"
	mv "$T/ingestd.yaml.new" "$T/ingestd.yaml"
}
# reload PATTERN: SIGHUP, then waits for one more log line with PATTERN.
reload() {
	_n=$(grep -c -- "$1" "$T/ingestd.log")
	kill -HUP "$ES_INGESTD_PID"
	wait_until 10 sh -c '[ "$(grep -c -- "$1" "$2")" -gt "$3" ]' _ "$1" "$T/ingestd.log" "$_n" ||
		fail "no '$1' after SIGHUP: $(cat "$T/ingestd.log")"
}
health() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$ES_INGEST_BASE/health")" = 200 ] || fail "health: $1"
}

settings 2
: >"$T/ingestd.log"
"$INGESTD" --config "$T/ingestd.yaml" 2>>"$T/ingestd.log" &
ES_INGESTD_PID=$!
bg_track "$ES_INGESTD_PID"
wait_until 10 grep -q 'listening on' "$T/ingestd.log" || fail "start: $(cat "$T/ingestd.log")"
addr=$(sed -n 's/.*listening on //p' "$T/ingestd.log")
ES_INGEST_BASE="http://$addr/eidaws/statistics/1"
ES_SUBMIT_URL="$ES_INGEST_BASE/submit"

payload_from_expected "$DATA/null-country/expected.json" "$T/p.json"
[ "$(submit "$T/p.json")" = 413 ] || fail "max_stats 2 from the file: $(cat "$T/response")"

# A changed limit applies to the next request.
settings 100
reload 'SIGHUP: settings reloaded'
grep 'SIGHUP: settings reloaded' "$T/ingestd.log" | tail -n 1 | grep -q 'restart' &&
	fail "a limit change asked for a restart: $(cat "$T/ingestd.log")"
[ "$(submit "$T/p.json")" = 200 ] || fail "max_stats 100 after SIGHUP: $(cat "$T/response")"

# Settings that need a restart are named, and kept.
settings 100 'workers: 3'
printf 'max_connections: 4\n' >>"$T/ingestd.yaml"
reload 'workers, max_connections changed: restart the service to apply them'
health "after a reload that needs a restart"

# A bad file is refused with its line and key; the running settings stay.
settings 1 'max_body: lots'
reload 'reload refused'
grep -q "reload refused, the running settings are kept: $T/ingestd.yaml:4: max_body: not a size" \
	"$T/ingestd.log" || fail "the refusal does not name the file, line and key: $(cat "$T/ingestd.log")"
printf 'db: [x\n' >"$T/ingestd.yaml"
reload "reload refused, the running settings are kept: $T/ingestd.yaml:"
rm -f "$T/ingestd.yaml"
reload "reload refused, the running settings are kept: cannot open $T/ingestd.yaml"
health "after refused reloads"
payload_from_expected "$DATA/edge-cases/expected.json" "$T/p2.json"
[ "$(submit "$T/p2.json")" = 200 ] || fail "max_stats 100 kept after a bad file: $(cat "$T/response")"
ingestd_stop
exit 0
