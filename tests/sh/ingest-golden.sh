#!/bin/sh
# The payloads of every golden set, and upstream's own output, are stored
# with counters equal to the expected ones and hll_cardinality(clients) equal
# to that of the expected clients.  The payloads come from `eidastats
# aggregate`; the database is compared with the golden expected.json.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

central_start

# The payloads come from the CLI of this build; a CLI that cannot even show
# its help is a failure, never a reason to send something else.
eidastats aggregate --help >"$T/help.out" 2>&1 ||
	{ cat "$T/help.out" >&2; fail "eidastats aggregate --help failed"; }

# payload NAME SET EXPECTED INPUT... : makes $T/NAME.json, the payload to send,
# with the network registry of the golden folder SET.
payload() {
	_set=$1 _dir=$2 _expected=$3
	shift 3
	rm -rf "$T/agg-$_set"
	mkdir -p "$T/agg-$_set"
	eidastats aggregate --networks "$DATA/$_dir/networks.json" -o "$T/agg-$_set" "$@" \
		>"$T/agg-$_set.log" 2>&1 || { cat "$T/agg-$_set.log" >&2; fail "eidastats aggregate $_set"; }
	gzip -dc "$T/agg-$_set"/*.json.gz >"$T/$_set.json" || fail "no payload from eidastats aggregate $_set"
}

n=0
check_set() {
	_set=$1 _dir=$2 _expected=$3
	shift 3
	n=$((n + 1))
	new_node "golden$n"
	ES_TOKEN=$NODE_TOKEN
	payload "$_set" "$_dir" "$_expected" "$@"
	code=$(submit "$T/$_set.json")
	[ "$code" = 200 ] || fail "$_set: status $code: $(cat "$T/response")"
	db_expect "$NODE_ID" "$_expected" || fail "$_set: the database does not hold the expected statistics"
	echo "# $_set: stored and equal to $(basename "$_expected")"
}

check_set upstream-sample upstream-sample "$DATA/upstream-sample/expected.json" "$DATA/upstream-sample/test.log"
# The comparison is not vacuous: one byte more, or one client less, in one
# statistic of the expectation makes it fail.
sed '7s/"bytes": \([0-9]*\)/"bytes": 1\1/' "$DATA/upstream-sample/expected.json" >"$T/wrong-bytes.json"
cmp -s "$T/wrong-bytes.json" "$DATA/upstream-sample/expected.json" && fail "could not alter the bytes"
db_expect "$NODE_ID" "$T/wrong-bytes.json" 2>/dev/null && fail "db_expect accepted wrong bytes"
grep -n '"clients": "\\\\x128B7F[0-9A-F]\{32\}' "$DATA/upstream-sample/expected.json" | head -n 1 |
	cut -d: -f1 >"$T/line" || fail "no two-client stat in upstream-sample"
sed "$(cat "$T/line")"'s/"clients": "\\\\x128B7F\([0-9A-F]\{16\}\)[0-9A-F]\{16\}/"clients": "\\\\x128B7F\1/' \
	"$DATA/upstream-sample/expected.json" >"$T/wrong-clients.json"
cmp -s "$T/wrong-clients.json" "$DATA/upstream-sample/expected.json" && fail "could not alter the clients"
db_expect "$NODE_ID" "$T/wrong-clients.json" 2>/dev/null && fail "db_expect accepted wrong clients"

check_set synthetic-small synthetic-small "$DATA/synthetic-small/expected.json" "$DATA/synthetic-small/small.log.bz2"
check_set edge-cases edge-cases "$DATA/edge-cases/expected.json" "$DATA/edge-cases/edge.log"
check_set hll-edges hll-edges "$DATA/hll-edges/expected.json" "$DATA/hll-edges/hll-edges.log.bz2"
check_set null-country null-country "$DATA/null-country/expected.json" "$DATA/null-country/null-country.log"
check_set multi synthetic-small "$DATA/synthetic-small/expected-multi.json" \
	"$DATA/synthetic-small/multi/"*

# Upstream's own bytes (insertion order, real timestamp, null countries).
gzip -dc "$DATA/synthetic-small/upstream-raw-output.json.gz" >"$T/raw-small.json"
gzip -dc "$DATA/synthetic-small/upstream-raw-output-multi.json.gz" >"$T/raw-multi.json"
for set in upstream-sample null-country edge-cases hll-edges small multi; do
	raw=$DATA/$set/upstream-raw-output.json expected=$DATA/$set/expected.json
	case $set in
	small) raw=$T/raw-small.json expected=$DATA/synthetic-small/expected.json ;;
	multi) raw=$T/raw-multi.json expected=$DATA/synthetic-small/expected-multi.json ;;
	esac
	new_node "raw-$set"
	ES_TOKEN=$NODE_TOKEN
	code=$(submit "$raw")
	[ "$code" = 200 ] || fail "raw $set: status $code: $(cat "$T/response")"
	grep -q 'Statistic successfully ingested' "$T/response" || fail "raw $set: answer $(cat "$T/response")"
	db_expect "$NODE_ID" "$expected" || fail "raw $set differs from its expected.json"
done

# gzip with Content-Encoding, PUT, the /dataselectstats alias and the standard
# Authorization header all store the same.
new_node gzip
ES_TOKEN=$NODE_TOKEN
payload_from_expected "$DATA/hll-edges/expected.json" "$T/hll.json"
gzip -c "$T/hll.json" >"$T/hll.json.gz"
code=$(submit "$T/hll.json.gz" POST -H 'Content-Encoding: gzip')
[ "$code" = 200 ] || fail "gzip: status $code: $(cat "$T/response")"
db_expect "$NODE_ID" "$DATA/hll-edges/expected.json" || fail "gzip payload"

new_node alias
code=$(curl -s -o "$T/response" -w '%{http_code}' -X PUT -H "Authorization: Bearer $NODE_TOKEN" \
	--data-binary "@$T/hll.json" "$ES_INGEST_BASE/dataselectstats")
[ "$code" = 200 ] || fail "alias with Authorization: status $code: $(cat "$T/response")"
db_expect "$NODE_ID" "$DATA/hll-edges/expected.json" || fail "alias payload"

# Every network of a node's rows exists in networks (upstream's trigger).
missing=$(pg_psql -c "SELECT count(*) FROM (SELECT DISTINCT node_id, network FROM dataselect_stats) s
	WHERE NOT EXISTS (SELECT 1 FROM networks n WHERE n.node_id = s.node_id AND n.name = s.network)")
[ "$missing" = 0 ] || fail "$missing networks were not created"
ingestd_stop
exit 0
