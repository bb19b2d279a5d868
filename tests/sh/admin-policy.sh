#!/bin/sh
# eidastats-admin: restriction policies, EAS groups and contacts of nodes and
# networks (as upstream's eida_statsman): node add --policy, node
# set-policy/set-group, network list/set-policy/set-group/set-contact; the
# effective state (policy XOR inverted, "not yet defined" when either is
# unset); set-policy restricted resets the node's networks; a network
# restricted before its first statistics keeps its policy when they arrive;
# every bad input gets a clear error and exit status 2 (1 for an unknown node).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"
. "$top_srcdir/tests/sh/admin-lib.sh"

mkdir -p "$T/central"
pg_start "$T/central" || exit $?

DBURI=$ES_DB
EIDASTATS_SQL_DIR=$top_srcdir/sql
export DBURI EIDASTATS_SQL_DIR
# net NODE NET: "policy restricted group contact" of one network, as `network list` prints it.
net() {
	run 0 "$T/list" network list --node "$1"
	awk -v n="$2" 'NR > 1 && $2 == n { $1 = ""; $2 = ""; sub(/^  /, ""); print }' "$T/list"
}
# db NODE NET: the stored columns, NULL shown as "-".
db() {
	pg_psql -c "SELECT coalesce(w.inverted_policy::text, '-') || ' ' || coalesce(w.eas_group, '-')
		|| ' ' || coalesce(w.contact, '-') FROM networks w JOIN nodes n ON n.id = w.node_id
		WHERE n.name = '$1' AND w.name = '$2'"
}

run 0 "$T/out" --help
for cmd in "node set-policy NODE open|restricted" "node set-group NODE GROUP" "network list [--node NODE]" \
	"network set-policy NODE NET default|inverted" "network set-group NODE NET GROUP" \
	"network set-contact NODE NET EMAIL" "rollup verify" "rollup rebuild" "--policy open|restricted"; do
	grep -qF -- "$cmd" "$T/out" || fail "--help lacks '$cmd'"
done
run 2 "$T/out" network frobnicate
err_has "unknown command 'network frobnicate'"
run 0 "$T/out" db init
grep -q '^applied 005-network-contact.sql$' "$T/out" || fail "db init did not apply 005: $(cat "$T/out")"
grep -q '^applied 004-query.sql$' "$T/out" || fail "db init did not apply 004: $(cat "$T/out")"

# Nodes: --policy, or undefined (NULL) without it.
run 0 "$T/id" node add --name GFZ --contact ops@gfz.example --policy open
run 0 "$T/id" node add --name RESIF --contact ops@resif.example --policy restricted
run 0 "$T/id" node add --name ODC --contact ops@odc.example
run 2 "$T/out" node add --name NOA --contact ops@noa.example --policy maybe
err_has "bad node policy 'maybe': give open or restricted"
run 2 "$T/out" node add --name NOA --contact ops@noa.example --policy ""
err_has "bad node policy"
[ "$(pg_psql -c "SELECT count(*) FROM nodes WHERE name = 'NOA'")" = 0 ] || fail "a refused node was added"
[ "$(pg_psql -c "SELECT string_agg(name || ':' || coalesce(restriction_policy::text, 'NULL'), ' ' ORDER BY id)
	FROM nodes")" = "GFZ:false RESIF:true ODC:NULL" ] || fail "stored node policies"
run 0 "$T/out" node list
grep -q '^1 *GFZ *ops@gfz.example *open ' "$T/out" || fail "node list: $(cat "$T/out")"
grep -q '^2 *RESIF *ops@resif.example *restricted ' "$T/out" || fail "node list: $(cat "$T/out")"
grep -q '^3 *ODC *ops@odc.example *undefined ' "$T/out" || fail "node list: $(cat "$T/out")"

