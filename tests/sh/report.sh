#!/bin/sh
# report.sh - eidastats-report on a database filled through eidastats-ingestd's
# submit: several nodes (one that never sent anything), restricted networks
# (a policy set with eidastats-admin, one "not yet defined"), monthly and
# daily rows, days_coverage.  Every figure of the federation, node and
# network reports of a month and a year is checked against values computed
# from the payload files (tests/sh/report_check.py with the query API's
# oracle), the federation's networks also against the running API's answer;
# --auto makes every complete period, a second run writes no file, a late
# payload remakes its month and year only; bad input gets clear errors.
# Exit 0 pass, 77 skip, else fail.
. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/api-lib.sh"

REPORT=$top_builddir/src/report/eidastats-report
CHECK="python3 $top_srcdir/tests/sh/report_check.py"

api_start
new_node node4          # known, silent: zeros and every day missing
N4_TOKEN=$NODE_TOKEN
es_admin network set-policy node2 GE inverted >>"$T/admin.log" 2>&1 || fail "set-policy"
es_admin network set-contact node1 FR pi@fr.example >>"$T/admin.log" 2>&1 || fail "set-contact"
python3 - "$T/policy.json" <<'EOF2' || fail "policy.json"
import json, sys
p = json.load(open(sys.argv[1]))
p["nets"]["node2/GE"] = [True, None]
p["nodes"]["node4"] = [False, None]
json.dump(p, open(sys.argv[1], "w"))
EOF2
es_admin node list | grep -q node4 || fail "node4"
pg_psql -c "UPDATE nodes SET restriction_policy = false WHERE name = 'node4'" >/dev/null

