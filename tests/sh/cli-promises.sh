#!/bin/sh
# README promises of `eidastats aggregate` that no golden set shows:
#   - a UTF-8 byte order mark at the start of a line is accepted inside a
#     compressed file (bzip2, gzip) and makes the line malformed in a plain one;
#   - the network registry's answers are cached under ~/.cache/eidastats and
#     serve the temporary codes offline (the registry gone), and only the cache
#     does: without it the same run stops with a clear error.
. "$top_srcdir/tests/sh/lib.sh"
es_install
command -v python3 >/dev/null 2>&1 || skip "python3 (the stand-in registry) is not installed"

S=$DATA/upstream-sample
# payload DIR: the JSON text of the one payload in DIR, generated_at blanked.
payload() {
	set -- "$1"/*.json.gz
	[ $# = 1 ] && [ -f "$1" ] || fail "expected one payload in $(dirname "$1")"
	gzip -dc "$1" | sed '1s/^{"generated_at": "[^"]*"/{"generated_at": "X"/'
}

# ---- BOM at line starts (lines 1, 5 and 200).
awk 'NR == 1 || NR == 5 || NR == 200 { printf "\357\273\277" } { print }' "$S/test.log" >"$T/bom.log"
check "the BOMs were written" test "$(grep -c "$(printf '^\357\273\277{')" "$T/bom.log")" = 3
bzip2 -c "$T/bom.log" >"$T/bom.log.bz2"
gzip -c "$T/bom.log" >"$T/bom.log.gz"
mkdir "$T/ref"
eidastats aggregate --networks "$S/networks.json" -o "$T/ref" "$S/test.log" 2>"$T/ref.err" ||
	fail "the reference run failed: $(cat "$T/ref.err")"
payload "$T/ref" >"$T/ref.json"
for f in bom.log.bz2 bom.log.gz; do
	mkdir "$T/$f.out"
	eidastats aggregate --networks "$S/networks.json" -o "$T/$f.out" "$T/$f" 2>"$T/$f.err" ||
		fail "$f: $(cat "$T/$f.err")"
	grep -q "Generated 120 aggregations from 200 events" "$T/$f.err" || fail "$f: $(cat "$T/$f.err")"
	grep -q "Malformed lines: 0 " "$T/$f.err" || fail "$f: a BOM made a line malformed: $(cat "$T/$f.err")"
	payload "$T/$f.out" | cmp -s - "$T/ref.json" || fail "$f: the payload differs from the file without BOMs"
done
mkdir "$T/plain.out"
eidastats aggregate --networks "$S/networks.json" -o "$T/plain.out" "$T/bom.log" 2>"$T/plain.err"
for l in 1 5 200; do
	grep -q "WARNING $T/bom.log:$l: Line $l could not be parsed as JSON. Ignoring" "$T/plain.err" ||
		fail "plain file: the BOM of line $l was accepted: $(cat "$T/plain.err")"
done
grep -q "Malformed lines: 3 (not JSON: 3," "$T/plain.err" || fail "plain file: not 3 malformed: $(cat "$T/plain.err")"

# ---- The registry cache.  The stand-in registry answers every query with
# the whole golden registry (deployments of other codes are ignored).
Y=$DATA/synthetic-small
LOG=$Y/multi/fdsnws-requests.log.2024-10-30.bz2
mkdir -p "$T/www" "$T/home"
cp "$Y/networks.json" "$T/www/query"
(cd "$T/www" && exec python3 -u -m http.server --bind 127.0.0.1 0) >"$T/www.log" 2>&1 &
www=$!
bg_track "$www"
wait_until 10 grep -q 'port [0-9]' "$T/www.log" || fail "the stand-in registry did not start: $(cat "$T/www.log")"
port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/www.log" | head -n 1)
URL=http://127.0.0.1:$port/query
unset XDG_CACHE_HOME
HOME=$T/home
export HOME
CACHE=$HOME/.cache/eidastats/networks

mkdir "$T/file.out" "$T/online.out" "$T/offline.out" "$T/nocache.out"
eidastats aggregate --networks "$Y/networks.json" -o "$T/file.out" "$LOG" 2>"$T/file.err" ||
	fail "run with the registry file: $(cat "$T/file.err")"
eidastats aggregate --networks "$URL" -o "$T/online.out" "$LOG" 2>"$T/online.err" ||
	fail "run with the registry online: $(cat "$T/online.err")"
grep -q 'GET /query?fdsn_code=' "$T/www.log" || fail "the registry was not asked: $(cat "$T/www.log")"
payload "$T/file.out" >"$T/file.json"
payload "$T/online.out" | cmp -s - "$T/file.json" || fail "online: the payload differs from the one with the file"
ls "$CACHE"/*.json >"$T/cached" 2>/dev/null || fail "nothing cached under $CACHE"
asked=$(grep -c 'GET /query?fdsn_code=' "$T/www.log")
check "one cache file per code asked ($(wc -l <"$T/cached") files, $asked queries)" \
	test "$(wc -l <"$T/cached")" = "$asked"

# Offline: the registry is gone; the cache answers.
kill "$www"
wait "$www" 2>/dev/null
eidastats aggregate --networks "$URL" -o "$T/offline.out" "$LOG" 2>"$T/offline.err" ||
	fail "offline run with the cache: $(cat "$T/offline.err")"
payload "$T/offline.out" | cmp -s - "$T/file.json" || fail "offline: the payload differs"
# Offline without the cache: the temporary codes cannot be extended.
rm -rf "$CACHE"
eidastats aggregate --networks "$URL" -o "$T/nocache.out" "$LOG" 2>"$T/nocache.err"
rc=$?
check "offline without a cache exits 1 (got $rc)" test "$rc" = 1
grep -q "use --networks FILE" "$T/nocache.err" || fail "offline without a cache: $(cat "$T/nocache.err")"
echo "BOM and registry cache behave as README says"
