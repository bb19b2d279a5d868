/*
 * db.h - eidastats-ingestd's side of PostgreSQL: a fixed pool of libpq
 * connections (one per HTTP worker), token checks, and the one-transaction
 * ingest of a validated payload.
 *
 * Connections are opened lazily and re-opened when PostgreSQL went away, so
 * the service starts while the database is down and recovers when it
 * returns.  Each session runs in UTC and owns a temporary table that COPY
 * fills before one INSERT ... ON CONFLICT moves the rows into
 * dataselect_stats.
 *
 * Ownership: the pool owns its connections; db_acquire() lends one until
 * db_release().  A caller holds at most one connection at a time and never
 * across HTTP callbacks, so a pool as large as the worker count cannot run
 * dry.  The pool is thread-safe; a lent connection is used by one thread.
 *
 * Errors: -ENOTCONN when the database cannot be reached (the caller answers
 * 503), ES_EAUTH (403), ES_EDUPLICATE (409), ES_EFORMAT when the database
 * refuses the data itself (a counter overflows when added: 400),
 * ES_EINTERNAL otherwise (500); err receives a sentence for the log.
 */
#ifndef ES_INGEST_DB_H
#define ES_INGEST_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "submit.h"

struct db_pool;
struct db_conn;

/* Tokens longer than this cannot match (ours are 32, upstream's 20 characters). */
#define DB_TOKEN_MAX 64

struct db_pool *db_pool_new(const char *conninfo, unsigned size);
void db_pool_free(struct db_pool *pool);

/* Waits for a free connection (it may be closed; the calls below open it). */
struct db_conn *db_acquire(struct db_pool *pool);
void db_release(struct db_pool *pool, struct db_conn *c);

/* 0 when the database answers a query, -ENOTCONN otherwise. */
int db_health(struct db_conn *c, char *err, size_t errlen);

/*
 * Finds the node of a bearer token valid now.  Every stored token is
 * compared in constant time, so the answer's timing does not depend on how
 * much of the token matched.  0 with *node_id, ES_EAUTH (unknown or outside
 * its validity window) or -ENOTCONN.
 */
int db_authenticate(struct db_conn *c, const char *token, size_t len, int *node_id,
                    char *err, size_t errlen);

/*
 * Stores p for node_id in one transaction: the payloads row (refused with
 * ES_EDUPLICATE when the node already sent the same digest), then every row,
 * added to existing counters and unioned into existing HLLs (POST) or
 * replacing them (overwrite, PUT).  Any failure stores nothing.
 */
int db_ingest(struct db_conn *c, int node_id, bool overwrite, const char *method,
              const struct submit_payload *p, char *err, size_t errlen);

#endif
