#!/bin/sh
# eidastats-report --mail (src/report/mail.h) against a real SMTP server on
# loopback (tests/sh/smtpd.py, python3-aiosmtpd) and a real PostgreSQL:
# who gets which report, the MIME structure (recipients, subject, body,
# attachments with their content types and exact bytes), that a second run
# and a remade report send nothing, that a refused mail stays due and goes
# exactly once when the server accepts again, that a period within
# mail_delay (or long past) is not sent, that a dry run sends and records
# nothing, and the refusals of a bad password file or contact.
#
# Part 1: the report files are FIXTURES written by this test in the layout
# of REPORT-CONTRACT (DIR/PERIOD/{index.html,report.json,*.csv},
# nodes/NODE.{html,json,...}, networks/NODE/NET.*), with non-ASCII bytes in
# them; tests/report/mailtool runs rmail_run() with the clock given.
# Part 2: `eidastats-report --month` on a payload of last month sent through
# eidastats-ingestd, then `eidastats-report --mail` with a settings file, on
# the real clock.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import aiosmtpd.smtp' 2>/dev/null; then
		PY=$p
		break
	fi
done
[ -n "$PY" ] || skip "python3-aiosmtpd is not installed"
MAILTOOL=$top_builddir/tests/report/mailtool

# ---- the database: nodes, contacts, the table of sent mails ----
central_start                                    # node1, contact ops@node1.example
es_admin db init >"$T/dbinit2.log" 2>&1 || { cat "$T/dbinit2.log" >&2; fail "db init (again)"; }
[ "$(pg_psql -c "SELECT count(*) FROM eidastats_migrations WHERE name = '007-report-mail.sql'")" = 1 ] ||
	fail "migration 007 not recorded"
new_node node2
es_admin node update node2 --contact "ops@node2.example, Boss@Node2.example" >/dev/null ||
	fail "node update node2"
new_node node3
# A node whose name is not ASCII: its files are named in hex, its subject is RFC 2047.
N4="Nœud é"
N4F=_$(printf '%s' "$N4" | od -An -tx1 | tr -d ' \n')
es_admin node add --name "$N4" --contact ops@noeud.example >/dev/null 2>>"$T/admin.log" || fail "node add $N4"
# FIXTURE: a node without a contact (eidastats-admin cannot clear one).
pg_psql -c "UPDATE nodes SET contact = NULL WHERE name = 'node3'"
# FIXTURE: networks are made by ingestion; two are inserted here.
pg_psql -c "INSERT INTO networks (node_id, name) SELECT id, 'GE' FROM nodes WHERE name = 'node1'" \
	-c "INSERT INTO networks (node_id, name) SELECT id, 'FR' FROM nodes WHERE name = 'node2'"
es_admin network set-contact node1 GE pi@ge.example >/dev/null || fail "network set-contact"

