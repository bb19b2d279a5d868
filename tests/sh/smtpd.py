#!/usr/bin/env python3
"""A loopback SMTP server for the shell tests (aiosmtpd, Debian python3-aiosmtpd).

    smtpd.py DIR [--auth USER:PASSWORD]

Listens on 127.0.0.1 on a free port and writes the port to DIR/port once it
listens.  Each message it accepts becomes DIR/mail/N.eml (the DATA as
received) and DIR/mail/N.json ({"mail_from": ..., "rcpt_tos": [...]}),
written after the .eml, so a test waits for the .json.  While the file
DIR/refuse exists, DATA is answered with its first line (e.g.
"451 4.3.0 try again later") and nothing is kept.  With --auth, a client
must log in (AUTH PLAIN or LOGIN, allowed without TLS on loopback) with that
user and password.  Every session's commands are appended to DIR/log.
Stops on SIGTERM or SIGINT.
"""
import asyncio
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, top):
        self.top = top
        self.mail = os.path.join(top, "mail")
        os.makedirs(self.mail, exist_ok=True)
        self.count = 0

    def log(self, line):
        with open(os.path.join(self.top, "log"), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def handle_DATA(self, server, session, envelope):
        refuse = os.path.join(self.top, "refuse")
        if os.path.exists(refuse):
            with open(refuse, encoding="utf-8") as f:
                answer = f.readline().strip() or "451 4.3.0 refused for the test"
            self.log("refused: " + answer)
            return answer
        self.count += 1
        base = os.path.join(self.mail, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}
        with open(base + ".tmp", "w", encoding="utf-8") as f:
            json.dump(meta, f)
        os.rename(base + ".tmp", base + ".json")
        self.log("accepted %d from %s to %s" % (self.count, envelope.mail_from,
                                                ",".join(envelope.rcpt_tos)))
        return "250 2.0.0 OK"


def main():
    top = sys.argv[1]
    auth = None
    if len(sys.argv) == 4 and sys.argv[2] == "--auth":
        user, _, password = sys.argv[3].partition(":")
        auth = (user.encode(), password.encode())
    handler = Handler(top)

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == auth
        handler.log("auth %s %s" % (mechanism, "ok" if ok else "refused"))
        return AuthResult(success=ok)

    def factory():
        if auth:
            return SMTP(handler, hostname="smtp.test", auth_required=True,
                        auth_require_tls=False, authenticator=authenticator)
        return SMTP(handler, hostname="smtp.test")

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(top, "port.tmp"), "w", encoding="utf-8") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(top, "port.tmp"), os.path.join(top, "port"))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())


if __name__ == "__main__":
    main()
