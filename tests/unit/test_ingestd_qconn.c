/* Tests of qconn.h: which sessions are kept for the next answer. */
#include "config.h"

#include <libpq-fe.h>

#include "ingestd/qconn.h"
#include "unit.h"

/* A session that never connected (no server at that address). */
static PGconn *bad_session(void)
{
	PGconn *pg = PQconnectdb("host=/nonexistent/eidastats port=1 connect_timeout=1");

	ASSERT(pg);
	ASSERT(PQstatus(pg) != CONNECTION_OK);
	return pg;
}

/* Only healthy idle sessions are kept; others, and everything without a cache, are closed. */
TEST(ingestd_qconn_keeps_only_healthy_sessions)
{
	struct qconn_cache *c = qconn_new(2);

	ASSERT(qconn_take(NULL, "dbname=x") == NULL);
	qconn_give(NULL, bad_session(), "dbname=x");
	qconn_give(c, NULL, "dbname=x");
	qconn_give(c, bad_session(), "dbname=x");
	ASSERT(qconn_take(c, "dbname=x") == NULL);
	qconn_free(c);
	qconn_free(NULL);
}
