# hostile-lib.sh - the frame of the hostile-client tests (hostile-*.sh): the
# central service of api-lib.sh started with small limits, a well-behaved
# client on 127.0.0.2 that must keep getting the same correct answers within
# its limit (10 s each) while an attack runs from other loopback addresses,
# and the service's memory (VmHWM, the kernel's peak of VmRSS) checked
# against a bound.  Source tests/sh/lib.sh first.
#
#   hostile_start [INGESTD-OPTION...]
#       api_start (api-lib.sh) with the options; sets PORT and PREFIX.
#   good_start
#       Starts the good client (tests/sh/hostile.py good) and waits until
#       its first round is answered; then notes the service's VmHWM.
#   good_stop MIN_ROUNDS
#       Stops it; fails unless it made MIN_ROUNDS rounds without a failure.
#   mem_check MIB WHAT
#       Fails when the service's VmHWM grew by more than MIB MiB since
#       good_start; prints the figures.
#   vm FIELD
#       The service's VmRSS or VmHWM in KiB.
#   hostile HOSTILE.PY-ARGS...
#       python3 tests/sh/hostile.py ...

. "$top_srcdir/tests/sh/api-lib.sh"

[ -r /proc/self/status ] || skip "no /proc: the memory checks cannot run"
# In the sanitizer build, AddressSanitizer keeps freed memory in a quarantine
# (256 MiB by default), which would count as growth: keep it small.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
export ASAN_OPTIONS
HOSTILE_PY="$top_srcdir/tests/sh/hostile.py"
GOOD_PID=""

hostile() { python3 "$HOSTILE_PY" "$@"; }

vm() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" /proc/"$ES_INGESTD_PID"/status; }

hostile_start() {
	api_start "$@"
	_hp=${ES_INGEST_BASE#http://127.0.0.1:}
	PORT=${_hp%%/*}
	PREFIX=/${_hp#*/}
	# The good client's address must be usable as a source.
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
		skip "127.0.0.2 cannot be bound here"
}

good_start() {
	mkdir -p "$T/good"
	rm -f "$T/good/stop" "$T/good/ready" "$T/good/summary"
	python3 "$HOSTILE_PY" good "$PORT" "$PREFIX" "$ES_INGESTD_PID" "$T/good" 2>"$T/good/stderr" &
	GOOD_PID=$!
	bg_track "$GOOD_PID"
	wait_until 30 test -f "$T/good/ready" || fail "the good client got no first answer: $(cat "$T/good/stderr")"
	[ ! -s "$T/good/failures" ] || fail "the good client's reference: $(cat "$T/good/failures")"
	HWM_BASE=$(vm VmHWM)
}

good_stop() {
	touch "$T/good/stop"
	wait_until 30 test -f "$T/good/summary" || fail "the good client did not stop: $(cat "$T/good/stderr")"
	wait "$GOOD_PID" 2>/dev/null
	GOOD_PID=""
	echo "good client: $(cat "$T/good/summary")"
	_rounds=$(sed -n 's/.*rounds=\([0-9]*\).*/\1/p' "$T/good/summary")
	_fails=$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' "$T/good/summary")
	[ "$_fails" = 0 ] || fail "the good client failed $_fails times: $(head -n 5 "$T/good/failures")"
	[ "$_rounds" -ge "$1" ] || fail "the good client made only $_rounds rounds (at least $1 expected)"
}

mem_check() {
	_hwm=$(vm VmHWM)
	_grew=$(( (_hwm - HWM_BASE) / 1024 ))
	echo "memory ($2): VmHWM $((HWM_BASE / 1024)) MiB before, $((_hwm / 1024)) MiB after (+$_grew MiB; bound +$1 MiB)"
	[ "$_grew" -le "$1" ] || fail "$2: the service's peak memory grew by $_grew MiB (bound $1 MiB)"
}
