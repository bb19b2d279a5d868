# pg.sh - a throw-away PostgreSQL 15 cluster with the hll extension, for tests.
#
# Source this file from a shell test (it defines functions and sets nothing
# else).  The cluster lives in a directory the test owns, listens only on a
# Unix socket inside that directory (no TCP port, so parallel tests never
# collide), uses trust authentication and fsync=off.  PostgreSQL refuses to
# run as root, so when the test runs as uid 0 the server runs as the
# `postgres` system user (runuser) and the directory is made traversable by it.
#
# Functions:
#   pg_start DIR   Creates the cluster in DIR/pg (initdb on first use), starts
#                  it and creates the database `eidastats`.  Exports
#                    ES_DB      libpq conninfo of that database, e.g.
#                               "host=DIR/pgsock port=5432 dbname=eidastats user=postgres"
#                    ES_PGDATA  the data directory, ES_PGHOST the socket
#                               directory, ES_PGPORT the port number of the socket.
#                  Returns 0, or 77 (after a message on stderr) when PostgreSQL
#                  15 or the hll extension is not installed: a test should
#                  `pg_start "$dir" || exit $?`.  Any other failure prints the
#                  server log and returns 1.
#   pg_stop        Stops the server (fast shutdown), keeping its data; does
#                  nothing when it is not running.  Safe in an EXIT trap.
#   pg_resume      Starts the stopped server of the last pg_start again.
#   pg_restart     pg_stop then pg_resume.
#   pg_psql ARG... Runs psql on ES_DB quietly, unaligned, tuples only,
#                  stopping at the first error (e.g. pg_psql -c "select 1").
#
# Environment: ES_PGBIN overrides the binaries' directory
# (default /usr/lib/postgresql/15/bin).

pg__bin() {
	printf '%s\n' "${ES_PGBIN:-/usr/lib/postgresql/15/bin}"
}

# Runs a PostgreSQL server-side program as the user allowed to run it.
pg__as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg__log() {
	if [ -n "${ES_PGLOG:-}" ] && [ -f "$ES_PGLOG" ]; then
		echo "---- PostgreSQL log ($ES_PGLOG) ----" >&2
		tail -n 40 "$ES_PGLOG" >&2
	fi
}

pg_start() {
	_pg_dir=$1
	_pg_bin=$(pg__bin)
	if [ -z "$_pg_dir" ] || [ ! -d "$_pg_dir" ]; then
		echo "pg_start: needs an existing directory" >&2
		return 1
	fi
	if [ ! -x "$_pg_bin/initdb" ] || [ ! -x "$_pg_bin/pg_ctl" ]; then
		echo "pg_start: PostgreSQL 15 not found in $_pg_bin (apt-get install postgresql-15); skipping" >&2
		return 77
	fi
	_pg_share=$("$_pg_bin/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)
	if [ ! -f "$_pg_share/extension/hll.control" ]; then
		echo "pg_start: the hll extension is not installed (apt-get install postgresql-15-hll); skipping" >&2
		return 77
	fi
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "pg_start: running as root but there is no postgres user; skipping" >&2
			return 77
		fi
	fi
	_pg_dir=$(cd "$_pg_dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		# postgres must reach DIR: let it traverse (not list) DIR and those of
		# its parents that are ours and closed, e.g. a mktemp -d directory.
		_pg_up=$_pg_dir
		while [ -n "$_pg_up" ] && [ "$_pg_up" != / ]; do
			if ! runuser -u postgres -- test -x "$_pg_up" 2>/dev/null &&
				[ "$(stat -c %u "$_pg_up")" -eq 0 ]; then
				chmod o+x "$_pg_up"
			fi
			_pg_up=${_pg_up%/*}
		done
		if ! runuser -u postgres -- test -x "$_pg_dir"; then
			echo "pg_start: the postgres user cannot reach $_pg_dir" >&2
			return 1
		fi
	fi
	ES_PGDATA=$_pg_dir/pg
	ES_PGHOST=$_pg_dir/pgsock
	ES_PGPORT=5432
	ES_PGLOG=$_pg_dir/pg.log
	export ES_PGDATA ES_PGHOST ES_PGPORT ES_PGLOG
	if [ ! -f "$ES_PGDATA/PG_VERSION" ]; then
		mkdir -p "$ES_PGDATA" "$ES_PGHOST"
		: >"$ES_PGLOG"
		if [ "$(id -u)" -eq 0 ]; then
			chown postgres "$ES_PGDATA" "$ES_PGHOST" "$ES_PGLOG"
		fi
		chmod 700 "$ES_PGDATA"
		if ! pg__as_owner "$_pg_bin/initdb" -D "$ES_PGDATA" -U postgres -A trust \
			-E UTF8 --locale=C.UTF-8 --no-sync >"$_pg_dir/initdb.log" 2>&1; then
			echo "pg_start: initdb failed:" >&2
			cat "$_pg_dir/initdb.log" >&2
			return 1
		fi
		cat >>"$ES_PGDATA/postgresql.conf" <<EOF
listen_addresses = ''
port = $ES_PGPORT
unix_socket_directories = '$ES_PGHOST'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 64MB
log_min_messages = warning
log_min_error_statement = panic
EOF
	fi
	pg_resume || return 1
	if ! "$_pg_bin/psql" -X -q -h "$ES_PGHOST" -p "$ES_PGPORT" -U postgres -d postgres \
		-c "create database eidastats" >/dev/null 2>"$_pg_dir/createdb.err"; then
		if ! grep -q 'already exists' "$_pg_dir/createdb.err"; then
			cat "$_pg_dir/createdb.err" >&2
			return 1
		fi
	fi
	ES_DB="host=$ES_PGHOST port=$ES_PGPORT dbname=eidastats user=postgres"
	export ES_DB
	return 0
}

pg_resume() {
	if [ -z "${ES_PGDATA:-}" ]; then
		echo "pg_resume: no cluster (call pg_start first)" >&2
		return 1
	fi
	if ! pg__as_owner "$(pg__bin)/pg_ctl" -D "$ES_PGDATA" -l "$ES_PGLOG" -w -t 60 \
		-o "-c unix_socket_directories=$ES_PGHOST" start >/dev/null 2>&1; then
		echo "pg_resume: the server did not start" >&2
		pg__log
		return 1
	fi
	return 0
}

pg_stop() {
	if [ -z "${ES_PGDATA:-}" ] || [ ! -f "$ES_PGDATA/postmaster.pid" ]; then
		return 0
	fi
	if ! pg__as_owner "$(pg__bin)/pg_ctl" -D "$ES_PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
		# The server we started did not stop in time: end it by its own pid.
		_pg_pid=$(head -n 1 "$ES_PGDATA/postmaster.pid" 2>/dev/null)
		if [ -n "$_pg_pid" ]; then
			kill -9 "$_pg_pid" 2>/dev/null
		fi
		echo "pg_stop: the server did not stop cleanly" >&2
		return 1
	fi
	return 0
}

pg_restart() {
	pg_stop && pg_resume
}

pg_psql() {
	"$(pg__bin)/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$ES_DB" "$@"
}
