/*
 * The PostgreSQL layer (pgx) and the service's pools (db) without a server:
 * SQLSTATE classes and their error codes, error texts, the stored form of a
 * token, and what an unreachable database answers.  With ES_TEST_READ_DB
 * set (tests/sh/ingest-readpool.sh), db_read_pool_replica also runs a read
 * pool against a database that refuses temporary tables.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "ingestd/db.h"
#include "pgx.h"

#include "unit.h"

/* A socket directory that does not exist: libpq fails at once, without a timeout. */
#define NOWHERE "host=/nonexistent-eidastats-test port=1 dbname=x connect_timeout=2"

TEST(pgx_class_name)
{
	ASSERT(strcmp(pgx_class_name("08006"), "connection exception") == 0);
	ASSERT(strcmp(pgx_class_name("08P01"), "connection exception") == 0);
	ASSERT(strcmp(pgx_class_name("23505"), "integrity constraint violation") == 0);
	ASSERT(strcmp(pgx_class_name("57P01"), "operator intervention") == 0);
	ASSERT(strcmp(pgx_class_name("22003"), "data exception") == 0);
	ASSERT(strcmp(pgx_class_name("40P01"), "transaction rollback") == 0);
	ASSERT(strcmp(pgx_class_name("42501"), "syntax error or access rule violation") == 0);
	ASSERT(strcmp(pgx_class_name("P0001"), "PL/pgSQL error") == 0);
	ASSERT(strcmp(pgx_class_name("XX000"), "internal error") == 0);
	/* Not a SQLSTATE, or a class PostgreSQL does not define. */
	ASSERT(strcmp(pgx_class_name(NULL), "unknown class") == 0);
	ASSERT(strcmp(pgx_class_name(""), "unknown class") == 0);
	ASSERT(strcmp(pgx_class_name("2350"), "unknown class") == 0);
	ASSERT(strcmp(pgx_class_name("235050"), "unknown class") == 0);
	ASSERT(strcmp(pgx_class_name("23a05"), "unknown class") == 0);
	ASSERT(strcmp(pgx_class_name("99999"), "unknown class") == 0);
}

TEST(pgx_classify)
{
	/* Connection class, resources and shutdown: the database is not there (503). */
	ASSERT_ERR(pgx_classify("08006", false), -ENOTCONN);
	ASSERT_ERR(pgx_classify("08001", false), -ENOTCONN);
	ASSERT_ERR(pgx_classify("53300", false), -ENOTCONN);
	ASSERT_ERR(pgx_classify("57P01", false), -ENOTCONN);
	ASSERT_ERR(pgx_classify("57P03", false), -ENOTCONN);
	/* A cancelled statement is class 57 too, but the server is still there. */
	ASSERT_ERR(pgx_classify("57014", false), ES_EINTERNAL);
	ASSERT_ERR(pgx_classify("23505", false), ES_EDUPLICATE);
	/* Other integrity violations are ours to fix, not the client's duplicate. */
	ASSERT_ERR(pgx_classify("23503", false), ES_EINTERNAL);
	ASSERT_ERR(pgx_classify("22003", false), ES_EFORMAT);
	ASSERT_ERR(pgx_classify("22P02", false), ES_EFORMAT);
	ASSERT_ERR(pgx_classify("40P01", false), -EAGAIN);
	ASSERT_ERR(pgx_classify("40001", false), -EAGAIN);
	ASSERT_ERR(pgx_classify("42P01", false), ES_EINTERNAL);
	ASSERT_ERR(pgx_classify("25006", false), ES_EINTERNAL);
	ASSERT_ERR(pgx_classify(NULL, false), ES_EINTERNAL);
	ASSERT_ERR(pgx_classify("junk", false), ES_EINTERNAL);
	/* A lost session wins over whatever the statement said. */
	ASSERT_ERR(pgx_classify("23505", true), -ENOTCONN);
	ASSERT_ERR(pgx_classify(NULL, true), -ENOTCONN);
}

TEST(pgx_error_text_without_server)
{
	char err[64];

	pgx_error_text(NULL, NULL, "token lookup", err, sizeof err);
	ASSERT(strcmp(err, "token lookup: no connection") == 0);
	/* Truncated, still terminated. */
	pgx_error_text(NULL, NULL, "a rather long description of the step", err, 8);
	ASSERT(strlen(err) == 7);
	ASSERT(memcmp(err, "a rathe", 7) == 0);
	/* Nothing written into an empty buffer. */
	err[0] = 'x';
	pgx_error_text(NULL, NULL, "what", err, 0);
	ASSERT(err[0] == 'x');
}

