#!/bin/sh
# The node on a bad day (issue 11): a log file is truncated while the daemon
# waits for it (the active file) and while it reads it.
#
# Part 1: an uncompressed file waits (plain_after); it is truncated and new
# content written.  Only the new content is counted (what the truncation
# removed before it was read is gone from the node).
# Part 2: a large uncompressed file is being read: its first trace has a
# temporary network code the registry file lacks, so the reader waits on
# the registry service, a stand-in here that answers only when the test lets
# it.  Meanwhile the file is truncated and rewritten.  The read ends early:
# the daemon notices the file changed under it, says so, keeps nothing of
# that read and reads the file again once it settles.
# At the end the database equals the goldens of the final contents exactly:
# nothing of the truncated content, nothing twice, no failure, no crash.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"
MULTI=$DATA/synthetic-small/multi

# The registry stand-in: GET → creates $T/reg.asked, waits for $T/reg.release,
# answers 204 (unknown code).
cat >"$T/registry.py" <<'PY'
import http.server, os, sys, time
T = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        open(os.path.join(T, "reg.asked"), "a").write(self.path + "\n")
        end = time.time() + 100
        while not os.path.exists(os.path.join(T, "reg.release")) and time.time() < end:
            time.sleep(0.05)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(T, "reg.port.tmp"), "w").write(str(srv.server_address[1]))
os.rename(os.path.join(T, "reg.port.tmp"), os.path.join(T, "reg.port"))
srv.serve_forever()
PY
python3 "$T/registry.py" "$T" &
bg_track $!
wait_until 10 test -s "$T/reg.port" || fail "the registry stand-in did not start"

central_start
esd_config
sed -i "s|url: http://127.0.0.1:9/unreachable|url: http://127.0.0.1:$(cat "$T/reg.port")/query|" "$ESD_CONF"
# Room to see the uncompressed file wait, even on a busy machine.
sed -i 's/^plain_after: 4$/plain_after: 20/' "$ESD_CONF"
esd_start

waiting() {
	esd_get waiting_files | python3 -c '
import json, sys
sys.exit(0 if any(f["file"] == sys.argv[1] and f["reason"].startswith(sys.argv[2])
                  for f in json.load(sys.stdin)) else 1)' "$1" "$2"
}

# Part 1.
A=$ESD_LOGS/fdsnws-requests.log.2024-10-02
bzip2 -dc "$DATA/upstream-sample/test.log.bz2" >"$A"
wait_until 20 waiting "$(basename "$A")" uncompressed || fail "the active file does not wait: $(esd_get waiting_files)"
: >"$A"
bzip2 -dc "$DATA/synthetic-small/small.log.bz2" >>"$A"
esd_wait 60 files.done 1
check "one file counted" test "$(esd_get files_counted)" = 1

# Part 2.
B=$ESD_LOGS/fdsnws-requests.log.2024-10-03
head -n 1 "$DATA/null-country/null-country.log" | sed 's/"net": "FR"/"net": "9X"/' >"$T/big"
grep -q '"net": "9X"' "$T/big" || fail "cannot make the temporary-code line"
for i in 1 2 3; do cat "$MULTI/fdsnws-requests.log.2024-10-31" >>"$T/big"; done
mv "$T/big" "$B"
wait_until 90 test -s "$T/reg.asked" || fail "the reader never asked the registry: $(esd_get waiting_files)"
check "the file is being read" test "$(esd_get files.running)" = 1
: >"$B"
cat "$DATA/null-country/null-country.log" >>"$B"
touch "$T/reg.release"
wait_until 60 grep -q "notice: changed while being read .*(file fdsnws-requests.log.2024-10-03)" "$ESD_LOG" ||
	{ tail -n 20 "$ESD_LOG" >&2; fail "the change during the read is not reported"; }
esd_wait 60 files.done 2
esd_wait 60 spool.pending 0
check "no file failed" test "$(esd_get files.failed)" = 0
check "two files counted" test "$(esd_get files_counted)" = 2
check "two payloads stored" test "$(db_payloads)" = 2
db_check "$DATA/synthetic-small/expected.json" "$DATA/null-country/expected.json" ||
	fail "the database holds something of a truncated content, or something twice"
esd_stop
exit 0