# ---- FIXTURE report directory ----
D=$T/reports
P=2025-01
mkfix() { # FILE TEXT
	mkdir -p "$(dirname "$1")"
	printf '%s' "$2" >"$1"
}
totals='"totals": {"nb_reqs": 1234567, "nb_successful_reqs": 1200000, "nb_failed_reqs": 34567, "bytes": 1234567890123, "clients": 4321}'
mkfix "$D/$P/report.json" "{\"schema\": 1, \"scope\": \"federation\", \"period\": \"$P\", $totals,
 \"nodes\": [{\"node\": \"node1\", \"days_expected\": 31, \"days_covered\": 29, \"missing_days\": [\"2025-01-07\", \"2025-01-08\"]},
             {\"node\": \"node2\", \"days_expected\": 31, \"days_covered\": 31, \"missing_days\": []}]}"
mkfix "$D/$P/index.html" "<!doctype html><title>Fédération $P</title>"
for f in nodes networks countries trend; do
	mkfix "$D/$P/$f.csv" "$f,résumé
1,2
"
done
for n in node1 node2 node3 "$N4F"; do
	mkfix "$D/$P/nodes/$n.json" "{\"schema\": 1, \"scope\": \"node\", \"period\": \"$P\", \"node\": \"$n\", $totals,
 \"nodes\": [{\"node\": \"$n\", \"days_expected\": 31, \"days_covered\": 29, \"missing_days\": [\"2025-01-07\", \"2025-01-08\"]}]}"
	mkfix "$D/$P/nodes/$n.html" "<!doctype html><title>$n €</title><p>$n report</p>"
	for c in networks stations countries coverage; do
		mkfix "$D/$P/nodes/$n-$c.csv" "$n,$c,é
"
	done
done
# Tables of a node "node1-x": never attached to node1's mail.
mkfix "$D/$P/nodes/node1-x-networks.csv" "not node1's
"
mkfix "$D/$P/networks/node1/GE.json" "{\"schema\": 1, \"scope\": \"network\", \"period\": \"$P\", \"node\": \"node1\", \"network\": \"GE\", $totals}"
mkfix "$D/$P/networks/node1/GE.html" "<!doctype html><title>GE</title>"
mkfix "$D/$P/networks/node1/GE-stations.csv" "network,station
GE,APE
"
mkfix "$D/$P/networks/node1/GE-countries.csv" "country,nb_reqs
DE,1
"
# A period long past (expired) and one not over yet, each with a node report.
for old in 2024-11 2025; do
	mkfix "$D/$old/nodes/node1.json" "{\"period\": \"$old\", $totals}"
	mkfix "$D/$old/nodes/node1.html" "<p>$old</p>"
done
mkdir -p "$D/not-a-period"

# ---- the SMTP server ----
S=$T/smtp
mkdir -p "$S"
"$PY" "$top_srcdir/tests/sh/smtpd.py" "$S" --auth stats:s3cr3t 2>"$T/smtpd.err" &
bg_track $!
wait_until 20 test -s "$S/port" || { cat "$T/smtpd.err" >&2; fail "smtpd.py did not start"; }
URL="smtp://127.0.0.1:$(cat "$S/port")"
printf 's3cr3t\n' >"$T/pw"
chmod 600 "$T/pw"
# Times: 2025-02-01 is the end of $P; default mail_delay 3 days.
END=1738368000
DAY=86400
mails() { find "$S/mail" -name '*.json' 2>/dev/null | wc -l; }
mt() { # EXPECTED-STATUS NOW [OPTION...]
	_want=$1 _now=$2
	shift 2
	"$MAILTOOL" --db "$ES_DB" --dir "$D" --smtp-url "$URL" --from stats@eida.example \
		--user stats --password-file "$T/pw" --to board@eida.example --to "kpi@eida.example" \
		--now "$_now" "$@" >"$T/mt.out" 2>"$T/mt.err"
	_rc=$?
	[ "$_rc" = "$_want" ] || fail "mailtool $*: exit $_rc, expected $_want: $(cat "$T/mt.err")"
}
recorded() { pg_psql -c "SELECT count(*) FROM report_mail"; }

# Within mail_delay: nothing is due.
mt 0 $((END + 2 * DAY))
check "nothing due within mail_delay" grep -qx 'sent=0 failed=0 pending=0 already=0' "$T/mt.out"
check "says when $P is due" grep -q "mail $P: not due before Tue, 04 Feb 2025 00:00:00" "$T/mt.err"
# A longer mail_delay than the default is honoured.
mt 0 $((END + 5 * DAY)) --delay $((6 * DAY))
check "nothing due within a mail_delay of 6 days" grep -qx 'sent=0 failed=0 pending=0 already=0' "$T/mt.out"

# Dry run: lists the five mails, sends and records nothing.
mt 0 $((END + 3 * DAY)) --dry-run
check "dry run lists 5 mails" grep -qx 'sent=0 failed=0 pending=5 already=0' "$T/mt.out"
for who in "federation" "node node1" "node node2" "network GE of node node1" "node $N4"; do
	check "dry run names $who" grep -q "mail $P $who: would send" "$T/mt.err"
done
check "dry run: node2's two addresses" grep -q "ops@node2.example, Boss@Node2.example" "$T/mt.err"
[ "$(mails)" = 0 ] || fail "the dry run sent mail"
[ "$(recorded)" = 0 ] || fail "the dry run recorded mail"

# A group-readable password file is refused before anything is sent.
chmod 640 "$T/pw"
mt 1 $((END + 3 * DAY))
check "password file refused" grep -q "smtp_password_file $T/pw is readable by its group (mode 0640): refused" "$T/mt.err"
chmod 600 "$T/pw"
[ "$(mails)" = 0 ] || fail "mail sent with a refused password file"

# The real run: five mails.
mt 0 $((END + 3 * DAY))
check "5 mails sent" grep -qx 'sent=5 failed=0 pending=0 already=0' "$T/mt.out"
[ "$(mails)" = 5 ] || fail "the server has $(mails) mails, expected 5"
[ "$(recorded)" = 5 ] || fail "report_mail has $(recorded) rows, expected 5"
grep -l '^Subject: =?UTF-8?B?' "$S"/mail/*.eml >/dev/null || fail "no RFC 2047 subject"
pg_psql -F '|' -c "SELECT period, scope, node, network, recipients, message_id FROM report_mail ORDER BY id" >"$T/rows"

# Each mail, parsed by Python's email package, against the fixture files and the table.
"$PY" - "$S/mail" "$D/$P" "$T/rows" "$N4" "$N4F" <<'EOF' || fail "the mails are not as expected"
import email, email.policy, glob, json, os, sys

maildir, pdir, rows, n4, n4f = sys.argv[1:6]
want = {  # scope key -> (envelope recipients, subject, html, csv files, body texts)
    "federation": (["board@eida.example", "kpi@eida.example"],
                   "EIDA statistics, January 2025: federation report", "index.html",
                   ["nodes.csv", "networks.csv", "countries.csv", "trend.csv"],
                   ["node1        29 of 31 days", "2 nodes in the report"]),
    "node node1": (["ops@node1.example"], "EIDA statistics, January 2025: node node1",
                   "nodes/node1.html", ["nodes/node1-%s.csv" % c for c in
                                        ("networks", "stations", "countries", "coverage")],
                   ["Statistics received for 29 of the period's 31 days.",
                    "Days without statistics:\n  2025-01-07 2025-01-08"]),
    "node node2": (["ops@node2.example", "Boss@Node2.example"],
                   "EIDA statistics, January 2025: node node2", "nodes/node2.html",
                   ["nodes/node2-%s.csv" % c for c in
                    ("networks", "stations", "countries", "coverage")], []),
    "network GE": (["pi@ge.example"], "EIDA statistics, January 2025: network GE at node1",
                   "networks/node1/GE.html",
                   ["networks/node1/GE-stations.csv", "networks/node1/GE-countries.csv"], []),
    "node " + n4: (["ops@noeud.example"], "EIDA statistics, January 2025: node " + n4,
                   "nodes/%s.html" % n4f, ["nodes/%s-%s.csv" % (n4f, c) for c in
                                          ("networks", "stations", "countries", "coverage")],
                   ["EIDA statistics report of node " + n4 + ", January 2025."]),
}
recorded = {}
for line in open(rows, encoding="utf-8"):
    period, scope, node, net, rcpt, mid = line.rstrip("\n").split("|")
    assert period == "2025-01", line
    recorded[mid] = (scope, node, net, rcpt)
seen = set()
for meta_path in sorted(glob.glob(os.path.join(maildir, "*.json"))):
    meta = json.load(open(meta_path))
    raw = open(meta_path[:-5] + ".eml", "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(msg["Subject"])
    key = next(k for k, v in want.items() if v[1] == subject)
    rcpt, _, html, csvs, texts = want[key]
    assert key not in seen, "two mails for " + key
    seen.add(key)
    assert meta["mail_from"] == "stats@eida.example", meta
    assert meta["rcpt_tos"] == rcpt, (key, meta["rcpt_tos"])
    assert [a.addr_spec for a in msg["To"].addresses] == rcpt, (key, msg["To"])
    assert msg["From"].addresses[0].addr_spec == "stats@eida.example"
    assert msg["Date"] == "Tue, 04 Feb 2025 00:00:00 +0000", msg["Date"]
    assert msg.get_content_type() == "multipart/mixed", msg.get_content_type()
    mid = msg["Message-ID"]
    scope, node, net, rcpt_text = recorded[mid]
    assert key == (scope if scope == "federation" else
                   "node " + node if scope == "node" else "network " + net), (key, scope)
    assert rcpt_text == ", ".join(rcpt), rcpt_text
    parts = list(msg.iter_parts())
    body = parts[0]
    assert body.get_content_type() == "text/plain" and body.get_content_charset() == "utf-8"
    assert body.get_filename() is None
    text = body.get_content().replace("\r\n", "\n")
    for t in ["Requests:             1,234,567", "Successful requests:  1,200,000 (97.2 %)",
              "Failed requests:      34,567", "Data sent:            1.2 TB (1,234,567,890,123 bytes)",
              "Distinct clients:     4,321", "The full report is attached (%s;" % os.path.basename(html)] + texts:
        assert t in text, (key, t, text)
    files = [html] + sorted(csvs)
    assert len(parts) == 1 + len(files), (key, [p.get_filename() for p in parts])
    for part, rel in zip(parts[1:], files):
        assert part.get_filename() == os.path.basename(rel), (part.get_filename(), rel)
        assert part.get_content_disposition() == "attachment"
        assert part["Content-Transfer-Encoding"].lower() == "base64"
        ctype = "text/html" if rel.endswith(".html") else "text/csv"
        assert part.get_content_type() == ctype, (rel, part.get_content_type())
        assert part.get_content_charset() == "utf-8", rel
        data = part.get_payload(decode=True)
        assert data == open(os.path.join(pdir, rel), "rb").read(), rel
assert seen == set(want), seen
assert len(recorded) == 5
EOF

# A second run sends nothing; neither does a remade report.
mt 0 $((END + 4 * DAY))
check "second run sends nothing" grep -qx 'sent=0 failed=0 pending=0 already=5' "$T/mt.out"
printf '<p>remade</p>' >"$D/$P/nodes/node1.html"
mt 0 $((END + 5 * DAY))
check "a remade report is not sent again" grep -qx 'sent=0 failed=0 pending=0 already=5' "$T/mt.out"
[ "$(mails)" = 5 ] || fail "mail sent again"

# A new contact whose mail the server refuses: it stays due, the run fails
# clearly, and the next run (server willing) sends it exactly once.
es_admin node update node3 --contact ops@node3.example >/dev/null || fail "node update node3"
echo "451 4.3.0 mailbox busy, try later" >"$S/refuse"
mt 1 $((END + 6 * DAY))
check "refused run counts" grep -qx 'sent=0 failed=1 pending=0 already=5' "$T/mt.out"
check "refusal explained" grep -q "mail $P node node3 to ops@node3.example: not sent, it stays due: the SMTP server $URL refused it with 451" "$T/mt.err"
check "refusal summary" grep -q "1 mail failed (they stay due for the next run)" "$T/mt.err"
[ "$(recorded)" = 5 ] || fail "a refused mail was recorded"
rm "$S/refuse"
mt 0 $((END + 7 * DAY))
check "the refused mail goes at the next run" grep -qx 'sent=1 failed=0 pending=0 already=5' "$T/mt.out"
mt 0 $((END + 8 * DAY))
check "and only once" grep -qx 'sent=0 failed=0 pending=0 already=6' "$T/mt.out"
[ "$(mails)" = 6 ] || fail "the server has $(mails) mails, expected 6"
[ "$(pg_psql -c "SELECT recipients FROM report_mail WHERE scope = 'node' AND node = 'node3'")" = ops@node3.example ] ||
	fail "node3's mail not recorded"

# A failure of one mail does not stop the others: a bad contact and a new good one.
pg_psql -c "INSERT INTO networks (node_id, name, contact) SELECT id, 'XX', 'not an address' FROM nodes WHERE name = 'node2'"
es_admin network set-contact node2 FR pi@fr.example >/dev/null || fail "network set-contact FR"
mkfix "$D/$P/networks/node2/FR.json" "{\"period\": \"$P\", $totals}"
mkfix "$D/$P/networks/node2/FR.html" "<p>FR</p>"
mkfix "$D/$P/networks/node2/XX.json" "{\"period\": \"$P\", $totals}"
mkfix "$D/$P/networks/node2/XX.html" "<p>XX</p>"
mt 1 $((END + 9 * DAY))
check "bad contact: one failure, the good mail sent" grep -qx 'sent=1 failed=1 pending=0 already=6' "$T/mt.out"
check "bad contact explained" grep -q "mail $P network XX of node node2: its contact: \"not\" is not an e-mail address" "$T/mt.err"

# A wrong password: the server refuses the login; nothing recorded.
pg_psql -c "UPDATE networks SET contact = NULL WHERE name = 'XX'"
pg_psql -c "DELETE FROM report_mail WHERE scope = 'federation'"
printf 'wrong\n' >"$T/pw"
mt 1 $((END + 10 * DAY))
check "wrong password fails" grep -q "mail $P federation to board@eida.example, kpi@eida.example: not sent, it stays due" "$T/mt.err"
check "wrong password logged in" grep -q "auth .* refused" "$S/log"
[ "$(recorded)" = 6 ] || fail "a mail refused at login was recorded"

# A server that is not local must offer STARTTLS: the same server, reached
# through an IPv4-mapped IPv6 address (not a loopback name), is refused.
printf 's3cr3t\n' >"$T/pw"
if [ -e /proc/net/if_inet6 ]; then
	LOCAL_URL=$URL
	URL="smtp://[::ffff:127.0.0.1]:$(cat "$S/port")"
	mt 1 $((END + 11 * DAY))
	check "STARTTLS required" grep -q "STARTTLS not supported. (TLS is required for a server that is not on this machine" "$T/mt.err"
	URL=$LOCAL_URL
	[ "$(recorded)" = 6 ] || fail "a mail without TLS was recorded"
fi

# Long past the window (35 days after the delay): no longer due, even unsent.
printf 's3cr3t\n' >"$T/pw"
mt 0 $((END + 40 * DAY))
check "expired period not sent" grep -qx 'sent=0 failed=0 pending=0 already=0' "$T/mt.out"
[ "$(mails)" = 7 ] || fail "the server has $(mails) mails, expected 7"
# ---- Part 2: eidastats-report --month, then --mail with its settings file ----
P2=$(date -u -d "$(date -u +%Y-%m-15) -1 month" +%Y-%m)
H=$("$top_builddir/src/eidastats/eidastats" hll add 1 2 3 | sed 's/\\/\\\\/g')
cat >"$T/p2.json" <<EOF2
{"generated_at": "2026-11-28 13:00:00", "version": "0.8.0",
 "days_coverage": ["$P2-03", "$P2-04"],
 "stats": [{"month": "$P2-03", "network": "GE", "station": "APE", "location": "",
  "channel": "HHZ", "country": "DE", "bytes": 12345, "nb_requests": 9,
  "nb_successful_requests": 7, "nb_unsuccessful_requests": 2, "clients": "$H"}]}
EOF2
st=$(submit "$T/p2.json")
[ "$st" = 200 ] || fail "payload of $P2: $st $(cat "$T/response")"
O=$T/out
REPORT=$top_builddir/src/report/eidastats-report
"$REPORT" --db "$ES_DB" --out "$O" --month "$P2" >"$T/r.log" 2>&1 || fail "report $P2: $(cat "$T/r.log")"
[ -s "$O/$P2/nodes/node1.json" ] || fail "no node report made"
for f in index.html nodes/node1.html nodes/node2.html networks/node1/GE.html; do
	[ -s "$O/$P2/$f" ] || fail "eidastats-report made no $P2/$f"
done
cat >"$T/report.yaml" <<EOF2
# eidastats-report settings of the test
db: "$ES_DB"
out: $O
smtp_url: $URL
smtp_from: stats@eida.example
smtp_user: stats
smtp_password_file: $T/pw
federation_to: board@eida.example, kpi@eida.example
mail_delay: 0
EOF2
before=$(mails)
chmod 644 "$T/pw"
"$REPORT" --config "$T/report.yaml" --mail >"$T/m.out" 2>"$T/m.err" && fail "--mail took a world-readable password file"
grep -q "readable by everyone" "$T/m.err" || fail "--mail password file: $(cat "$T/m.err")"
chmod 600 "$T/pw"
"$REPORT" --config "$T/report.yaml" --mail --dry-run >"$T/m.out" 2>"$T/m.err" ||
	fail "--mail --dry-run: $(cat "$T/m.err")"
due=$(grep -c "^mail $P2 .*: would send" "$T/m.out")
[ "$due" -ge 6 ] || fail "--mail --dry-run lists $due mails: $(cat "$T/m.out" "$T/m.err")"
grep -q "^$due mails due$" "$T/m.out" || fail "--mail --dry-run summary: $(cat "$T/m.out")"
grep -q "^mail $P2 network GE of node node1: would send GE.html and [0-9]* CSV files to pi@ge.example" "$T/m.out" ||
	fail "--dry-run: no GE mail: $(cat "$T/m.out")"
[ "$(mails)" = "$before" ] || fail "--mail --dry-run sent mail"
"$REPORT" --config "$T/report.yaml" --mail >"$T/m.out" 2>"$T/m.err" || fail "--mail: $(cat "$T/m.err")"
[ "$(grep -c "^mail $P2 .*: sent to" "$T/m.out")" = "$due" ] || fail "--mail: $(cat "$T/m.out")"
[ "$(mails)" = $((before + due)) ] || fail "the server has $(mails) mails, expected $((before + due))"
# node1's mail: its body has the figures of node1.json, its files are attached as they are.
"$PY" - "$S/mail" "$O/$P2/nodes" <<'EOF' || fail "node1's mail"
import email, email.policy, glob, json, os, sys
maildir, ndir = sys.argv[1:3]
rep = json.load(open(os.path.join(ndir, "node1.json")))
y, m = rep["period"].split("-")
month = ["January", "February", "March", "April", "May", "June", "July", "August",
         "September", "October", "November", "December"][int(m) - 1]
subject = "EIDA statistics, %s %s: node node1" % (month, y)
found = [p for p in glob.glob(os.path.join(maildir, "*.eml"))
         if str(email.message_from_bytes(open(p, "rb").read(),
                                         policy=email.policy.default)["Subject"]) == subject]
assert len(found) == 1, (subject, found)
msg = email.message_from_bytes(open(found[0], "rb").read(), policy=email.policy.default)
parts = list(msg.iter_parts())
text = parts[0].get_content().replace("\r\n", "\n")
t = rep["totals"]
assert t["nb_reqs"] == 9 and t["bytes"] == 12345 and t["clients"] == 3, t
assert "Requests:             9\n" in text, text
assert "Successful requests:  7 (77.8 %)\n" in text, text
assert "Data sent:            12.3 kB (12,345 bytes)\n" in text, text
assert "Distinct clients:     3\n" in text, text
nd = rep["nodes"][0]
assert nd["days_covered"] == 2, nd
assert "Statistics received for 2 of the period's %d days." % nd["days_expected"] in text, text
for d in nd["missing_days"]:
    assert d in text, (d, text)
names = [p.get_filename() for p in parts[1:]]
assert names[0] == "node1.html", names
assert set(names) == {"node1.html"} | {n for n in os.listdir(ndir)
                                       if n.startswith("node1-") and n.endswith(".csv")}, names
for p, name in zip(parts[1:], names):
    assert p.get_payload(decode=True) == open(os.path.join(ndir, name), "rb").read(), name
EOF
"$REPORT" --config "$T/report.yaml" --mail >"$T/m.out" 2>"$T/m.err" || fail "--mail again: $(cat "$T/m.err")"
grep -qx "no mail due" "$T/m.out" || fail "--mail again: $(cat "$T/m.out")"
[ "$(mails)" = $((before + due)) ] || fail "the second --mail sent mail"
exit 0
