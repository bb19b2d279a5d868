#!/usr/bin/env python3
"""Runs a command and prints its wall time (s), peak RSS (MB), exit status and CPU time (s).

usage: measure.py [--repeat N] CMD ARGS...
GNU time (/usr/bin/time) measures each run, so the RSS is the command's own
and not that of a forked Python. With --repeat the fastest of N runs is
reported.
"""
import subprocess
import sys
import tempfile


def once(args):
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%e %M %x %U %S"] + args,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        line = t.read().strip().splitlines()[-1]
    wall, kib, rc, user, sys_ = line.split()
    return float(wall), int(kib) / 1024.0, int(rc), float(user) + float(sys_)


args = sys.argv[1:]
repeat = 1
if args and args[0] == "--repeat":
    repeat, args = int(args[1]), args[2:]
wall, rss, rc, cpu = min(once(args) for _ in range(repeat))
print(f"{wall:.3f} {rss:.1f} {rc} {cpu:.2f}")