# Networks made by set-policy, before any statistics: each effective state.
run 0 "$T/out" network set-policy GFZ FR default
err_has "network FR of node 1 ('GFZ') created: policy default, restricted: no"
run 0 "$T/out" network set-policy 1 Z3 inverted
err_has "restricted: yes"
run 0 "$T/out" network set-policy RESIF FR default
run 0 "$T/out" network set-policy RESIF GE inverted
run 0 "$T/out" network set-policy ODC XX inverted
[ "$(net GFZ FR)" = "default no - -" ] || fail "GFZ FR: $(net GFZ FR)"
[ "$(net GFZ Z3)" = "inverted yes - -" ] || fail "GFZ Z3: $(net GFZ Z3)"
[ "$(net RESIF FR)" = "default yes - -" ] || fail "RESIF FR: $(net RESIF FR)"
[ "$(net RESIF GE)" = "inverted no - -" ] || fail "RESIF GE: $(net RESIF GE)"
[ "$(net ODC XX)" = "inverted not yet defined - -" ] || fail "ODC XX: $(net ODC XX)"
# Setting it again updates the row, it does not make a second one.
run 0 "$T/out" network set-policy GFZ FR inverted
grep -q created "$T/admin.err" && fail "an existing network reported as created"
[ "$(db GFZ FR)" = "true - -" ] || fail "GFZ FR after update: $(db GFZ FR)"
run 0 "$T/out" network set-policy GFZ FR default
# A network row of upstream's kind with NULL inverted_policy is "undefined" / not yet defined.
pg_psql -c "INSERT INTO networks (node_id, name) VALUES (1, 'NUL')"
[ "$(net GFZ NUL)" = "undefined not yet defined - -" ] || fail "GFZ NUL: $(net GFZ NUL)"

# The whole list, and --node.
run 0 "$T/all" network list
head -n 1 "$T/all" | grep -q '^node  *network  *policy  *restricted  *group  *contact$' ||
	fail "network list header: $(head -n 1 "$T/all")"
[ "$(tail -n +2 "$T/all" | awk '{ print $1 "/" $2 }' | tr '\n' ' ')" = "GFZ/FR GFZ/NUL GFZ/Z3 ODC/XX RESIF/FR RESIF/GE " ] ||
	fail "network list: $(cat "$T/all")"
run 0 "$T/out" network list --node 2
[ "$(tail -n +2 "$T/out" | awk '{ print $1 }' | sort -u)" = RESIF ] || fail "network list --node 2: $(cat "$T/out")"
run 1 "$T/out" network list --node NOPE
err_has "no node named 'NOPE'"
run 2 "$T/out" network list GFZ

# Groups.
run 0 "$T/out" node set-group GFZ /epos/gfz-operators
[ "$(pg_psql -c "SELECT eas_group FROM nodes WHERE name = 'GFZ'")" = /epos/gfz-operators ] || fail "node group"
run 0 "$T/out" node list
grep -q '^1 .* open  */epos/gfz-operators ' "$T/out" || fail "node list group: $(cat "$T/out")"
run 0 "$T/out" node set-group GFZ ""
err_has "no operators' group now"
[ "$(pg_psql -c "SELECT coalesce(eas_group, 'NULL') FROM nodes WHERE name = 'GFZ'")" = NULL ] ||
	fail "node group not cleared"
run 0 "$T/out" network set-group GFZ Z3 /epos/z3
[ "$(net GFZ Z3)" = "inverted yes /epos/z3 -" ] || fail "GFZ Z3 group: $(net GFZ Z3)"
run 0 "$T/out" network set-group GFZ Z3 ""
[ "$(db GFZ Z3)" = "true - -" ] || fail "network group not cleared: $(db GFZ Z3)"
run 0 "$T/out" network set-group GFZ Z3 /epos/z3
for bad in alparray "/epos/a;/epos/b" "/epos/a b"; do
	run 2 "$T/out" network set-group GFZ Z3 "$bad"
	err_has "bad group"
	run 2 "$T/out" node set-group GFZ "$bad"
	err_has "bad group"
done
run 2 "$T/out" network set-group GFZ Z3 "/epos/$(printf 'a\tb')"
err_has "GROUP contains a control character"
run 2 "$T/out" network set-group GFZ Z3 "/$(head -c 300 /dev/zero | tr '\0' a)"
err_has "GROUP is longer than 256 bytes"
[ "$(db GFZ Z3)" = "true /epos/z3 -" ] || fail "a refused group changed the row: $(db GFZ Z3)"
# Only set-policy creates a network.
run 1 "$T/out" network set-group GFZ QQ /epos/qq
err_has "node 1 ('GFZ') has no network QQ yet"
[ "$(pg_psql -c "SELECT count(*) FROM networks WHERE name = 'QQ'")" = 0 ] || fail "set-group created a network"

# Contacts (networks.contact, sql/005).
run 0 "$T/out" network set-contact GFZ FR pi@fr.example.org
[ "$(net GFZ FR)" = "default no - pi@fr.example.org" ] || fail "GFZ FR contact: $(net GFZ FR)"
for bad in nobody @example.org pi@ "a@b@c" "pi@example.org, other@example.org" "p i@example.org"; do
	run 2 "$T/out" network set-contact GFZ FR "$bad"
	err_has "bad e-mail address"
