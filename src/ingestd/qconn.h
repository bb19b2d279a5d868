/*
 * qconn.h - idle PostgreSQL sessions of the query API's streamed answers,
 * kept for the next answer.  A streamed answer holds its session across
 * HTTP callbacks, so it cannot borrow from the read pool (db.h); it used to
 * open a session per answer, and a fresh backend pays its connection, its
 * catalog caches and the mapping of every shared buffer it touches on each
 * query (a third of a large answer's database time).
 *
 * A cache owns at most cap idle sessions (qconn_new()) and closes them in
 * qconn_free().  qconn_take() hands one over (the caller owns it until it
 * gives it back or closes it); qconn_give() keeps a session only when it is
 * healthy and idle (no transaction, no result pending: an answer read to
 * its end), for the same conninfo, else closes it.  The caller sets every
 * session setting it relies on for each query.  Thread-safe (one mutex).
 */
#ifndef ES_INGEST_QCONN_H
#define ES_INGEST_QCONN_H

#include <libpq-fe.h>

struct qconn_cache;

struct qconn_cache *qconn_new(unsigned cap);
void qconn_free(struct qconn_cache *c);
/* An idle session opened on conninfo, or NULL (c NULL, or none kept). */
PGconn *qconn_take(struct qconn_cache *c, const char *conninfo);
/* Keeps pg (opened on conninfo) when it is idle and there is room; else closes it. c NULL: closes it. */
void qconn_give(struct qconn_cache *c, PGconn *pg, const char *conninfo);

#endif
