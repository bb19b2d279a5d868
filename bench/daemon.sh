#!/bin/bash
# Benchmarks of the node daemon eidastatsd (not a timed test):
#  1. pick-up latency: file complete -> payload spooled, minus the
#     aggregation time the daemon reports for it; for a file that arrives
#     complete (renamed into place with an old mtime, as bzip2 leaves it) and
#     for a file just written (then `settle` is part of the latency);
#  2. idle CPU over 60 s (ledger and directory with 1000 files counted);
#  3. RSS idle, and peak RSS while processing a 300 000-line log;
#  4. delivery throughput of a 1000-payload backlog, to a scripted HTTP
#     server that answers 200 at once (the daemon's side) and to
#     eidastats-ingestd + PostgreSQL (the whole chain) when they are built.
#
# usage: bench/daemon.sh [BUILD_DIR] [IDLE_SECONDS]   (defaults: _build, 60)
# Needs python3 (bench/genlog.py makes the logs).
set -eu
cd "$(dirname "$0")/.."
src=$PWD
build=$(cd "${1:-_build}" && pwd)
idle_s=${2:-60}
esd=$build/src/eidastatsd/eidastatsd
cli=$build/src/eidastats/eidastats
jget=$build/tests/daemon/jget
faultsrv=$build/tests/daemon/faultsrv
for f in "$esd" "$cli" "$jget" "$faultsrv"; do
	[ -x "$f" ] || { echo "build first (make check builds the test tools): $f not found" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/es-bench-daemon.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "${ES_DB:-}" ]; then pg_stop || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
nets=$src/tests/data/synthetic-small/networks.json
sock=$work/ctl.sock
now() { date +%s.%N; }
get() { "$cli" status --socket "$sock" --json | "$jget" "$@"; }
wait_for() {   # SECONDS PATH VALUE
	local deadline=$(( $(date +%s) + $1 ))
	until [ "$(get "$2" 2>/dev/null)" = "$3" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "timeout waiting for $2=$3" >&2; exit 1; }
		sleep 0.05
	done
}
config() {   # LOGDIR STATEDIR SETTLE [URL]
	{
		echo "log_directory: $1"
		echo "state_directory: $2"
		echo "control_socket: $sock"
		echo "settle: $3"
		echo "plain_after: 1d"
		echo "networks: { file: $nets, url: 'http://127.0.0.1:9/none' }"
		if [ -n "${4:-}" ]; then
			echo "central: { url: '$4', token_file: $work/token, retry: { initial: 1, max: 5 } }"
		fi
	} >"$work/esd.yaml"
}
start() {
	"$esd" --foreground -c "$work/esd.yaml" >>"$work/esd.log" 2>&1 &
	esd_pid=$!
	pids+=("$esd_pid")
	local deadline=$(( $(date +%s) + 20 ))
	until "$cli" status --socket "$sock" --json >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || { cat "$work/esd.log" >&2; exit 1; }
		sleep 0.05
	done
}
stop() {
	kill -TERM "$esd_pid"
	wait "$esd_pid" || true
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk "/^$2:/ { print \$2 }" "/proc/$1/status"; }
echo "eidastatsd benchmarks, $(nproc) cores, build $build"
echo 0123456789abcdef0123456789abcdef >"$work/token"
chmod 600 "$work/token"

# ---- 1. Pick-up latency -------------------------------------------------
mkdir -p "$work/lat/logs" "$work/lat/state" "$work/lat/src"
python3 bench/genlog.py --lines 2000 --seed 11 --days 20 --start 2024-01-01 \
	--out "$work/lat/src/fdsnws-requests.log.{date}" 2>/dev/null
for f in "$work/lat/src"/*; do bzip2 "$f"; touch -d '1 hour ago' "$f.bz2"; done
measure_latency() {   # LABEL SETTLE MODE(rename|write) COUNT
	local label=$1 settle=$2 mode=$3 count=$4 i=0 total=0 worst=0
	rm -rf "$work/lat/logs" "$work/lat/state"
	mkdir -p "$work/lat/logs" "$work/lat/state"
	: >"$work/esd.log"
	config "$work/lat/logs" "$work/lat/state" "$settle"
	start
	for f in $(ls "$work/lat/src"/* | head -n "$count"); do
		local name t0 t1 agg ms
		name=$(basename "$f")
		i=$((i + 1))
		if [ "$mode" = rename ]; then
			cp -p "$f" "$work/lat/logs/.$name"
			t0=$(now)
			mv "$work/lat/logs/.$name" "$work/lat/logs/$name"
		else
			t0=$(now)
			cp "$f" "$work/lat/logs/$name"
		fi
		wait_for 120 files_counted "$i"
		# The payload's ctime is its rename into the spool: durable from then.
		t1=$(stat -c %.9Z "$(ls -t "$work/lat/state/spool/"*.payload | head -n 1)")
		agg=$(grep "counted:.*$name" "$work/esd.log" | sed 's/.*statistics, \([0-9.]*\) s.*/\1/')
		ms=$(python3 -c "print(round(($t1 - $t0 - $agg) * 1000))")
		total=$((total + ms))
		[ "$ms" -gt "$worst" ] && worst=$ms
	done
	stop
	echo "pick-up latency, $label: mean $((total / count)) ms, worst $worst ms over $count files (aggregation time excluded)"
}
measure_latency "complete file renamed in (settle 60 s, mtime 1 h old)" 60 rename 10
measure_latency "file written just now (settle 2 s)" 2 write 5

