#!/bin/sh
# Gzip bombs on /submit: bodies of a few hundred KiB that decompress to
# 100 MiB and 1 GiB, eight of them at once, many gzip members one after the
# other, and a bomb gzipped twice.  Each is refused (413 past
# max_decompressed, 503 when the budget is taken by the others, 400 for
# what is not a payload once decoded); nothing is stored, a good client on
# 127.0.0.2 keeps its answers, the service's memory stays bounded, and a
# real payload is stored afterwards.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/hostile-lib.sh"

hostile_start --workers 4 --max-body 2MiB --max-decompressed 4MiB --max-in-flight 16MiB
good_start
db_state >"$T/db.before" || fail "db_state"

# bomb FILE: POST FILE as gzip from 127.0.0.1; prints the status (answer in FILE.answer).
bomb() {
	curl -s -o "$1.answer" -w '%{http_code}' --max-time 60 --interface 127.0.0.1 \
		-H "Authentication: Bearer $ES_TOKEN" -H 'Content-Encoding: gzip' \
		--data-binary "@$1" "$ES_SUBMIT_URL"
}
# expect_bomb FILE STATUSES WHAT
expect_bomb() {
	_st=$(bomb "$1")
	echo "$3: $(wc -c <"$1") bytes sent: $_st $(head -c 120 "$1.answer")"
	case " $2 " in
	*" $_st "*) ;;
	*) fail "$3: status $_st, expected one of $2: $(head -c 200 "$1.answer")" ;;
	esac
}

{ printf '{"stats": ['; head -c 100M /dev/zero; } | gzip -6 >"$T/b100m.gz"
{ printf '{"stats": ['; head -c 1G /dev/zero; } | gzip -6 >"$T/b1g.gz"
[ "$(wc -c <"$T/b1g.gz")" -lt 2097152 ] || fail "the 1 GiB bomb is not under max_body"
expect_bomb "$T/b100m.gz" 413 "100 MiB bomb"
grep -q 'decompressed body is larger than 4194304 bytes' "$T/b100m.gz.answer" ||
	fail "413 answer: $(cat "$T/b100m.gz.answer")"
expect_bomb "$T/b1g.gz" 413 "1 GiB bomb"

# Eight at once: each 413, or 503 while the others hold the budget.
i=0
pids=""
while [ $i -lt 8 ]; do
	cp "$T/b1g.gz" "$T/par$i.gz"
	bomb "$T/par$i.gz" >"$T/par$i.status" &
	pids="$pids $!"
	i=$((i + 1))
done
# curl's --max-time bounds each.
for p in $pids; do
	wait "$p"
done
echo "eight at once:$(for f in "$T"/par*.status; do printf ' %s' "$(cat "$f")"; done)"
for f in "$T"/par*.status; do
	case "$(cat "$f")" in
	413|503) ;;
	*) fail "a parallel bomb: status $(cat "$f")" ;;
	esac
done

# 400 gzip members of 1 MiB each (one valid gzip stream per member).
python3 - "$T/members.gz" <<'PY' || fail "members"
import gzip, sys
one = gzip.compress(b" " * (1 << 20), 6)
with open(sys.argv[1], "wb") as f:
    f.write(gzip.compress(b'{"stats": [', 6))
    for _ in range(400):
        f.write(one)
PY
expect_bomb "$T/members.gz" "413 400" "400 gzip members of 1 MiB"
# Gzipped twice: decoded once, the body is gzip bytes, not a payload.
gzip -c "$T/b1g.gz" >"$T/double.gz"
expect_bomb "$T/double.gz" 400 "a bomb gzipped twice"

db_state >"$T/db.after" || fail "db_state"
cmp -s "$T/db.before" "$T/db.after" || fail "a bomb changed the database"
good_stop 3
mem_check 64 "gzip bombs"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ES_INGEST_BASE/health")" = 200 ] || fail "health after"
# The budget is whole again: a real payload goes in.
payload_from_expected "$DATA/null-country/expected.json" "$T/small.json"
gzip -c "$T/small.json" >"$T/small.json.gz"
[ "$(submit "$T/small.json.gz" POST -H 'Content-Encoding: gzip')" = 200 ] ||
	fail "a real gzip payload after the bombs: $(cat "$T/response")"
ingestd_stop
exit 0