# Daily rows of node2 in 2021-03 (a new network, NEW1), with three covered days.
day_payload() { # FILE NET DAY CLIENTS... (days_coverage: DAY and the next two)
	_f=$1 _net=$2 _day=$3
	shift 3
	_h=$("$EIDASTATS" hll add "$@" | sed 's/\\/\\\\/g')
	_d=${_day%??}
	_n=${_day#????????}
	cat >"$_f" <<EOF2
{"generated_at": "2026-11-28 13:00:00", "version": "0.8.0",
 "days_coverage": ["$_day", "$_d$(printf %02d $((${_n#0} + 1)))", "$_d$(printf %02d $((${_n#0} + 2)))"],
 "stats": [{"month": "$_day", "network": "$_net", "station": "S9", "location": "",
  "channel": "HHZ", "country": "IT", "bytes": 12345, "nb_requests": 9,
  "nb_successful_requests": 7, "nb_unsuccessful_requests": 2, "clients": "$_h"}]}
EOF2
}
day_payload "$T/pay/day1.json" NEW1 2021-03-10 5 6 7 8
st=$(ES_TOKEN=$N2_TOKEN submit "$T/pay/day1.json")
[ "$st" = 200 ] || fail "day payload: $st $(cat "$T/response")"
echo "node2 $T/pay/day1.json" >>"$T/pay/files.txt"
NODES=node1,node2,node3,node4

# One month, one year: every report of the set against the payloads.
OUT=$T/out
"$REPORT" --db "$ES_DB" --out "$OUT" --month 2021-01 >"$T/r.log" 2>&1 || fail "month: $(cat "$T/r.log")"
"$REPORT" --db "$ES_DB" --out "$OUT" --year 2021 >>"$T/r.log" 2>&1 || fail "year: $(cat "$T/r.log")"
DBURI=$ES_DB "$REPORT" --out "$OUT" --month 2021-03 >>"$T/r.log" 2>&1 || fail "DBURI: $(cat "$T/r.log")"
for p in 2021-01 2021 2021-03; do
	for f in report.json index.html nodes/node1.html networks/node1/FR.html nodes.csv networks.csv countries.csv trend.csv \
		nodes/node1.json nodes/node4.json nodes/node2-stations.csv nodes/node2-coverage.csv \
		nodes/node1-networks.csv nodes/node1-countries.csv \
		networks/node1/FR.json networks/node1/FR-stations.csv networks/node1/FR-countries.csv; do
		[ -s "$OUT/$p/$f" ] || fail "$p/$f missing"
	done
	$CHECK "$T/pay/files.txt" "$T/policy.json" "$OUT/$p/report.json" "$NODES" || fail "$p federation"
	for n in node1 node2 node3 node4; do
		$CHECK "$T/pay/files.txt" "$T/policy.json" "$OUT/$p/nodes/$n.json" "$NODES" || fail "$p $n"
	done
	$CHECK "$T/pay/files.txt" "$T/policy.json" "$OUT/$p/networks/node1/FR.json" "$NODES" ||
		fail "$p node1 FR"
done
# The federation's networks are the running API's answer, row for row; Other is there.
for p in 2021-01 2021-03; do
	api_get "dataselect/public?start=$p&end=$p&level=network&format=json" >/dev/null
	python3 - "$T/body" "$OUT/$p/report.json" <<'EOF2' || fail "$p networks differ from the API"
import json, sys
api = json.load(open(sys.argv[1]))["results"]
rep = json.load(open(sys.argv[2]))["networks"]
k = lambda r: (r["node"], r["network"], r["bytes"], r["nb_reqs"], r["nb_successful_reqs"], r["clients"])
a, b = sorted(map(k, api)), sorted(map(k, rep))
assert a == b, (a, b)
EOF2
done
grep -q '"node": "Other", "network": "Other"' "$OUT/2021-01/report.json" || fail "no Other row"
grep -q '"network": "Z3"' "$OUT/2021-01/report.json" && fail "restricted Z3 in the public table"
grep -q '"network": "Z3".*"restricted": true' "$OUT/2021-01/nodes/node1.json" || fail "Z3 in node1's report"
# node2's March: daily rows count in the month, NEW1 is new and restricted by default? (open node: public)
python3 - "$OUT/2021-03/nodes/node2.json" <<'EOF2' || fail "node2 2021-03"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["new_networks"] == [{"network": "NEW1", "restricted": False, "policy_defined": True}], r["new_networks"]
n = r["nodes"][0]
assert n["days_covered"] == 3 and "2021-03-10" not in n["missing_days"], n
assert n["last_submission"], n
EOF2
grep -q '^2021-03-10,true$' "$OUT/2021-03/nodes/node2-coverage.csv" || fail "coverage csv"
grep -q '^node4,0,0,0,0,0,31,0,2021-01-01 2021-01-02 ' "$OUT/2021-01/nodes.csv" || fail "node4 row: $(cat "$OUT/2021-01/nodes.csv")"
# DIR/index.html lists every period made.
for p in 2021-01 2021 2021-03; do
	grep -q "href=\"$p/index.html\"" "$OUT/index.html" || fail "index.html does not link $p"
done

# One node's or one network's report alone.
"$REPORT" --db "$ES_DB" --out "$T/one" --month 2021-01 --node node3 >"$T/r.log" 2>&1 || fail "--node: $(cat "$T/r.log")"
[ "$(cd "$T/one" && find . -type f | sort)" = "$(printf '%s\n' ./2021-01/nodes/node3-countries.csv \
	./2021-01/nodes/node3-coverage.csv ./2021-01/nodes/node3-networks.csv ./2021-01/nodes/node3-stations.csv \
	./2021-01/nodes/node3-trend.csv ./2021-01/nodes/node3.html ./2021-01/nodes/node3.json)" ] || fail "--node wrote $(find "$T/one" -type f)"
"$REPORT" --db "$ES_DB" --out "$T/one" --month 2021-01 --node node2 --network GE >"$T/r.log" 2>&1 ||
	fail "--network: $(cat "$T/r.log")"
$CHECK "$T/pay/files.txt" "$T/policy.json" "$T/one/2021-01/networks/node2/GE.json" "$NODES" || fail "node2 GE"

# --auto: every complete period with statistics; the second run writes nothing.
AUTO=$T/auto
"$REPORT" --db "$ES_DB" --out "$AUTO" --auto --dry-run >"$T/dry.log" 2>&1 || fail "dry run: $(cat "$T/dry.log")"
[ ! -e "$AUTO" ] || fail "--dry-run wrote $AUTO"
for p in 2021-01 2021-02 2021-03 2021 2022-01 2022; do
	grep -q "would make $AUTO/$p " "$T/dry.log" || fail "dry run: $p not listed: $(cat "$T/dry.log")"
done
"$REPORT" --db "$ES_DB" --out "$AUTO" --auto >"$T/auto1.log" 2>&1 || fail "auto: $(cat "$T/auto1.log")"
for p in 2021-01 2021-02 2021-03 2021 2022-01 2022; do
	$CHECK "$T/pay/files.txt" "$T/policy.json" "$AUTO/$p/report.json" "$NODES" || fail "auto $p"
done
snap() { find "$AUTO" -printf '%p %i %T@ %s\n' | sort; }
snap >"$T/snap1"
"$REPORT" --db "$ES_DB" --out "$AUTO" --auto >"$T/auto2.log" 2>&1 || fail "auto 2: $(cat "$T/auto2.log")"
snap >"$T/snap2"
cmp -s "$T/snap1" "$T/snap2" || fail "the second --auto wrote: $(diff "$T/snap1" "$T/snap2" | head)"
grep -q "is current" "$T/auto2.log" || fail "second run: $(cat "$T/auto2.log")"

# A late payload for 2021-02 (node4's first): that month and its year are remade, nothing else.
day_payload "$T/pay/late.json" LATE 2021-02-20 41 42
st=$(ES_TOKEN=$N4_TOKEN submit "$T/pay/late.json")
[ "$st" = 200 ] || fail "late payload: $st $(cat "$T/response")"
echo "node4 $T/pay/late.json" >>"$T/pay/files.txt"
"$REPORT" --db "$ES_DB" --out "$AUTO" --auto >"$T/auto3.log" 2>&1 || fail "auto 3: $(cat "$T/auto3.log")"
snap >"$T/snap3"
changed=$(diff "$T/snap2" "$T/snap3" | sed -n 's|^> \([^ ]*\) .*|\1|p' | sed "s|^$AUTO/||" |
	cut -d/ -f1 | grep -v "^$" | sort -u | tr '\n' ' ')
case $changed in
"2021 2021-02 index.html ") ;;
*) fail "a late payload for 2021-02 remade: $changed" ;;
esac
$CHECK "$T/pay/files.txt" "$T/policy.json" "$AUTO/2021-02/report.json" "$NODES" || fail "late 2021-02"
$CHECK "$T/pay/files.txt" "$T/policy.json" "$AUTO/2021-02/nodes/node4.json" "$NODES" || fail "late node4"
$CHECK "$T/pay/files.txt" "$T/policy.json" "$AUTO/2021/report.json" "$NODES" || fail "late 2021"
# A policy change (what the public report may show) makes every period stale.
"$REPORT" --db "$ES_DB" --out "$AUTO" --auto --dry-run >"$T/dry2.log" 2>&1 || fail "dry 2"
grep -q "would make" "$T/dry2.log" && fail "dry run after nothing changed: $(cat "$T/dry2.log")"
es_admin network set-policy node1 XX inverted >>"$T/admin.log" 2>&1 || fail "set-policy XX"
"$REPORT" --db "$ES_DB" --out "$AUTO" --auto --dry-run >"$T/dry3.log" 2>&1 || fail "dry 3"
[ "$(grep -c "would make" "$T/dry3.log")" = 6 ] || fail "policy change: $(cat "$T/dry3.log")"

