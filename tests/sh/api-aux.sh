#!/bin/sh
# api-aux.sh - the auxiliary routes of the query API on a real
# eidastats-ingestd: /nodes, /networks, /_isRestricted,
# /node_restriction_policy, /network_restriction_policy (answers checked
# against the policies the test set), /_health (200, and 500 for a role
# without the grants), /openapi.yaml (valid YAML naming every route, with
# the prefix), the / page, PREFIX -> PREFIX/ (307), unknown paths, HEAD,
# and /health unchanged.  Exit 0 pass, 77 skip, else fail.
. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/api-lib.sh"

api_start
PREFIX=/eidaws/statistics/1

json_is() { # WHAT EXPECTED-JSON: the body parses to the same value
	python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.loads(sys.argv[2]); assert a==b, (a,b)' \
		"$T/body" "$2" || fail "$1: $(cat "$T/body")"
	grep -qi '^content-type: application/json' "$T/headers" || fail "$1: content type"
}
get() { _last_status=$(api_get "$@"); }

get nodes
[ "$_last_status" = 200 ] || fail "nodes: $_last_status"
json_is nodes '{"nodes":[{"name":"node1","restriction_policy":"0"},{"name":"node2","restriction_policy":"0"},{"name":"node3","restriction_policy":null}]}'
# Compact, as upstream's.
grep -q '{"nodes":\[{"name":"node1","restriction_policy":"0"}' "$T/body" || fail "nodes not compact"

get networks
want=$(python3 - "$T/pay/files.txt" "$T/policy.json" <<'EOF'
import json, sys
pol = json.load(open(sys.argv[2]))
seen = []
for line in open(sys.argv[1]):
    node, path = line.split()
    for s in json.load(open(path))["stats"]:
        if (node, s["network"]) not in seen:
            seen.append((node, s["network"]))
out = []
for node, net in sorted(seen):
    npol = pol["nodes"][node][0]
    inv = pol["nets"].get(node + "/" + net, [False])[0]
    p = None if npol is None or inv is None else ("1" if npol != inv else "0")
    out.append({"name": net, "node": node, "restriction_policy": p})
print(json.dumps({"networks": out}))
EOF
)
json_is networks "$want"

get "_isRestricted?node=node1&network=Z3"
json_is "_isRestricted Z3" '{"restricted":"yes","group":"/epos/z3"}'
get "_isRestricted?node=node1&network=FR"
json_is "_isRestricted FR" '{"restricted":"no","group":null}'
get "_isRestricted?network=QQ&node=node2&node=node3"
json_is "_isRestricted QQ" '{"restricted":"not yet defined","group":null}'
get "node_restriction_policy?node=node1"
json_is "node policy" '{"restriction_policy":"0"}'
get "node_restriction_policy?node=node3"
json_is "node policy undefined" '{"restriction_policy":null}'
get "network_restriction_policy?node=node1&network=Z3"
json_is "network policy" '{"invert_policy":"1","eas_group":"/epos/z3"}'
get "network_restriction_policy?node=node2&network=GE"
json_is "network policy GE" '{"invert_policy":"0","eas_group":null}'

# Their errors.
get "_isRestricted?node=node1"
expect_body 400 "<h1>400 Bad Request</h1><p>Both 'node' and 'network' parameters are required</p>" "_isRestricted without network"
get "_isRestricted?node=node1&network=FR&x=1"
expect_body 400 "<h1>400 Bad Request</h1><p>Invalid parameter 'x'</p>" "_isRestricted extra"
get "_isRestricted?x=1"
expect_body 400 "<h1>400 Bad Request</h1><p>Both 'node' and 'network' parameters are required</p>" "missing first"
get "_isRestricted?node=node2&network=Z3"
expect_body 400 "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>" "no pair"
get "network_restriction_policy?node=nope&network=FR"
expect_body 400 "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>" "no pair"
get "node_restriction_policy"
expect_body 400 "<h1>400 Bad Request</h1><p>'node' parameter is required</p>" "node policy without node"
get "node_restriction_policy?node=nope"
expect_body 400 "<h1>400 Bad Request</h1><p>No entry that matches given node parameter</p>" "unknown node"
get "node_restriction_policy?node=node1&network=FR"
expect_body 400 "<h1>400 Bad Request</h1><p>Invalid parameter 'network'</p>" "node policy extra"
get "node_restriction_policy?node=%FF"
case $_last_status in 4??) ;; *) fail "non-UTF-8 node: $_last_status" ;; esac