# ---- 2./3. Idle CPU and RSS, then RSS while processing ------------------
mkdir -p "$work/idle/logs" "$work/idle/state"
python3 bench/genlog.py --lines 20000 --seed 12 --days 1000 --start 2022-01-01 \
	--out "$work/idle/logs/fdsnws-requests.log.{date}" 2>/dev/null
n=$(ls "$work/idle/logs" | wc -l)
touch -d '1 day ago' "$work/idle/logs"/*
: >"$work/esd.log"
config "$work/idle/logs" "$work/idle/state" 60
start
t0=$(now)
wait_for 600 files.done "$n"
t1=$(now)
echo "backlog of $n small files ($((20000 / n)) lines each) counted in $(python3 -c "print(round($t1 - $t0, 1))") s"
sleep 2
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$esd_pid")
sleep "$idle_s"
c1=$(cpu_ticks "$esd_pid")
echo "idle CPU over $idle_s s with $n files in the directory: $(( (c1 - c0) * 1000 / hz )) ms ($(python3 -c "print(round(100.0 * ($c1 - $c0) / $hz / $idle_s, 3))") %)"
echo "RSS idle: $(( $(rss_kb "$esd_pid" VmRSS) / 1024 )) MB"
python3 bench/genlog.py --lines 300000 --seed 13 --days 1 --start 2025-06-01 --bz2 \
	--out "$work/big.bz2" 2>/dev/null
touch -d '1 day ago' "$work/big.bz2"
mv "$work/big.bz2" "$work/idle/logs/fdsnws-requests.log.2025-06-01.bz2"
wait_for 600 files.done $((n + 1))
agg=$(grep "counted:.*2025-06-01" "$work/esd.log" | sed 's/.*counted: \([0-9]*\) lines.*statistics, \([0-9.]*\) s.*/\1 lines in \2 s/')
echo "peak RSS (VmHWM) after processing a 300000-line log ($agg): $(( $(rss_kb "$esd_pid" VmHWM) / 1024 )) MB"
stop

# ---- 4. Delivery throughput of a 1000-payload backlog -------------------
mkdir -p "$work/tp/logs" "$work/tp/state"
python3 bench/genlog.py --lines 30000 --seed 14 --days 1000 --start 2020-01-01 \
	--out "$work/tp/logs/fdsnws-requests.log.{date}" 2>/dev/null
touch -d '1 day ago' "$work/tp/logs"/*
np=$(ls "$work/tp/logs" | wc -l)
: >"$work/esd.log"
config "$work/tp/logs" "$work/tp/state" 60
start
wait_for 600 spool.pending "$np"
stop
bytes=$(du -sb "$work/tp/state/spool" | cut -f1)
cp -a "$work/tp/state" "$work/tp/state.copy"

deliver() {   # LABEL URL
	rm -rf "$work/tp/state"
	cp -a "$work/tp/state.copy" "$work/tp/state"
	config "$work/tp/logs" "$work/tp/state" 60 "$2"
	local t0 t1
	t0=$(now)
	start
	wait_for 600 spool.pending 0
	t1=$(now)
	stop
	python3 -c "t = $t1 - $t0; print(f'delivery of $np payloads ($(( bytes / 1000000 )) MB), $1: {t:.1f} s, {$np / t:.0f} payloads/s')"
}
printf 'pass\n' >"$work/script"
"$faultsrv" --port-file "$work/port" --script "$work/script" &
pids+=("$!")
until [ -s "$work/port" ]; do sleep 0.05; done
deliver "to a server answering 200 at once" "http://127.0.0.1:$(cat "$work/port")/submit"

ingestd=$build/src/ingestd/eidastats-ingestd
admin=$build/src/admin/eidastats-admin
if [ -x "$ingestd" ] && [ -x "$admin" ] && [ -f tests/sh/pg.sh ]; then
	. tests/sh/pg.sh
	mkdir -p "$work/db"
	chmod o+x "$work"
	if pg_start "$work/db" >/dev/null 2>&1; then
		"$admin" --db "$ES_DB" db init --sql-dir sql >/dev/null
		"$admin" --db "$ES_DB" node add --name bench --contact b@example.org >/dev/null
		"$admin" --db "$ES_DB" token add --node bench >"$work/token"
		chmod 600 "$work/token"
		"$ingestd" --db "$ES_DB" --listen 127.0.0.1:0 --workers 4 >"$work/ingestd.log" 2>&1 &
		pids+=("$!")
		until grep -q "listening on" "$work/ingestd.log"; do sleep 0.05; done
		addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/ingestd.log" | head -n 1)
		deliver "to eidastats-ingestd + PostgreSQL" "http://$addr/eidaws/statistics/1/submit"
	else
		echo "PostgreSQL with hll not available: chain throughput not measured"
	fi
fi
