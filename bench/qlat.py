#!/usr/bin/env python3
"""Client-side latency and throughput of one query, for bench/query.sh.

usage: qlat.py lat N CMD ARGS...        runs CMD N times, one after the other;
                                         prints "MEDIAN_MS P95_MS"
       qlat.py rps C SECONDS CMD ARGS... runs CMD again and again from C
                                         concurrent clients for SECONDS;
                                         prints "REQUESTS_PER_S REQUESTS"
When CMD is curl, the time of a run is curl's own %{time_total} (connect,
request, answer; not the start of the curl process) and a run fails unless
the status is 200; any other command is timed from outside (wall time of
the process) and fails unless it exits 0.  Output of CMD is discarded.  A
failed run stops the measurement with exit status 1 and its stderr.
"""
import math
import subprocess
import sys
import threading
import time


def run_once(cmd):
    """Returns the seconds one run took."""
    if cmd[0].endswith("curl"):
        full = cmd[:1] + ["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"] + cmd[1:]
        p = subprocess.run(full, capture_output=True, text=True)
        code, _, secs = p.stdout.partition(" ")
        if p.returncode != 0 or code != "200":
            raise RuntimeError(f"{' '.join(cmd)}: status {code or '-'}, exit {p.returncode} {p.stderr}")
        return float(secs)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr}")
    return t


def percentile(xs, q):
    xs = sorted(xs)
    k = max(0, math.ceil(q * len(xs)) - 1)
    return xs[k]


def lat(n, cmd):
    times = [run_once(cmd) for _ in range(n)]
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    print(f"{median * 1000:.1f} {percentile(times, 0.95) * 1000:.1f}")


def rps(clients, secs, cmd):
    done = [0] * clients
    errors = []
    deadline = time.monotonic() + secs

    def client(i):
        try:
            while time.monotonic() < deadline:
                run_once(cmd)
                done[i] += 1
        except RuntimeError as e:
            errors.append(str(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise RuntimeError(errors[0])
    total = sum(done)
    print(f"{total / elapsed:.1f} {total}")


def main(argv):
    try:
        if len(argv) >= 3 and argv[0] == "lat":
            lat(int(argv[1]), argv[2:])
        elif len(argv) >= 4 and argv[0] == "rps":
            rps(int(argv[1]), float(argv[2]), argv[3:])
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except RuntimeError as e:
        print(f"qlat.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
