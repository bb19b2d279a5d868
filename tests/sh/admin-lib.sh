# admin-lib.sh - running eidastats-admin in shell tests.  Source lib.sh and
# ingest-lib.sh (which sets ADMIN) first.
#
#   run STATUS OUTPUT-FILE ARG...
#       Runs eidastats-admin ARG... (the database from DBURI or --db), its
#       stdout into OUTPUT-FILE and its stderr into $T/admin.err; fails the
#       test unless it exits with STATUS.
#   err_has TEXT
#       Fails the test unless the last run's stderr contains TEXT.

run() {
	_want=$1 _out=$2
	shift 2
	"$ADMIN" "$@" >"$_out" 2>"$T/admin.err"
	_rc=$?
	[ "$_rc" = "$_want" ] || fail "eidastats-admin $*: exit $_rc, expected $_want ($(cat "$T/admin.err"))"
}

err_has() { grep -qF -- "$1" "$T/admin.err" || fail "expected '$1' in: $(cat "$T/admin.err")"; }
