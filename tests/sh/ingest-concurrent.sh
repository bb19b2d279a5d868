#!/bin/sh
# 16 clients posting different payloads at once lose nothing (they all touch
# the same rows, so they contend for the same row locks); 8 clients posting
# the same payload at once store it exactly once.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

central_start --workers 4

files=""
pids=""
i=1
while [ $i -le 16 ]; do
	day=$(printf '2020-10-%02d' "$i")
	sed -e 's/"GENERATED_AT"/"2026-11-28 12:00:00"/' -e 's/"VERSION"/"0.8.0"/' \
		-e "s/\"days_coverage\": \[[^]]*\]/\"days_coverage\": [\"$day\"]/" \
		"$DATA/upstream-sample/expected.json" >"$T/p$i.json"
	files="$files $T/p$i.json"
	i=$((i + 1))
done

i=1
while [ $i -le 16 ]; do
	curl -s -o "$T/r$i" -w '%{http_code}' -H "Authentication: Bearer $ES_TOKEN" \
		--data-binary "@$T/p$i.json" "$ES_SUBMIT_URL" >"$T/code$i" &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids
i=1
while [ $i -le 16 ]; do
	[ "$(cat "$T/code$i")" = 200 ] || fail "client $i: status $(cat "$T/code$i"): $(cat "$T/r$i")"
	i=$((i + 1))
done
# shellcheck disable=SC2086
db_expect "$ES_NODE_ID" $files || fail "16 concurrent payloads did not all count"
[ "$(pg_psql -c "SELECT count(*) FROM payloads WHERE node_id = $ES_NODE_ID")" = 16 ] ||
	fail "not 16 payload records"

new_node same
pids=""
i=1
while [ $i -le 8 ]; do
	curl -s -o "$T/s$i" -w '%{http_code}' -H "Authentication: Bearer $NODE_TOKEN" \
		--data-binary "@$T/p1.json" "$ES_SUBMIT_URL" >"$T/same$i" &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids
i=1; ok=0; dup=0
while [ $i -le 8 ]; do
	case $(cat "$T/same$i") in
	200) ok=$((ok + 1)) ;;
	409) dup=$((dup + 1)) ;;
	*) fail "same payload, client $i: status $(cat "$T/same$i"): $(cat "$T/s$i")" ;;
	esac
	i=$((i + 1))
done
[ "$ok" = 1 ] && [ "$dup" = 7 ] || fail "the same payload 8 times at once: $ok stored, $dup refused"
db_expect "$NODE_ID" "$T/p1.json" || fail "the same payload was not stored exactly once"
ingestd_stop
exit 0
