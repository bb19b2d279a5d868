#!/usr/bin/env python3
"""A stand-in for journald's native socket, for the journald logging test.

usage: journalrecv.py SOCKET OUT
Binds a datagram socket at SOCKET (where sd_journal_send() writes) and appends
every entry it receives to OUT, followed by a line "--". An entry too big for
a datagram arrives as a passed memfd, which is read too. On SIGTERM it first
reads every datagram already queued on the socket (so an entry sent just
before the sender exited is never lost), then exits 0. Exits after 60 s.
"""
import array
import os
import signal
import socket
import sys


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def receive(s, f, flags):
    data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(16), flags)
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.lseek(fd, 0, os.SEEK_SET)
                data += os.read(fd, 1 << 24)
                os.close(fd)
    f.write(data + b"\n--\n")


path, out = sys.argv[1], sys.argv[2]
signal.alarm(60)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "ab", buffering=0) as f:
    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            receive(s, f, 0)
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Drain what is queued: the sender has exited, so nothing more comes.
    while True:
        try:
            receive(s, f, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
sys.exit(0)
