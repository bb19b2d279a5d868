#!/usr/bin/env python3
"""Compares a payload (.json or .json.gz) with an upstream golden expected.json.

As doc/upstream-aggregator.md section 11 says: generated_at and version are ignored,
the payload's stats are sorted by (month, network, station, location, channel,
country) unless --keep-order, everything else must be equal, HLL bytes included.
Prints the first differences and exits 1 when they differ.
"""
import gzip
import json
import sys


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def key(s):
    return (s["month"], s["network"], s["station"], s["location"], s["channel"],
            "" if s["country"] is None else s["country"], s["country"] is None)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    keep_order = "--keep-order" in sys.argv
    ours, exp = load(args[0]), load(args[1])
    errors = []
    for k in ("days_coverage", "aggregation_score"):
        if ours.get(k) != exp.get(k):
            errors.append(f"{k}: ours {ours.get(k)!r}, expected {exp.get(k)!r}")
    for k in ("generated_at", "version"):
        if not isinstance(ours.get(k), str):
            errors.append(f"{k} missing or not a string")
    stats = ours.get("stats", [])
    if not keep_order:
        stats = sorted(stats, key=key)
    if len(stats) != len(exp["stats"]):
        errors.append(f"{len(stats)} stats, expected {len(exp['stats'])}")
    for a, b in zip(stats, exp["stats"]):
        if a != b or list(a.keys()) != list(b.keys()):
            errors.append(f"stat differs:\n  ours     {a}\n  expected {b}")
        if len(errors) > 5:
            break
    if errors:
        print("\n".join(errors))
        return 1
    print(f"ok: {len(stats)} stats equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
