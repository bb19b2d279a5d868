#!/bin/sh
# Bad input of every kind gets its clear error and nothing is lost (issue 4,
# test 4): an unknown configuration key, a bad value, a group-readable token
# file, a corrupt and a garbage spool file, an unreadable log, a corrupt and a
# truncated .bz2, garbage and long lines on the control socket, and control
# commands from a user who may only read.  Afterwards the database must
# equal the golden of the good files exactly.
#
# As root, the daemon runs as "nobody" (setpriv) so that file permissions
# mean something; without root the same happens as the current user and the
# other-user checks of the control socket cannot run and the test ends as
# skipped (77) after all the rest.  What the daemon's user must read (the
# program and the network registry file) is copied into the test's own
# directory first: the checkout may live under a directory only its owner can
# enter (mode 0700, as mktemp -d or a home directory makes).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi
ESD=$ESD_BIN_DEFAULT

# 1. Configuration errors are refused before anything starts.
esd_config "setle: 5"
out=$("$ESD" --check-config -c "$ESD_CONF" 2>&1) && fail "--check-config accepted an unknown key"
echo "$out" | grep -q "^eidastatsd: $ESD_CONF:[0-9][0-9]*: .*setle" ||
	fail "unknown key: the message does not name file, line and key: $out"
"$ESD" --foreground -c "$ESD_CONF" >"$T/start.out" 2>&1
rc=$?
check "start with an unknown key exits 1 (got $rc)" test "$rc" = 1
grep -q "setle" "$T/start.out" || fail "start with an unknown key: no message"
[ ! -e "$ESD_SOCK" ] || fail "a refused configuration still created the socket"
esd_config "workers: 0"
out=$("$ESD" --check-config -c "$ESD_CONF" 2>&1) && fail "--check-config accepted workers: 0"
echo "$out" | grep -q "$ESD_CONF:[0-9][0-9]*: .*workers" || fail "bad value: unclear message: $out"

# 2. The central service, and a token file others could read.
central_start
URL=$ESD_URL
chmod 640 "$ESD_TOKEN_FILE"
esd_config
out=$("$ESD" --check-config -c "$ESD_CONF" 2>&1) && fail "--check-config accepted a group-readable token"
echo "$out" | grep -q "$ESD_TOKEN_FILE" || fail "token: the message does not name the file: $out"
token=$(cat "$ESD_TOKEN_FILE")
case $out in *"$token"*) fail "the token appears in the error message" ;; esac
"$ESD" --foreground -c "$ESD_CONF" >"$T/start.out" 2>&1 && fail "started with a group-readable token"
chmod 600 "$ESD_TOKEN_FILE"
check "--check-config accepts the fixed token file" "$ESD" --check-config -c "$ESD_CONF"

# The daemon's user: nobody when we are root.
OTHER=
if [ "$(id -u)" = 0 ]; then
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	id daemon >/dev/null 2>&1 || skip "no user daemon (the other user of the socket checks)"
	mkdir "$T/shared"
	cp "$ESD_BIN_DEFAULT" "$T/shared/eidastatsd"
	cp "$ESD_NETWORKS" "$T/shared/networks.json"
	chmod -R a+rX "$T/shared"
	ESD_BIN_DEFAULT=$T/shared/eidastatsd
	ESD_NETWORKS=$T/shared/networks.json
	ESD_RUNAS="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	OTHER="setpriv --reuid=daemon --regid=$(id -g daemon) --clear-groups"
	mkdir -p "$T/run"
	chown nobody "$ESD_STATE" "$ESD_TOKEN_FILE" "$T/run"
	chmod o+rx "$ESD_LOGS"
	ESD_SOCK=$T/run/ctl.sock
fi

# 3. Two payloads are spooled while no central service is configured.
ESD_URL=
esd_config
esd_start
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2020-09-18.bz2"
cp "$MULTI/fdsnws-requests.log.2024-10-30.bz2" "$ESD_LOGS/"
esd_wait 30 files_counted 2
esd_wait 10 spool.pending 2
check "delivery is disabled without central.url" test "$(esd_get delivery.state)" = disabled
esd_stop

# 4. Damage: one spool file gets a flipped byte, a garbage file appears in the
# spool; bad log files join the good ones.
first=$(ls "$ESD_STATE/spool/"*.payload | head -n 1)
printf 'X' | dd of="$first" bs=1 seek=600 conv=notrunc 2>/dev/null
echo "this is not a payload" >"$ESD_STATE/spool/00000000000000ff.payload"
bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/whole.bz2" && mv "$T/whole.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-10-31.bz2"   # whole, then in place
cp "$MULTI/fdsnws-requests.log.2024-11-01.bz2" "$ESD_LOGS/"
printf 'BZh91AY&SY this is not bzip2 data at all\n' >"$ESD_LOGS/fdsnws-requests.log.2024-01-01.bz2"
head -c 20000 "$MULTI/fdsnws-requests.log.2024-11-01.bz2" >"$ESD_LOGS/fdsnws-requests.log.2024-01-02.bz2"
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2024-01-03.bz2"
chmod 000 "$ESD_LOGS/fdsnws-requests.log.2024-01-03.bz2"

