#!/bin/sh
# eidastats-ingestd's read pool (DB_ROLE_READ) works on a database where its
# role may not create temporary tables, as on a hot-standby replica: health,
# queries and token checks answer, while the write pool's session (which
# needs its COPY table) is refused there.  The pools are driven through the
# unit test db_read_pool_replica (tests/unit/test_pgx.c).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/ingest-lib.sh"

RUN_TESTS=$top_builddir/tests/unit/run-tests
[ -x "$RUN_TESTS" ] || fail "$RUN_TESTS is not built"
mkdir -p "$T/central"
pg_start "$T/central" || exit $?
es_admin db init >"$T/out" 2>&1 || fail "db init: $(cat "$T/out")"
new_node node1

# A reader that may connect and read, but create no temporary table and write nothing.
pg_psql -c "CREATE ROLE reader LOGIN" \
	-c "REVOKE TEMPORARY ON DATABASE eidastats FROM PUBLIC" \
	-c "GRANT CONNECT ON DATABASE eidastats TO reader" \
	-c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader" || fail "reader role"
READ_DB="host=$ES_PGHOST port=$ES_PGPORT dbname=eidastats user=reader"
# The premise: this database really refuses the reader's temporary tables.
"$(pg__bin)/psql" -X -q -d "$READ_DB" -c "CREATE TEMP TABLE t (x int)" 2>"$T/err" &&
	fail "the reader may create temporary tables: the test proves nothing"
grep -q 'permission denied' "$T/err" || fail "CREATE TEMP TABLE as reader: $(cat "$T/err")"

ES_TEST_READ_DB=$READ_DB ES_TEST_TOKEN=$NODE_TOKEN ES_TEST_NODE_ID=$NODE_ID \
	"$RUN_TESTS" db_read_pool_replica >"$T/tap" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "db_read_pool_replica against the reader: $(cat "$T/tap")"
grep -qx 'ok 1 - db_read_pool_replica' "$T/tap" || fail "unexpected output: $(cat "$T/tap")"
grep -q 'not set' "$T/tap" && fail "the live part did not run: $(cat "$T/tap")"

# The same test on the full database role also passes the read part, but its
# write-pool check must then fail: proof that the check looks at the database.
ES_TEST_READ_DB=$ES_DB ES_TEST_TOKEN=$NODE_TOKEN ES_TEST_NODE_ID=$NODE_ID \
	"$RUN_TESTS" db_read_pool_replica >"$T/tap2" 2>&1 &&
	fail "db_read_pool_replica passed where temporary tables are allowed"
grep -q 'db_health(c, err, sizeof err) returned 0' "$T/tap2" || fail "unexpected failure: $(cat "$T/tap2")"
exit 0