done
[ "$(db GFZ FR)" = "false - pi@fr.example.org" ] || fail "a refused contact changed the row"
run 1 "$T/out" network set-contact GFZ QQ pi@example.org
err_has "has no network QQ yet"
run 0 "$T/out" network set-contact GFZ FR ""
[ "$(db GFZ FR)" = "false - -" ] || fail "contact not cleared: $(db GFZ FR)"

# Bad network codes, policy words, nodes, argument counts.
for bad in fr FRANCE7 "" "F-R" "FR " "$(printf 'F\001')"; do
	run 2 "$T/out" network set-policy GFZ "$bad" default
	err_has "bad network code"
	run 2 "$T/out" network set-group GFZ "$bad" /epos/x
	err_has "bad network code"
	run 2 "$T/out" network set-contact GFZ "$bad" pi@example.org
	err_has "bad network code"
done
run 2 "$T/out" network set-policy GFZ FR restricted
err_has "bad network policy 'restricted': give default"
run 2 "$T/out" network set-policy GFZ FR ""
err_has "bad network policy"
run 1 "$T/out" network set-policy NOPE FR default
err_has "no node named 'NOPE'"
run 1 "$T/out" network set-policy 99 FR default
err_has "no node with id '99'"
run 2 "$T/out" network set-policy GFZ FR
run 2 "$T/out" network set-group GFZ FR
run 2 "$T/out" network set-contact GFZ FR a@b c@d
run 2 "$T/out" node set-policy GFZ
run 2 "$T/out" node set-policy GFZ inverted
err_has "bad node policy 'inverted'"
run 1 "$T/out" node set-policy NOPE open
err_has "no node named 'NOPE'"
run 2 "$T/out" node set-group GFZ
run 1 "$T/out" node set-group NOPE /epos/x
[ "$(pg_psql -c "SELECT count(*) FROM networks WHERE node_id = 1")" = 3 ] || fail "refused commands changed networks"

# set-policy restricted resets the node's networks to default, and says so.
run 0 "$T/out" node set-policy GFZ restricted
err_has "node 1 ('GFZ') policy set to restricted"
err_has "reset to policy default, so all 3 are restricted; reset: NUL Z3"
for n in FR NUL Z3; do
	[ "$(net GFZ $n | cut -d' ' -f1,2)" = "default yes" ] || fail "GFZ $n after restricted: $(net GFZ $n)"
done
[ "$(net GFZ Z3)" = "default yes /epos/z3 -" ] || fail "the reset lost Z3's group: $(net GFZ Z3)"
# Other nodes' networks are left alone.
[ "$(net RESIF GE)" = "inverted no - -" ] || fail "RESIF GE changed: $(net RESIF GE)"
run 0 "$T/out" node set-policy GFZ restricted
err_has "its 3 network(s) have policy default, so all are restricted"
run 0 "$T/out" network set-policy GFZ Z3 inverted
run 0 "$T/out" node set-policy 1 open
err_has "policy set to open"
[ "$(net GFZ FR | cut -d' ' -f1,2)" = "default no" ] || fail "GFZ FR after open: $(net GFZ FR)"
[ "$(net GFZ Z3 | cut -d' ' -f1,2)" = "inverted yes" ] || fail "open must keep Z3 inverted: $(net GFZ Z3)"
run 0 "$T/out" node set-policy ODC open
[ "$(net ODC XX | cut -d' ' -f1,2)" = "inverted yes" ] || fail "ODC XX: $(net ODC XX)"

# A network restricted before its first statistics keeps its policy when they arrive.
NODE_ID=$(pg_psql -c "SELECT id FROM nodes WHERE name = 'GFZ'")
ES_TOKEN=$("$ADMIN" --db "$ES_DB" token add --node GFZ 2>"$T/admin.err") || fail "token add"
ES_NODE_ID=$NODE_ID
run 0 "$T/out" network set-policy GFZ CX inverted
ingestd_start
payload_from_expected "$DATA/upstream-sample/expected.json" "$T/p.json"
[ "$(submit "$T/p.json")" = 200 ] || fail "POST: $(cat "$T/response")"
[ "$(net GFZ CX | cut -d' ' -f1,2)" = "inverted yes" ] || fail "the ingest changed CX: $(net GFZ CX)"
[ "$(net GFZ GE | cut -d' ' -f1,2)" = "default no" ] || fail "the ingest's new network GE: $(net GFZ GE)"
# Statistics without a network code make the network '', listed as "".
[ "$(net GFZ '""' | cut -d' ' -f1,2)" = "default no" ] || fail "the network '': $(cat "$T/list")"
ingestd_stop
exit 0
