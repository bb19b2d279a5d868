#!/usr/bin/env python3
"""api_oracle.py - the answers of the query API computed independently of
eidastats-ingestd, from the payloads a test ingested (tests/sh/api-*.sh).

  api_oracle.py gen DIR EIDASTATS
      writes the test's payloads DIR/NODE-N.json (clients made with
      `eidastats hll add`) and DIR/files.txt listing "NODE FILE" lines.
  api_oracle.py expect FILES POLICY public|restricted QUERY [GROUPS]
      prints the expected result rows of QUERY, canonical (see canon),
      sorted.  FILES is files.txt; POLICY a JSON file {"nodes": {NAME:
      [policy or null, group or null]}, "nets": {"NODE/NET": [inverted or
      null, group or null]}}; GROUPS the caller's memberof ("a;b").
  api_oracle.py canon csv|json FILE
      prints the result rows of an answer, canonical and sorted: the eleven
      columns in header order, clients, and for hll_clients its
      cardinality (from `eidastats hll inspect`), so that both sides compare.

Semantics: doc/query-api.md (levels, details, filters, wildcards, the
one-network rule, folding into Other rows, NULL countries)."""
import json
import os
import random
import re
import subprocess
import sys

EIDASTATS = os.environ.get("EIDASTATS", "eidastats")


def hll_add(values):
    out = subprocess.run([EIDASTATS, "hll", "add"] + [str(v) for v in values],
                         check=True, capture_output=True, text=True).stdout.strip()
    return out


_card_cache = {}


def cardinality(hexes):
    key = tuple(sorted(h.lower() for h in hexes))
    if key not in _card_cache:
        u = subprocess.run([EIDASTATS, "hll", "union"] + list(key), check=True,
                           capture_output=True, text=True).stdout.strip()
        info = subprocess.run([EIDASTATS, "hll", "inspect", u], check=True,
                              capture_output=True, text=True).stdout
        _card_cache[key] = json.loads(info.splitlines()[0])["cardinality"]
    return _card_cache[key]


def gen(d):
    rnd = random.Random(8)
    # node -> networks; FR is served by two nodes; Z3 will be restricted at
    # node1, node3 has no policy yet ("not yet defined": folded).
    layout = {"node1": ["FR", "Z3", "XX"], "node2": ["GE", "FR"], "node3": ["QQ"]}
    countries = ["GR", "FR", "DE", ""]
    files = []
    for node, nets in layout.items():
        for part in (1, 2):
            stats = []
            for month in ("2021-01-01", "2021-02-01", "2021-03-01", "2022-01-01"):
                for net in nets:
                    for sta in ("A1", "B2"):
                        for cha in ("HHZ", "BHN"):
                            if rnd.random() < 0.3:
                                continue
                            date = month
                            if part == 2 and rnd.random() < 0.2:
                                date = month[:8] + "%02d" % rnd.randint(2, 28)  # a daily row
                            ok = rnd.randint(0, 50)
                            bad = rnd.randint(0, 5)
                            clients = rnd.sample(range(1, 400), rnd.randint(1, 30))
                            stats.append({
                                "month": date, "network": net, "station": sta, "location": "00",
                                "channel": cha, "country": rnd.choice(countries),
                                "bytes": rnd.randint(0, 10**9), "nb_requests": ok + bad,
                                "nb_successful_requests": ok, "nb_unsuccessful_requests": bad,
                                "clients": hll_add(clients)})
            doc = {"generated_at": "2026-11-28 12:00:%02d" % part, "version": "0.8.0",
                   "days_coverage": ["2021-01-%02d" % part], "stats": stats}
            path = os.path.join(d, "%s-%d.json" % (node, part))
            with open(path, "w") as f:
                json.dump(doc, f)
            files.append("%s %s" % (node, path))
    with open(os.path.join(d, "files.txt"), "w") as f:
        f.write("\n".join(files) + "\n")


def load_rows(files):
    rows = []
    for line in open(files):
        node, path = line.split()
        for s in json.load(open(path))["stats"]:
            c = s.get("country")
            if c is not None and not re.fullmatch(r"[A-Za-z0-9]{2}", c):
                c = ""
            rows.append(dict(node=node, month=s["month"][:7], network=s["network"],
                             station=s["station"], location=s["location"],
                             channel=s["channel"], country=c, bytes=s["bytes"],
                             nb_reqs=s["nb_requests"], ok=s["nb_successful_requests"],
                             clients=s["clients"]))
    return rows