# Bad input: clear errors, nothing written.
bad() { # EXIT-STATUS TEXT ARG...
	_want=$1 _text=$2
	shift 2
	"$REPORT" "$@" >"$T/bad.out" 2>"$T/bad.err"
	_rc=$?
	[ "$_rc" = "$_want" ] || fail "$*: exit $_rc, expected $_want: $(cat "$T/bad.err")"
	grep -qF -- "$_text" "$T/bad.err" || fail "$*: message $(cat "$T/bad.err"), expected $_text"
}
badd() { _w=$1 _t=$2; shift 2; bad "$_w" "$_t" --db "$ES_DB" --out "$T/bad" "$@"; }
badd 2 "--month '2021-13': not a month YYYY-MM" --month 2021-13
badd 2 "--month '2021-1': not a month YYYY-MM" --month 2021-1
badd 2 "--year '21': not a year YYYY" --year 21
badd 2 "give exactly one of" --month 2021-01 --year 2021
badd 2 "give exactly one of"
badd 2 "unknown option --mial" --auto --mial
badd 2 "unknown node 'nosuch'" --month 2021-01 --node nosuch
badd 2 "node 'node1' has no network 'GE'" --month 2021-01 --node node1 --network GE
badd 2 "--network NET needs --node NODE" --month 2021-01 --network GE
bad 1 "cannot open $T/nope.yaml" --config "$T/nope.yaml" --month 2021-01
printf 'db: "%s"\nout: %s\nsmtp_urll: x\n' "$ES_DB" "$T/bad" >"$T/bad.yaml"
bad 2 "$T/bad.yaml:3: unknown key 'smtp_urll'" --config "$T/bad.yaml" --month 2021-01
printf 'db: "%s"\nout: %s\nout: %s\n' "$ES_DB" "$T/bad" "$T/bad" >"$T/bad.yaml"
bad 2 "$T/bad.yaml:3:" --config "$T/bad.yaml" --month 2021-01
mkdir "$T/dir.yaml"
bad 2 "$T/dir.yaml: not a regular file" --config "$T/dir.yaml" --month 2021-01
[ ! -e "$T/bad" ] || fail "a failed run wrote $T/bad"
# A settings file with the mail keys unchecked (no --mail) and an unused smtp_url: fine.
printf 'db: "%s"\nout: %s\nsmtp_url: not-checked-without-mail\nmail_delay: soon\n' "$ES_DB" "$T/cfg" >"$T/ok.yaml"
"$REPORT" --config "$T/ok.yaml" --month 2021-01 --node node1 >"$T/r.log" 2>&1 || fail "settings file: $(cat "$T/r.log")"
[ -s "$T/cfg/2021-01/nodes/node1.json" ] || fail "settings' out not used"
# The sample settings file loads (its db and out overridden).
"$REPORT" --config "$top_srcdir/etc/report.yaml" --db "$ES_DB" --out "$T/sample" --month 2021-01 --node node2 \
	>"$T/r.log" 2>&1 || fail "etc/report.yaml: $(cat "$T/r.log")"
