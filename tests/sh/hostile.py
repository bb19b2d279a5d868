#!/usr/bin/env python3
"""hostile.py - clients for the hostile-*.sh tests (tests/sh/hostile-lib.sh).

  good PORT PREFIX PID DIR
      A well-behaved client from 127.0.0.2: GET PREFIX/health and a public
      query, one after the other, until DIR/stop exists.  The first round's
      answers are the reference (DIR/ready is written after it); every later
      answer must be the same, within LIMIT seconds.  Samples VmRSS of PID.
      Writes DIR/summary: "rounds=N failures=N max_ms=N rss_max_kib=N", and
      each failure as a line of DIR/failures.
  slowloris PORT COUNT SRC[,SRC...] HOLD TRICKLE
      Opens COUNT connections (from the source addresses in turn), sends a
      request line and then one header byte every TRICKLE seconds, never
      ending the headers, until the service has closed them all or HOLD
      seconds passed.  Prints "opened=N refused=N closed=N open=N
      max_life_ms=N": opened (headers begun), refused (closed by the service
      before that), closed (opened, then closed by the service), open (still
      open at the end), the longest life of a closed one.
  send PORT SRC DEADLINE [--endless-chunks]
      Sends stdin's bytes on one connection (with --endless-chunks, then
      1 KiB chunks without end while the service reads them), reads the
      answer until DEADLINE seconds; prints the status line, "closed"
      (closed without an answer) or "silent" (nothing by the deadline), and
      "ms=N" (time to that outcome).
  hold PORT SRC FILE
      Sends stdin's bytes on one connection and keeps it open, silent,
      until FILE exists (at most 120 s); prints what the service answered
      meanwhile (status line or "nothing").
"""
import errno
import http.client
import os
import select
import socket
import sys
import time

LIMIT = 10.0
QUERY = "/dataselect/public?start=2021-01&level=node&details=month"


def rss_kib(pid):
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def good(port, prefix, pid, d):
    paths = [prefix + "/health", prefix + QUERY]
    ref = {}
    rounds = fails = max_ms = rss_max = 0
    failures = open(os.path.join(d, "failures"), "w")
    while not os.path.exists(os.path.join(d, "stop")):
        for p in paths:
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=LIMIT,
                                               source_address=("127.0.0.2", 0))
                c.request("GET", p)
                r = c.getresponse()
                got = (r.status, r.read())
                c.close()
            except (OSError, http.client.HTTPException) as e:
                got = ("error", repr(e).encode())
            ms = int((time.monotonic() - t0) * 1000)
            max_ms = max(max_ms, ms)
            if p not in ref:
                if got[0] != 200:
                    failures.write("reference %s: %s %r\n" % (p, got[0], got[1][:200]))
                    fails += 1
                ref[p] = got
            elif got != ref[p] or ms > LIMIT * 1000:
                fails += 1
                failures.write("%s: %s %r (%d ms)\n" % (p, got[0], got[1][:200], ms))
                failures.flush()
        rss_max = max(rss_max, rss_kib(pid))
        rounds += 1
        if rounds == 1:
            open(os.path.join(d, "ready"), "w").close()
    failures.close()
    with open(os.path.join(d, "summary.tmp"), "w") as f:
        f.write("rounds=%d failures=%d max_ms=%d rss_max_kib=%d\n" % (rounds, fails, max_ms, rss_max))
    os.rename(os.path.join(d, "summary.tmp"), os.path.join(d, "summary"))


def slowloris(port, count, srcs, hold, trickle):
    ep = select.epoll()
    socks = {}
    opened = 0
    start = time.monotonic()
    head = b"GET /eidaws/statistics/1/health HTTP/1.1\r\nHost: x\r\n"
    drip = b"X-Slow: " + b"a" * 4000
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((srcs[i % len(srcs)], 0))
        except OSError:
            s.close()
            continue
        rc = s.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            continue
        socks[s.fileno()] = [s, time.monotonic(), 0, False]
        ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)
    closed = refused = 0
    max_life = 0.0
    last_drip = time.monotonic()
    while socks and time.monotonic() - start < hold:
        for fd, ev in ep.poll(0.2):
            ent = socks.get(fd)
            if not ent:
                continue
            s = ent[0]
            if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    if ent[3]:
                        closed += 1
                        max_life = max(max_life, time.monotonic() - ent[1])
                    else:
                        refused += 1
                    ep.unregister(fd)
                    s.close()
                    del socks[fd]
                    continue
            if ev & select.EPOLLOUT and not ent[3]:
                try:
                    s.send(head)
                    ent[3] = True
                    opened += 1
                except OSError:
                    pass
                ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
        if time.monotonic() - last_drip >= trickle:
            last_drip = time.monotonic()
            for fd, ent in list(socks.items()):
                if ent[3] and ent[2] < len(drip):
                    try:
                        ent[0].send(drip[ent[2]:ent[2] + 1])
                        ent[2] += 1
                    except OSError:
                        pass
    print("opened=%d refused=%d closed=%d open=%d max_life_ms=%d"
          % (opened, refused, closed, len(socks), int(max_life * 1000)))


def send(port, src, deadline, endless):
    data = sys.stdin.buffer.read()
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(deadline)
    s.connect(("127.0.0.1", port))
    got = b""
    outcome = None
    try:
        s.sendall(data)
        if endless:
            s.setblocking(False)
            chunk = b"400\r\n" + b"a" * 1024 + b"\r\n"
            while time.monotonic() - t0 < deadline:
                r, w, _ = select.select([s], [s], [], 0.5)
                if r:
                    break
                if w:
                    try:
                        s.send(chunk)
                    except BlockingIOError:
                        pass
            s.setblocking(True)
            s.settimeout(max(0.1, deadline - (time.monotonic() - t0)))
    except OSError:
        pass   # The service may close while we send: read what it said.
    try:
        while b"\r\n" not in got:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except socket.timeout:
        outcome = "silent"
    except OSError:
        pass
    ms = int((time.monotonic() - t0) * 1000)
    if got:
        outcome = got.split(b"\r\n", 1)[0].decode("latin-1")
    elif outcome is None:
        outcome = "closed"
    print(outcome)
    print("ms=%d" % ms)


def hold(port, src, path):
    data = sys.stdin.buffer.read()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(data)
    s.setblocking(False)
    got = b""
    t0 = time.monotonic()
    while not os.path.exists(path) and time.monotonic() - t0 < 120:
        r, _, _ = select.select([s], [], [], 0.05)
        if r:
            try:
                d = s.recv(4096)
            except OSError:
                break
            if not d:
                break
            got += d
    s.close()
    print(got.split(b"\r\n", 1)[0].decode("latin-1") if got else "nothing")


def main():
    a = sys.argv[1:]
    if a[0] == "good":
        good(int(a[1]), a[2], a[3], a[4])
    elif a[0] == "slowloris":
        slowloris(int(a[1]), int(a[2]), a[3].split(","), float(a[4]), float(a[5]))
    elif a[0] == "hold":
        hold(int(a[1]), a[2], a[3])
    elif a[0] == "send":
        send(int(a[1]), a[2], float(a[3]), "--endless-chunks" in a)
    else:
        sys.exit("hostile.py: unknown command " + a[0])


if __name__ == "__main__":
    main()