TEST(pgx_exec_without_session)
{
	char err[128];
	PGresult *res = (PGresult *)1;

	ASSERT(pgx_lost(NULL));
	ASSERT_ERR(pgx_exec(NULL, "SELECT 1", 0, NULL, &res, "probe", err, sizeof err), -ENOTCONN);
	ASSERT(res == NULL);
	ASSERT(strncmp(err, "probe: ", 7) == 0);
}

static int must_not_run(PGconn *pg, void *arg, char *err, size_t errlen)
{
	(void)pg;
	(void)err;
	(void)errlen;
	*(int *)arg = 1;
	return 0;
}

TEST(pgx_tx_without_session)
{
	char err[128];
	int ran = 0;

	ASSERT_ERR(pgx_tx(NULL, must_not_run, &ran, err, sizeof err), -ENOTCONN);
	ASSERT(ran == 0);
}

TEST(pgx_connect_unreachable)
{
	char err[512];
	PGconn *pg = (PGconn *)1;

	ASSERT_ERR(pgx_connect(&pg, NOWHERE, "eidastats-test", err, sizeof err), -ENOTCONN);
	ASSERT(pg == NULL);
	ASSERT(strncmp(err, "cannot connect to the database: ", 32) == 0);
	ASSERT(strchr(err, '\n') == NULL);
}

