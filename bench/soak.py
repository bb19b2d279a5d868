#!/usr/bin/env python3
"""bench/soak.py - the node clients and the summary of bench/soak.sh.

  node URL TOKEN INDEX SECONDS OUTDIR
      One simulated node (INDEX 0..11): until SECONDS have passed, makes the
      payload of its next day (a few dozen statistics of its own network,
      seeded by INDEX) and submits it (POST or PUT), re-sending on 429, 5xx
      and transport errors until it is stored (200, or 409 after an attempt
      whose outcome was unknown); now and then it sends an accepted payload
      again, which must be 409.  The totals are those the database must hold
      for the node: a POST adds to its rows, a PUT replaces them.  Writes OUTDIR/node-INDEX.lat (one line
      "STATUS MS" per request) and OUTDIR/node-INDEX.json (the accepted
      payloads' totals, counts by outcome, anomalies).
  summary OUTDIR
      Adds the nodes' files up; prints the totals as "key value" lines.
"""
import http.client
import json
import os
import random
import sys
import time
import urllib.parse

HLL = "\\x128B7FFFFFFFFFF9D2EF15"
KEYS = ("bytes", "nb_requests", "nb_successful_requests", "nb_unsuccessful_requests")


def payload(index, day, rnd):
    d = time.gmtime(time.mktime((2020, 1, 1 + day, 12, 0, 0, 0, 0, 0)))
    date = "%04d-%02d-%02d" % (d.tm_year, d.tm_mon, d.tm_mday)
    month = date[:8] + "01"
    stats = []
    for s in range(rnd.randint(5, 40)):
        ok, bad = rnd.randint(0, 500), rnd.randint(0, 20)
        stats.append({"month": month, "network": "N%d" % index, "station": "S%d" % s,
                      "location": "00", "channel": "HHZ", "country": "FR",
                      "bytes": rnd.randint(0, 10 ** 9), "nb_requests": ok + bad,
                      "nb_successful_requests": ok, "nb_unsuccessful_requests": bad,
                      "clients": HLL})
    doc = {"generated_at": "2026-11-28 12:00:00", "version": "0.8.0",
           "days_coverage": [date], "aggregation_score": 1, "stats": stats}
    return json.dumps(doc).encode(), stats


def send(u, token, method, body):
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request(method, u.path, body=body, headers={"Authentication": "Bearer " + token,
                                                      "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        status = r.status
        c.close()
    except (OSError, http.client.HTTPException):
        status = 0   # transport error: outcome unknown
    return status, int((time.monotonic() - t0) * 1000)


def node(url, token, index, seconds, out):
    u = urllib.parse.urlparse(url)
    rnd = random.Random(index)
    deadline = time.monotonic() + seconds
    lat = open(os.path.join(out, "node-%d.lat" % index), "w")
    res = {"accepted": 0, "stats": 0, "repeats": 0, "retried": 0, "anomalies": [],
           "outcomes": {}, "totals": {k: 0 for k in KEYS}}
    accepted = []
    # What the database must hold for this node: POST adds to a row, PUT
    # replaces it (doc/central-payload.md); one client per node, so its order
    # is the database's order.
    model = {}
    day = index * 3000   # days of different nodes never meet (digests are per node anyway)
    while time.monotonic() < deadline:
        if accepted and rnd.random() < 0.1:
            body = rnd.choice(accepted)
            st, ms = send(u, token, "POST", body)
            lat.write("%d %d\n" % (st, ms))
            res["outcomes"][str(st)] = res["outcomes"].get(str(st), 0) + 1
            if st == 409:
                res["repeats"] += 1
            elif st not in (0, 429) and st < 500:
                res["anomalies"].append("a repeat answered %d" % st)
            continue
        body, stats = payload(index, day, rnd)
        day += 1
        method = "PUT" if rnd.random() < 0.3 else "POST"
        unknown = False
        tries = 0
        give_up = time.monotonic() + seconds + 120
        while True:
            st, ms = send(u, token, method, body)
            tries += 1
            lat.write("%d %d\n" % (st, ms))
            res["outcomes"][str(st)] = res["outcomes"].get(str(st), 0) + 1
            if st == 200 or (st == 409 and unknown):
                break
            if st == 409:
                res["anomalies"].append("409 for a new payload (day %d)" % day)
                break
            if st in (0, 429) or st >= 500:
                unknown = unknown or st == 0 or st >= 500
                if time.monotonic() > give_up:
                    res["anomalies"].append("never stored (day %d, last %d)" % (day, st))
                    break
                time.sleep(0.2)   # pacing before a re-send, as a node waits
                continue
            res["anomalies"].append("refused for good: %d (day %d)" % (st, day))
            break
        if st in (200, 409) and not (st == 409 and not unknown):
            res["accepted"] += 1
            res["stats"] += len(stats)
            for x in stats:
                key = (x["month"], x["station"])
                if method == "PUT" or key not in model:
                    model[key] = {k: x[k] for k in KEYS}
                else:
                    for k in KEYS:
                        model[key][k] += x[k]
            accepted.append(body)
            if tries > 1:
                res["retried"] += 1
    lat.close()
    for row in model.values():
        for k in KEYS:
            res["totals"][k] += row[k]
    with open(os.path.join(out, "node-%d.json" % index), "w") as f:
        json.dump(res, f)


def pct(v, p):
    if not v:
        return 0
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def summary(out):
    tot = {k: 0 for k in KEYS}
    acc = rep = retried = 0
    outcomes, anomalies, lat = {}, [], []
    for name in sorted(os.listdir(out)):
        p = os.path.join(out, name)
        if name.endswith(".json"):
            r = json.load(open(p))
            acc += r["accepted"]
            rep += r["repeats"]
            retried += r["retried"]
            anomalies += r["anomalies"]
            for k in KEYS:
                tot[k] += r["totals"][k]
            for k, v in r["outcomes"].items():
                outcomes[k] = outcomes.get(k, 0) + v
        elif name.endswith(".lat"):
            lat += [int(line.split()[1]) for line in open(p) if line.strip()]
    print("accepted %d" % acc)
    print("repeats_409 %d" % rep)
    print("resent_until_stored %d" % retried)
    for k in KEYS:
        print("total_%s %d" % (k, tot[k]))
    print("submit_requests %d" % len(lat))
    print("submit_p50_ms %d" % pct(lat, 50))
    print("submit_p99_ms %d" % pct(lat, 99))
    for k in sorted(outcomes):
        print("submit_status_%s %d" % ("transport_error" if k == "0" else k, outcomes[k]))
    print("anomalies %d" % len(anomalies))
    for a in anomalies[:20]:
        print("anomaly %s" % a)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "node":
        node(a[1], a[2], int(a[3]), float(a[4]), a[5])
    elif a[0] == "summary":
        summary(a[1])
    else:
        sys.exit("soak.py: unknown command")