def like(pattern, value):
    rx = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, value) is not None


def state(pol, node, net):
    """(restricted: True/False/None undefined, group)"""
    npol = pol["nodes"].get(node, [None, None])[0]
    inv, group = pol["nets"].get(node + "/" + net, [False, None])
    if npol is None or inv is None:
        return None, group
    return npol != inv, group


def expect(files, polfile, ep, query, groups):
    pol = json.load(open(polfile))
    groups = [g for g in (groups or "").split(";") if g]
    params = []
    for piece in query.split("&"):
        if piece:
            k, _, v = piece.partition("=")
            params.append((k, v))
    last = {k: v for k, v in params}

    def lst(name):
        out = []
        for k, v in params:
            if k == name:
                out += v.split(",")
        return out
    operator = ep == "restricted" and any(
        g == pol["nodes"][n][1] for n in pol["nodes"] for g in groups if pol["nodes"][n][1])
    start = last["start"]
    end = last.get("end")
    start = "%s-%02d" % (start[:4], int(start[5:]))
    if end:
        end = "%s-%02d" % (end[:4], int(end[5:]))
    level = last.get("level")
    details = lst("details")
    nodes = lst("node")
    countries = lst("country") if "country" in last else None
    if ep == "public" or not operator:
        nets = [last["network"]] if "network" in last else None
    else:
        nets = lst("network") if "network" in last else None
    filt = {k: lst(k) for k in ("station", "location", "channel") if k in last}
    order = ["node", "network", "station", "location", "channel"]
    depth = {None: 0, "node": 1, "network": 2, "station": 3, "location": 4, "channel": 5}[level]
    hllvalues = last.get("hllvalues") == "true"
    groups_out = {}
    for r in load_rows(files):
        if r["month"] < start or (end and r["month"] > end):
            continue
        if nodes and r["node"] not in nodes:
            continue
        if countries is not None and r["country"] not in countries:
            continue
        if nets is not None:
            if ep == "public" and r["network"] not in nets:
                continue
            if ep == "restricted" and not any(like(n, r["network"]) for n in nets):
                continue
        if any(not any(like(p, r[k]) for p in ps) for k, ps in filt.items()):
            continue
        date = r["month"] if "month" in details else r["month"][:4] if "year" in details else "*"
        country = r["country"] if "country" in details else "*"
        key = [date] + [r[c] if depth > i else "*" for i, c in enumerate(order)] + [country]
        folds = depth >= 2 and (ep == "public" and depth == 2 or ep == "restricted" and not operator)
        if folds:
            st, group = state(pol, r["node"], r["network"])
            visible = st is False or (ep == "restricted" and group in groups)
            if not visible:
                key = [date, "Other", "Other", "*", "*", "*", country]
        g = groups_out.setdefault(tuple(key), [0, 0, 0, []])
        g[0] += r["bytes"]
        g[1] += r["nb_reqs"]
        g[2] += r["ok"]
        g[3].append(r["clients"])
    out = []
    for key, (b, n, ok, hl) in groups_out.items():
        card = cardinality(hl)
        fields = list(key) + [str(b), str(n), str(ok), str(card)]
        if hllvalues:
            fields.append(str(card))
        out.append(",".join("None" if f is None else f for f in fields))
    return sorted(out)


def canon(kind, path):
    text = open(path, encoding="utf-8").read()
    cols = ["date", "node", "network", "station", "location", "channel", "country", "bytes",
            "nb_reqs", "nb_successful_reqs", "clients"]
    out = []
    if kind == "json":
        for r in json.loads(text)["results"]:
            f = ["None" if r[c] is None else str(r[c]) for c in cols]
            if "hll_clients" in r:
                f.append(str(cardinality([r["hll_clients"]])))
            out.append(",".join(f))
    else:
        for line in text.split("\n")[3:]:
            f = line.split(",")
            if len(f) == 12:
                f[11] = str(cardinality([f[11]]))
            out.append(",".join(f))
    return sorted(out)


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        global EIDASTATS
        EIDASTATS = sys.argv[3]
        gen(sys.argv[2])
    elif cmd == "expect":
        print("\n".join(expect(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                               sys.argv[6] if len(sys.argv) > 6 else "")))
    elif cmd == "canon":
        print("\n".join(canon(sys.argv[2], sys.argv[3])))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