# No database anywhere.
: >"$T/empty.yaml"
env -u DBURI "$REPORT" --config "$T/empty.yaml" --out "$T/bad" --month 2021-01 >"$T/bad.out" 2>"$T/bad.err"
[ $? = 2 ] && grep -q "no database" "$T/bad.err" || fail "no database: $(cat "$T/bad.err")"
# Every kind of real report renders in headless Chromium: no console message,
# charts present and sized, nothing fetched; screenshots kept in the build tree.
. "$top_srcdir/tests/sh/chromium-lib.sh"
chromium_available || skip "chromium is not installed: the real pages were not rendered"
SHOTS=$top_builddir/tests/screenshots/real
mkdir -p "$SHOTS"
page_check "$OUT/index.html" "$SHOTS/index.png" || fail "index.html in Chromium"
for p in 2021-01 2021; do
	page_check "$OUT/$p/index.html" "$SHOTS/federation-$p.png" || fail "$p/index.html in Chromium"
	page_check "$OUT/$p/nodes/node1.html" "$SHOTS/node-$p.png" || fail "$p/nodes/node1.html in Chromium"
	page_check "$OUT/$p/nodes/node4.html" "$SHOTS/node-silent-$p.png" || fail "$p/nodes/node4.html in Chromium"
	page_check "$OUT/$p/networks/node1/FR.html" "$SHOTS/network-$p.png" || fail "$p/networks/node1/FR.html in Chromium"
done
# The database down: a clear error, exit 1.
pg_stop
bad 1 "eidastats-report: " --db "$ES_DB" --out "$T/bad" --month 2021-01
grep -qi "connect\|server\|socket" "$T/bad.err" || fail "DB down: $(cat "$T/bad.err")"
exit 0