TEST(pgx_token_digest)
{
	char out[PGX_DIGEST_TEXT];
	unsigned char bytes[] = { 0x00, 0x0f, 0xa5, 0xff };

	/* SHA-256 of "abc" (the FIPS 180-2 example) and of nothing. */
	ASSERT_OK(pgx_token_digest("abc", 3, out));
	ASSERT(strcmp(out, "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	ASSERT_OK(pgx_token_digest("", 0, out));
	ASSERT(strcmp(out, "\\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	/* Only len bytes count. */
	ASSERT_OK(pgx_token_digest("abcdef", 3, out));
	ASSERT(strcmp(out, "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	pgx_bytea_text(out, bytes, sizeof bytes);
	ASSERT(strcmp(out, "\\x000fa5ff") == 0);
	pgx_bytea_text(out, bytes, 0);
	ASSERT(strcmp(out, "\\x") == 0);
}

struct warm_seen {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int calls;
	unsigned opened, size, rehearsed;
	char err[512];
};

static void warm_seen(void *arg, const struct db_warm_report *r)
{
	struct warm_seen *w = arg;

	pthread_mutex_lock(&w->lock);
	w->calls++;
	w->opened = r->opened;
	w->size = r->size;
	w->rehearsed = r->rehearsed;
	snprintf(w->err, sizeof w->err, "%s", r->err);
	pthread_cond_signal(&w->done);
	pthread_mutex_unlock(&w->lock);
}

/* Opening the sessions ahead fails quietly without a database, reports why once, and leaves the pool usable. */
TEST(db_pool_warm_unreachable)
{
	struct db_pool *pool = db_pool_new(NOWHERE, 3, DB_ROLE_WRITE);
	struct warm_seen w = { .lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };
	char err[512];

	ASSERT(db_pool_warm(pool, warm_seen, &w) == 0);
	ASSERT_ERR(db_pool_warm(pool, warm_seen, &w), -EALREADY);
	pthread_mutex_lock(&w.lock);
	while (w.calls == 0)
		pthread_cond_wait(&w.done, &w.lock);
	pthread_mutex_unlock(&w.lock);
	/* It stopped at the first failure, which it names. */
	ASSERT(w.size == 3 && w.opened == 0 && w.rehearsed == 0);
	ASSERT(strstr(w.err, "cannot connect to the database") != NULL);
	/* The pool still lends every session, which try again on their use. */
	struct db_conn *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = db_acquire(pool);
	ASSERT(c[0] != c[1] && c[1] != c[2] && c[0] != c[2]);
	ASSERT_ERR(db_health(c[2], err, sizeof err), -ENOTCONN);
	for (int i = 0; i < 3; i++)
		db_release(pool, c[i]);
	db_pool_free(pool);
	ASSERT(w.calls == 1);

	/* A pool freed at once: the thread is stopped and waited for, and reports once. */
	pool = db_pool_new(NOWHERE, 2, DB_ROLE_READ);
	w.calls = 0;
	ASSERT(db_pool_warm(pool, warm_seen, &w) == 0);
	db_pool_free(pool);
	ASSERT(w.calls == 1 && w.opened == 0 && w.size == 2);
}

TEST(db_pool_unreachable)
{
	enum db_role roles[] = { DB_ROLE_WRITE, DB_ROLE_READ };

	for (size_t r = 0; r < 2; r++) {
		struct db_pool *pool = db_pool_new(NOWHERE, 2, roles[r]);
		struct db_conn *c = db_acquire(pool), *c2 = db_acquire(pool);
		char err[512];
		PGresult *res = (PGresult *)1;
		int node = -1;

		ASSERT(c && c2 && c != c2);
		ASSERT_ERR(db_health(c, err, sizeof err), -ENOTCONN);
		ASSERT(strstr(err, "cannot connect to the database") != NULL);
		ASSERT_ERR(db_authenticate(c, "0123456789abcdef0123456789abcdef", 32, &node, err,
		                           sizeof err), -ENOTCONN);
		ASSERT(node == 0);
		ASSERT_ERR(db_query(c2, "SELECT 1", 0, NULL, &res, err, sizeof err), -ENOTCONN);
		ASSERT(res == NULL);
		/* Tokens that cannot match are refused before the database is asked. */
		ASSERT_ERR(db_authenticate(c, "", 0, &node, err, sizeof err), ES_EAUTH);
		char longtok[DB_TOKEN_MAX + 2];
		memset(longtok, 'a', sizeof longtok);
		ASSERT_ERR(db_authenticate(c, longtok, DB_TOKEN_MAX + 1, &node, err, sizeof err), ES_EAUTH);
		ASSERT(strstr(err, "longer than") != NULL);
		db_release(pool, c2);
		db_release(pool, c);
		db_pool_free(pool);
	}
}

/*
 * The read pool needs no temporary table.  Always: db_ingest refuses a read
 * connection without touching the database.  With ES_TEST_READ_DB (a role
 * that may not create temporary tables) and ES_TEST_TOKEN / ES_TEST_NODE_ID
 * (a valid token and its node): the read pool answers health, queries and
 * token checks there, and a write pool on the same database does not.
 */
TEST(db_read_pool_replica)
{
	const char *conninfo = getenv("ES_TEST_READ_DB");
	const char *token = getenv("ES_TEST_TOKEN"), *node_text = getenv("ES_TEST_NODE_ID");
	struct submit_payload p;
	struct db_pool *pool = db_pool_new(conninfo ? conninfo : NOWHERE, 1, DB_ROLE_READ);
	struct db_conn *c = db_acquire(pool);
	char err[512];
	PGresult *res;
	int node = 0;

	memset(&p, 0, sizeof p);
	ASSERT_ERR(db_ingest(c, 1, false, "POST", &p, err, sizeof err), ES_EINTERNAL);
	ASSERT(strstr(err, "read pool") != NULL);
	if (!conninfo) {
		db_release(pool, c);
		db_pool_free(pool);
		printf("# ES_TEST_READ_DB not set: the live part runs in tests/sh/ingest-readpool.sh\n");
		return;
	}
	ASSERT(token && node_text);
	ASSERT_OK(db_health(c, err, sizeof err));
	ASSERT_OK(db_query(c, "SELECT count(*) FROM tokens WHERE node_id = $1::integer", 1,
	                   (const char *const[]){ node_text }, &res, err, sizeof err));
	ASSERT(PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) >= 1);
	PQclear(res);
	/* The session is read-only, whatever the role may do. */
	ASSERT_OK(db_query(c, "SELECT current_setting('transaction_read_only')", 0, NULL, &res, err,
	                   sizeof err));
	ASSERT(strcmp(PQgetvalue(res, 0, 0), "on") == 0);
	PQclear(res);
	ASSERT_OK(db_authenticate(c, token, strlen(token), &node, err, sizeof err));
	ASSERT_EQ(node, atoi(node_text));
	ASSERT_ERR(db_authenticate(c, "ffffffffffffffffffffffffffffffff", 32, &node, err, sizeof err),
	           ES_EAUTH);
	db_release(pool, c);
	db_pool_free(pool);

	/* The same database refuses the write pool's temporary table. */
	pool = db_pool_new(conninfo, 1, DB_ROLE_WRITE);
	c = db_acquire(pool);
	ASSERT_ERR(db_health(c, err, sizeof err), -ENOTCONN);
	ASSERT(strstr(err, "creating the COPY table") != NULL);
	ASSERT(strstr(err, "SQLSTATE 42501, class 42") != NULL);
	db_release(pool, c);
	db_pool_free(pool);
}
