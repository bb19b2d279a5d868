#!/usr/bin/env python3
"""A real HTTP listener on 127.0.0.1 for the tests: records every request.

usage: http_recorder.py PORTFILE OUTDIR STATUS [ANSWER]
Binds an ephemeral port on 127.0.0.1, writes it to PORTFILE, and for each
request N writes OUTDIR/N.method, OUTDIR/N.path, OUTDIR/N.headers (one
"Name: value" per line) and OUTDIR/N.body, then answers STATUS with ANSWER
as text/plain. It exits by itself after 120 seconds.
"""
import http.server
import os
import sys
import threading


class Recorder(http.server.BaseHTTPRequestHandler):
    count = 0

    def handle_any(self):
        Recorder.count += 1
        n = Recorder.count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        out = self.server.outdir
        with open(os.path.join(out, f"{n}.method"), "w") as f:
            f.write(self.command)
        with open(os.path.join(out, f"{n}.path"), "w") as f:
            f.write(self.path)
        with open(os.path.join(out, f"{n}.headers"), "w") as f:
            for k, v in self.headers.items():
                f.write(f"{k}: {v}\n")
        with open(os.path.join(out, f"{n}.body"), "wb") as f:
            f.write(body)
        answer = self.server.answer.encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_PUT = do_GET = handle_any

    def log_message(self, fmt, *args):
        pass


def main():
    portfile, outdir, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
    answer = sys.argv[4] if len(sys.argv) > 4 else "ok"
    srv = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    srv.outdir, srv.status, srv.answer = outdir, status, answer
    threading.Timer(120, srv.shutdown).start()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
