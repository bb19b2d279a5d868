#!/bin/sh
# A query for everything at channel level (an operator's token, 180000 rows
# and more): it streams within bounded memory, or runs into query_timeout
# (503 before the answer starts, a cut answer after); a query held by a slow
# reader counts in max_queries_per_client (429 beyond); a good client on
# 127.0.0.2 keeps its answers; restricted answers are "private, no-store".
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/hostile-lib.sh"
command -v gpg >/dev/null 2>&1 || skip "gpg not installed (Debian package gnupg)"

G=$T/g
mkdir -m 700 "$G" "$G/eas" "$G/ring" "$T/run"
es_at_exit "gpgconf --homedir '$G/eas' --kill gpg-agent 2>/dev/null"
gpg --homedir "$G/eas" --batch -q --passphrase '' --quick-gen-key "eas <eas@example.org>" ed25519 sign 1y \
	2>/dev/null || fail "gpg could not make a key"
gpg --homedir "$G/eas" --batch -q --armor --export >"$G/ring/eas.asc" || fail "gpg export"
printf '%s\n' '{"valid_until": "2099-01-01T00:00:00.1Z", "cn": "Op", "memberof": "/op/n1"}' >"$G/op.txt"
gpg --homedir "$G/eas" --batch -q --yes --clearsign -o "$G/op" "$G/op.txt" 2>/dev/null || fail "gpg sign"

QT=3
hostile_start --workers 4 --query-timeout $QT --max-queries-per-client 2 \
	--eas-keyring "$G/ring" --runtime-dir "$T/run"
# 5000 stations x 3 channels x 12 months of node1 (the operator's node).
hll=$("$EIDASTATS" hll add 1 2 3)
pg_psql >/dev/null <<EOF || fail "bulk rows"
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
SELECT n.id, make_date(2022, m, 1), 'XB', 'S' || s, '00', c, 'FR', 1000, 3, 2, 1, '$hll'::hll
FROM nodes n, generate_series(1, 5000) s, generate_series(1, 12) m, unnest(ARRAY['HHZ', 'HHN', 'HHE']) c
WHERE n.name = 'node1';
SELECT eidastats_rollup_rebuild();
EOF
good_start
R="$ES_INGEST_BASE/dataselect/restricted"
ALL="start=2021-01&level=channel&details=month,country"

# The whole query at full speed.
rc=0
st=$(curl -s -o "$T/all" -D "$T/all.h" -w '%{http_code}' --max-time 120 --interface 127.0.0.1 \
	--data-binary "@$G/op" "$R?$ALL") || rc=$?
rows=$(wc -l <"$T/all")
case "$st:$rc" in
200:0)
	echo "everything at channel level: 200, complete, $rows lines"
	[ "$rows" -gt 180000 ] || fail "a complete answer of $rows lines (180000 rows at least)"
	grep -qi '^Cache-Control: private, no-store' "$T/all.h" || fail "restricted: $(cat "$T/all.h")" ;;
200:18)
	echo "everything at channel level: 200, cut after $rows lines by query_timeout"
	grep -q 'statement timeout' "$T/ingestd.log" || fail "an answer cut without a statement timeout" ;;
503:0)
	echo "everything at channel level: 503"
	grep -q 'took longer than the service allows' "$T/all" || fail "503: $(head -c 200 "$T/all")" ;;
*)	fail "everything at channel level: status $st, curl $rc: $(head -c 200 "$T/all")" ;;
esac

good_stop 3
mem_check 64 "channel level, query_timeout $QT s"
ingestd_stop

# With room to run, the whole answer streams, in bounded memory.  A slow
# reader holds the one query slot of 127.0.0.1: its next query is 429,
# another address's is served.  (One at a time: a worker thread waiting for a
# query's first row serves none of its other connections meanwhile.)
ingestd_start --workers 4 --query-timeout 300 --max-queries-per-client 1 \
	--eas-keyring "$G/ring" --runtime-dir "$T/run"
_hp=${ES_INGEST_BASE#http://127.0.0.1:}
PORT=${_hp%%/*}
R="$ES_INGEST_BASE/dataselect/restricted"
good_start
# The loopback's socket buffers (tcp_rmem up to 32 MB here) can take the whole
# 8 MB answer, so a slow reader may hold the slot only while the query runs:
# when probes are still served 5 s after a slow reader started, another one
# starts (at most 30), so the result does not depend on which request the
# machine schedules first.
pids=""
nholders=0
holder() {
	curl -s -o /dev/null --max-time 600 --limit-rate 20k --interface 127.0.0.1 \
		--data-binary "@$G/op" "$R?$ALL" &
	pids="$pids $!"
	bg_track $!
	nholders=$((nholders + 1))
	held_since=$(date +%s)
}
holder
probe() {
	curl -s -o "$T/probe" -w '%{http_code}' --interface "$1" \
		"$ES_INGEST_BASE/dataselect/public?start=2021-01&level=node"
}
is429() {
	[ "$(probe 127.0.0.1)" = 429 ] && return 0
	[ "$nholders" -lt 30 ] && [ "$(date +%s)" -ge $((held_since + 5)) ] && holder
	return 1
}
is200() { [ "$(probe 127.0.0.1)" = 200 ]; }
wait_until 60 is429 || fail "no 429 while a slow channel query of 127.0.0.1 runs: $(head -c 200 "$T/probe")"
echo "a second query of 127.0.0.1 during its slow one: 429"
[ "$(probe 127.0.0.4)" = 200 ] || fail "127.0.0.4 during the slow queries: $(head -c 200 "$T/probe")"

st=$(curl -s -o "$T/all" -D "$T/all.h" -w '%{http_code}' --max-time 300 --interface 127.0.0.4 \
	--data-binary "@$G/op" "$R?$ALL") || fail "the whole channel-level answer was cut: $st"
rows=$(wc -l <"$T/all")
echo "everything at channel level, query_timeout 300 s: $st, $rows lines, $(wc -c <"$T/all") bytes"
[ "$st" = 200 ] || fail "status $st: $(head -c 200 "$T/all")"
[ "$rows" -gt 180000 ] || fail "a complete answer of $rows lines (180000 rows at least)"
grep -qi '^Cache-Control: private, no-store' "$T/all.h" || fail "restricted: $(cat "$T/all.h")"
# The slow reader leaves: its slot comes back.
for p in $pids; do
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
wait_until 30 is200 || fail "127.0.0.1 not served again after its slow query left"
good_stop 1
mem_check 64 "channel level, whole answer and a slow reader"
ingestd_stop
exit 0
