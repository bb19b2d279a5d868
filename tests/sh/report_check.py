#!/usr/bin/env python3
"""report_check.py - checks a report.json of eidastats-report against values
computed independently from the payload files a test ingested (with the
query API's oracle, tests/sh/api_oracle.py, for sums, folding and client
cardinalities, and the payloads' days_coverage for missing days).

  report_check.py FILES POLICY REPORT_JSON NODES
      FILES: files.txt of api_oracle ("NODE FILE" lines); POLICY its policy
      JSON; NODES: comma-separated names of every node of the database.
      Prints what differs and exits 1, or exits 0."""
import calendar
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_oracle  # noqa: E402

problems = []


def check(what, got, want):
    if got != want:
        problems.append("%s: got %r, want %r" % (what, got, want))


def months_of(rep):
    y = int(rep["period"][:4])
    if rep["kind"] == "year":
        return ["%04d-%02d" % (y, m) for m in range(1, 13)]
    return [rep["period"]]


def oracle(files, pol, query, ep="public", groups=""):
    """{key tuple: (bytes, reqs, ok, clients)} from the oracle's rows."""
    out = {}
    for line in api_oracle.expect(files, pol, ep, query, groups):
        f = line.split(",")
        out[tuple(f[:7])] = tuple(int(x) for x in f[7:11])
    return out


def figs(row):
    return (row["bytes"], row["nb_reqs"], row["nb_successful_reqs"], row["clients"])


def payload_docs(files):
    for line in open(files):
        node, path = line.split()
        yield node, json.load(open(path))


def main():
    files, pol, path, nodes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    rep = json.load(open(path))
    months = months_of(rep)
    first, last = months[0], months[-1]
    rng = "start=%s&end=%s" % (first, last)
    scope = rep["scope"]
    node = rep.get("node")
    net = rep.get("network")
    filt = ""
    ep, groups = "public", ""
    if scope != "federation":
        # The node's operator sees every network of the node unfolded.
        ep = "restricted"
        groups = next(g for _, g in json.load(open(pol))["nodes"].values() if g)
        filt = "&node=" + node + ("&network=" + net if net else "")
    # Totals.
    tot = oracle(files, pol, rng + filt, ep, groups)
    want = list(tot.values())[0] if tot else (0, 0, 0, 0)
    check("totals", figs(rep["totals"]), want)
    # Failed requests and days covered, straight from the payload files.
    failed = {}
    covered = {}
    for n, doc in payload_docs(files):
        for d in doc.get("days_coverage", []):
            if d[:7] in months:
                covered.setdefault(n, set()).add(d)
        for s in doc["stats"]:
            if s["month"][:7] in months and (not net or s["network"] == net) and (
                    not node or n == node):
                failed[n] = failed.get(n, 0) + s["nb_unsuccessful_requests"]
    check("totals.nb_failed_reqs", rep["totals"]["nb_failed_reqs"], sum(failed.values()))
    # Nodes: every node, zeros when silent, missing days.
    per = oracle(files, pol, rng + "&level=node" + filt, ep, groups)
    y = int(first[:4])
    all_days = []
    for m in months:
        mm = int(m[5:])
        all_days += ["%s-%02d" % (m, d) for d in range(1, calendar.monthrange(y, mm)[1] + 1)]
    want_nodes = [node] if node else sorted(nodes)
    check("node names", [r["node"] for r in rep["nodes"]], want_nodes)
    for r in rep["nodes"]:
        n = r["node"]
        w = per.get(("*", n, "*", "*", "*", "*", "*"), (0, 0, 0, 0))
        check("node %s figures" % n, figs(r), w)
        check("node %s failed" % n, r["nb_failed_reqs"], failed.get(n, 0))
        miss = [d for d in all_days if d not in covered.get(n, set())]
        check("node %s missing_days" % n, r["missing_days"], miss)
        check("node %s days" % n, (r["days_expected"], r["days_covered"]),
              (len(all_days), len(all_days) - len(miss)))
    # Networks: the public API's answer (federation), every network unfolded (node).
    nets = oracle(files, pol, rng + "&level=network" + filt, ep, groups)
    got = {(r["node"], r["network"]): figs(r) for r in rep["networks"]}
    check("network rows", len(got), len(rep["networks"]))
    check("networks", got, {(k[1], k[2]): v for k, v in nets.items()})
    polj = json.load(open(pol))
    for r in rep["networks"]:
        if scope == "federation":
            check("Other restricted flag", r["restricted"], r["node"] == "Other")
        else:
            st, _ = api_oracle.state(polj, r["node"], r["network"])
            check("%s restricted" % r["network"], r["restricted"], st is not False)
    # Countries.
    cs = oracle(files, pol, rng + "&details=country" + filt, ep, groups)
    got = {("None" if r["country"] is None else r["country"]): figs(r) for r in rep["countries"]}
    check("countries", got, {k[6]: v for k, v in cs.items()})
    # Trend: the 24 months ending with the period's last month.
    yl, ml = int(last[:4]), int(last[5:])
    idx = yl * 12 + ml - 1
    tmonths = ["%04d-%02d" % ((i) // 12, i % 12 + 1) for i in range(idx - 23, idx + 1)]
    tr = oracle(files, pol, "start=%s&end=%s&details=month%s" % (tmonths[0], last, filt), ep, groups)
    check("trend months", [t["month"] for t in rep["trend"]], tmonths)
    for t in rep["trend"]:
        w = tr.get((t["month"], "*", "*", "*", "*", "*", "*"), (0, 0, 0, 0))
        check("trend %s" % t["month"], figs(t), w)
    # Previous period.
    if rep["kind"] == "month":
        prev = tmonths[-2]
        pq = "start=%s&end=%s" % (prev, prev)
    else:
        prev = "%04d" % (y - 1)
        pq = "start=%s-01&end=%s-12" % (prev, prev)
    pv = oracle(files, pol, pq + filt, ep, groups)
    check("previous period", rep["previous"]["period"], prev)
    pw = list(pv.values())[0] if pv else (0, 0, 0, 0)
    check("previous totals", figs(rep["previous"]["totals"]), pw)
    # Stations (node and network scope): the top 25 by requests.
    if scope != "federation":
        sq = oracle(files, pol, rng + "&level=station" + filt + ("" if net else "&network=*"),
                    ep, groups)
        want = sorted(((k[2], k[3]) + v for k, v in sq.items()), key=lambda x: (-x[3], x[0], x[1]))
        got = [(r["network"], r["station"]) + figs(r) for r in rep["stations"]]
        check("stations", got, want[:25])
        # New networks: first statistics of the node's network in the period.
        firsts = {}
        for n, doc in payload_docs(files):
            if n != node:
                continue
            for s in doc["stats"]:
                if net and s["network"] != net:
                    continue
                m = s["month"][:7]
                firsts[s["network"]] = min(firsts.get(s["network"], m), m)
        check("new networks", sorted(r["network"] for r in rep["new_networks"]),
              sorted(k for k, m in firsts.items() if first <= m <= last))
    if problems:
        print("%s: %d problem(s)" % (path, len(problems)))
        for p in problems[:40]:
            print("  " + p)
        sys.exit(1)


if __name__ == "__main__":
    main()
