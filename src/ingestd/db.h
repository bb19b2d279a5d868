/*
 * db.h - eidastats-ingestd's side of PostgreSQL: fixed pools of libpq
 * sessions (one per HTTP worker), token checks, the one-transaction ingest
 * of a validated payload, and read-only queries.  Sessions, statements,
 * error texts and transactions go through the one PostgreSQL layer (pgx.h).
 *
 * Two roles of pool:
 *   DB_ROLE_WRITE  the ingest pool, on the primary.  Each session owns a
 *                  temporary table that COPY fills before one INSERT ... ON
 *                  CONFLICT moves the rows into dataselect_stats.
 *   DB_ROLE_READ   the query pool, which may point at a hot-standby replica
 *                  (setting read_db).  Its sessions create and need no
 *                  temporary table (a replica refuses them) and run with
 *                  default_transaction_read_only on; db_ingest() refuses them.
 * db_health(), db_authenticate() and db_query() work on both.
 *
 * Sessions are opened on first use (or ahead of it, db_pool_warm()) and
 * re-opened when PostgreSQL went away, so the service starts while the
 * database is down and recovers when it returns.  Every session runs in UTC.
 *
 * Ownership: the pool owns its connections; db_acquire() lends one until
 * db_release().  A caller holds at most one connection at a time and never
 * across HTTP callbacks, so a pool as large as the worker count cannot run
 * dry.  The pool is thread-safe; a lent connection is used by one thread.
 *
 * Errors: -ENOTCONN when the database cannot be reached (the caller answers
 * 503), ES_EAUTH (403), ES_EDUPLICATE (409), ES_EFORMAT when the database
 * refuses the data itself (a counter overflows when added: 400),
 * ES_EINTERNAL otherwise (500); err receives a sentence for the log, with
 * the SQLSTATE and its class when PostgreSQL gave one.
 */
#ifndef ES_INGEST_DB_H
#define ES_INGEST_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "submit.h"

struct db_pool;
struct db_conn;

/* Tokens longer than this cannot match (ours are 32, upstream's 20 characters). */
#define DB_TOKEN_MAX 64

enum db_role {
	DB_ROLE_WRITE,  /* ingest: temporary COPY table, read-write */
	DB_ROLE_READ,   /* queries: no temporary table, read-only, replica allowed */
};

/* A pool of size (>= 1) sessions on conninfo, none open yet; never NULL. */
struct db_pool *db_pool_new(const char *conninfo, unsigned size, enum db_role role);
void db_pool_free(struct db_pool *pool);

/* What db_pool_warm()'s thread did, given to its done callback once, at its end. */
struct db_warm_report {
	unsigned opened;        /* Sessions it opened (not those lent to requests meanwhile). */
	unsigned size;          /* The pool's. */
	unsigned rehearsed;     /* Write sessions that rehearsed an ingest. */
	bool no_node;           /* None did: there is no node yet. */
	char err[512];          /* What stopped the opening; "" when nothing did. */
	char rehearsal_err[512];/* What stopped the rehearsals; "" when nothing did. */
};
typedef void db_warm_done_fn(void *arg, const struct db_warm_report *report);

/*
 * Opens the pool's sessions ahead of their first use, in a thread of the
 * pool's own, so that the first requests after a start do not pay for them
 * (connection, time zone, a write session's COPY tables: tens of
 * milliseconds each).  Each write session then rehearses an ingest: a few
 * rows of the first node (lowest id) on 1900-01-01 through the statements of
 * a payload's transaction, rolled back, so that the session's first payload
 * does not pay for PostgreSQL's first use of the functions, plans and tables
 * either; nothing stays in the database.  Returns at once: 0, -EALREADY on a
 * second call, or -errno when the thread cannot start.  Nothing depends on
 * it: a session it could not open (the database is down) opens on its first
 * use, as always; the thread stops opening at the first failure and
 * rehearsing at the first failed rehearsal.  done (may be NULL) is called from
 * that thread at its end.  db_pool_free() stops it and waits for it (at most
 * one connection attempt, pgx_connect()'s timeout, or one rehearsal).  Call
 * it from the thread that created the pool, once.
 */
int db_pool_warm(struct db_pool *pool, db_warm_done_fn *done, void *arg);

/* Waits for a free connection (it may be closed; the calls below open it). */
struct db_conn *db_acquire(struct db_pool *pool);
void db_release(struct db_pool *pool, struct db_conn *c);

/* 0 when the database answers a query, -ENOTCONN otherwise. */
int db_health(struct db_conn *c, char *err, size_t errlen);

/*
 * Finds the node of a bearer token valid now: one indexed lookup of the
 * token's SHA-256 in tokens.digest (unique, sql/003), so at most one node
 * can match.  The timing of the lookup depends only on the digest, which
 * tells nothing about the token.  The token's bytes are scrubbed from our
 * buffers.  0 with *node_id, ES_EAUTH (empty, longer than DB_TOKEN_MAX,
 * unknown or outside its validity window), -ENOTCONN or ES_EINTERNAL.
 */
int db_authenticate(struct db_conn *c, const char *token, size_t len, int *node_id,
                    char *err, size_t errlen);
/* The same, also giving the node's name (nodes.name, truncated to namecap - 1 bytes). */
int db_authenticate_name(struct db_conn *c, const char *token, size_t len, int *node_id,
                         char *name, size_t namecap, char *err, size_t errlen);

/* Connections of pool lent now (db_acquire() without db_release()), and its size. */
unsigned db_pool_in_use(struct db_pool *pool);
unsigned db_pool_size(const struct db_pool *pool);

/*
 * Stores p for node_id in one transaction: the payloads row (refused with
 * ES_EDUPLICATE when the node already sent the same digest), then every row,
 * added to existing counters and unioned into existing HLLs (POST) or
 * replacing them (overwrite, PUT), then the query rollup of sql/004 (POST:
 * the payload's rows added; PUT: the (node, month) groups it touched
 * recomputed), so that the rollup always equals dataselect_stats.  Any
 * failure stores nothing.  A
 * transaction that loses a deadlock runs again (pgx_tx).  ES_EINTERNAL on a
 * DB_ROLE_READ connection.
 */
int db_ingest(struct db_conn *c, int node_id, bool overwrite, const char *method,
              const struct submit_payload *p, char *err, size_t errlen);

/*
 * Runs one read-only statement with nparams text parameters (pgx_exec), on
 * a session opened if needed and re-opened once if it went away since its
 * last use.  0 with *res (the caller PQclear()s it) or a code as above.
 */
int db_query(struct db_conn *c, const char *sql, int nparams, const char *const *params,
             PGresult **res, char *err, size_t errlen);

#endif