# _health: upstream's texts; health unchanged.
get _health
expect_body 200 "The service is up and running and database is available!" "_health"
grep -qi '^content-type: text/plain' "$T/headers" || fail "_health content type"
get health
expect_body 200 "OK" "health"

# openapi.yaml: valid YAML, OpenAPI 3, every route we serve, our prefix.
get openapi.yaml
[ "$_last_status" = 200 ] || fail "openapi.yaml: $_last_status"
python3 - "$T/body" "$PREFIX" <<'EOF' || fail "openapi.yaml"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert str(d["openapi"]).startswith("3."), d["openapi"]
assert d["servers"][0]["url"] == sys.argv[2], d["servers"]
routes = {"/dataselect/public": "get", "/dataselect/restricted": "post", "/nodes": "get",
          "/networks": "get", "/_isRestricted": "get", "/node_restriction_policy": "get",
          "/network_restriction_policy": "get", "/_health": "get", "/health": "get",
          "/openapi.yaml": "get", "/": "get", "/submit": "post", "/dataselectstats": "put"}
for path, method in routes.items():
    assert method in d["paths"][path], path
EOF

# The / page: HTML with example queries that work.
get ""
[ "$_last_status" = 200 ] || fail "/: $_last_status"
grep -qi '^content-type: text/html' "$T/headers" || fail "/ content type"
grep -q 'eidastats-ingestd' "$T/body" || fail "/ does not say what it is"
sed -n 's/.*href="\([^"]*\)".*/\1/p' "$T/body" | sed 's/&amp;/\&/g' >"$T/links"
[ "$(wc -l <"$T/links")" -ge 5 ] || fail "/ has too few examples: $(cat "$T/links")"
base=${ES_INGEST_BASE%"$PREFIX"}
while read -r link; do
	case $link in "$PREFIX"/*) ;; *) fail "/ link without the prefix: $link" ;; esac
	st=$(curl -s -o /dev/null -w '%{http_code}' "$base$link")
	[ "$st" = 200 ] || fail "/ example $link: $st"
done <"$T/links"

# PREFIX -> PREFIX/ with the query; unknown paths and a trailing slash are 404.
st=$(curl -s -o /dev/null -D "$T/headers" -w '%{http_code}' "$ES_INGEST_BASE?a=1")
[ "$st" = 307 ] || fail "PREFIX: $st"
grep -qi "^location: $PREFIX/?a=1" "$T/headers" || fail "PREFIX redirect: $(cat "$T/headers")"
get nope
[ "$_last_status" = 404 ] || fail "unknown path: $_last_status"
get nodes/
[ "$_last_status" = 404 ] || fail "trailing slash: $_last_status"
# HEAD wherever GET; other methods 405 with Allow.
for p in nodes networks "_isRestricted?node=node1&network=FR" _health openapi.yaml ""; do
	st=$(curl -s -o /dev/null -I -w '%{http_code}' "$ES_INGEST_BASE/$p")
	[ "$st" = 200 ] || fail "HEAD $p: $st"
done
st=$(curl -s -o /dev/null -D "$T/headers" -w '%{http_code}' -X POST "$ES_INGEST_BASE/nodes")
[ "$st" = 405 ] || fail "POST nodes: $st"
grep -qi '^allow: GET, HEAD' "$T/headers" || fail "POST nodes: Allow"

# _health with a role that may read but not write: 500, upstream's text.
pg_psql >/dev/null <<'EOF' || fail "role"
CREATE ROLE reader LOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
EOF
ingestd_stop
ES_DB_SAVED=$ES_DB
ES_DB="$ES_DB user=reader"
ingestd_start
get _health
expect_body 500 "<h1>500 Internal Server Error</h1><p>Database connection or schema error</p>" "_health without grants"
get nodes
[ "$_last_status" = 200 ] || fail "nodes as reader: $_last_status"
ingestd_stop
ES_DB=$ES_DB_SAVED
exit 0