ESD_URL=$URL
esd_config
esd_start
check "both damaged spool files are in bad/" test "$(esd_get spool.bad)" = 2
[ -f "$ESD_STATE/spool/bad/$(basename "$first")" ] || fail "the damaged payload is not kept in bad/"
esd_get last_error.message | grep -q "damaged spool files" || fail "the damaged spool files are not reported"
# The damaged payload's log file is counted again; the good files arrive.
esd_wait 60 files.failed 3
# All files first: the spool may drain once before the last file is counted.
esd_wait 60 files.done 4
esd_wait 60 spool.pending 0
"$ES_CLI" status --socket "$ESD_SOCK" >"$T/status.txt"
grep -q "fdsnws-requests.log.2024-01-01.bz2: cannot aggregate: corrupt" "$T/status.txt" ||
	{ cat "$T/status.txt" >&2; fail "the corrupt .bz2 has no clear reason"; }
grep -q "fdsnws-requests.log.2024-01-02.bz2: truncated" "$T/status.txt" ||
	{ cat "$T/status.txt" >&2; fail "the truncated .bz2 has no clear reason"; }
grep -q "fdsnws-requests.log.2024-01-03.bz2: cannot open: Permission denied" "$T/status.txt" ||
	{ cat "$T/status.txt" >&2; fail "the unreadable log has no clear reason"; }
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" ||
	fail "something was lost or counted twice"

# The unreadable file, once readable, is read: the same day as the sample, so
# nothing new is counted.
chmod 644 "$ESD_LOGS/fdsnws-requests.log.2024-01-03.bz2"
esd_wait 30 files.failed 2
check "the freed file is a duplicate" test "$(esd_get files_counted)" = 3

# 5. Garbage on the control socket: each line gets an error, the
# connection and the daemon carry on.
printf 'bogus\n\001\377\376garbage\nsta\000tus\n\n   \nstatus\n' | "$TOOLS/ctlsend" "$ESD_SOCK" >"$T/ctl.out" ||
	fail "ctlsend failed"
check "four answers" test "$(wc -l <"$T/ctl.out")" = 4
sed -n 1p "$T/ctl.out" | grep -q '"ok":false,"error":"unknown command .bogus.' || fail "bogus: $(sed -n 1p "$T/ctl.out")"
sed -n 2p "$T/ctl.out" | grep -q '"error":"unknown command .\\\\x01\\\\xff\\\\xfegarbage' ||
	fail "binary garbage: $(sed -n 2p "$T/ctl.out")"
sed -n 3p "$T/ctl.out" | grep -q 'without NUL bytes' || fail "NUL: $(sed -n 3p "$T/ctl.out")"
sed -n 4p "$T/ctl.out" | "$TOOLS/jget" version >/dev/null || fail "status after garbage"
head -c 5000 /dev/urandom | tr -d '\n' | "$TOOLS/ctlsend" "$ESD_SOCK" >"$T/long.out"
grep -q '"error":"line longer than 1024 bytes; closing"' "$T/long.out" || fail "long line: $(cat "$T/long.out")"
esd_answers || fail "the daemon stopped answering after garbage"

# 6. Only root and the daemon's user may change things.
if [ -n "$OTHER" ]; then
	if echo status | $OTHER "$TOOLS/ctlsend" "$ESD_SOCK" >/dev/null 2>&1; then
		fail "another user could connect to the 0660 socket"
	fi
	chmod 666 "$ESD_SOCK"
	echo status | $OTHER "$TOOLS/ctlsend" "$ESD_SOCK" | "$TOOLS/jget" version >/dev/null ||
		fail "status refused to another user"
	for c in rescan retry reload; do
		echo "$c" | $OTHER "$TOOLS/ctlsend" "$ESD_SOCK" | grep -q '"ok":false,"error":".* is allowed only to root' ||
			fail "$c was allowed to another user"
	done
	esd_cmd rescan | grep -q '"ok":true' || fail "root may not rescan"
fi

# Nothing was lost by any of it.
esd_wait 30 spool.pending 0
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/upstream-sample/expected.json" ||
	fail "database differs at the end"
esd_stop
[ -n "$OTHER" ] || skip "not root: the other-user checks of the control socket did not run (all else passed)"
exit 0
