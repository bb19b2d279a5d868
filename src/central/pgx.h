/*
 * pgx.h - the one PostgreSQL layer of the central side (libpq), used by
 * eidastats-ingestd's pools (src/ingestd/db.c) and by eidastats-admin.
 *
 * It opens sessions the same way everywhere (UTC, an application_name, a
 * connect timeout, notices discarded), runs parameterised statements, turns
 * a failure into one line of text that names the SQLSTATE and its class
 * ("... [SQLSTATE 23505, class 23 integrity constraint violation]") and into
 * one of the project's error codes, runs a callback inside BEGIN ... COMMIT,
 * and computes the stored form of a node's bearer token.
 *
 * Errors: 0 or a negative code (error.h):
 *   -ENOTCONN     the database cannot be reached or went away (no session,
 *                 SQLSTATE class 08, class 53 insufficient resources, 57P*
 *                 shutdown, cannot connect now, database dropped);
 *   -EAGAIN       the transaction lost a deadlock or a serialization race
 *                 (40P01, 40001): running it again may succeed;
 *   ES_EDUPLICATE a unique constraint refused the row (23505);
 *   ES_EFORMAT    the database refused the data itself (class 22, e.g. 22003
 *                 a sum that overflows its column);
 *   ES_EINTERNAL  anything else (a bug of ours or of the schema).
 * Every failing call writes a sentence into the caller's err buffer (at most
 * errlen bytes, NUL-terminated, one line); nothing is printed or logged.
 *
 * Ownership: a PGconn belongs to whoever connected it (PQfinish); a PGresult
 * handed out through *out belongs to the caller (PQclear).  The module has
 * no state.  Threads: any thread may call any function, one thread at a
 * time per PGconn.
 */
#ifndef ES_PGX_H
#define ES_PGX_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* Attempts of a transaction that lost a deadlock or serialization race (pgx_tx). */
#define PGX_TX_ATTEMPTS 4
/* Bytes of a SHA-256 digest, and of its bytea text form "\x" + 64 hex digits + NUL. */
#define PGX_DIGEST_LEN 32
#define PGX_DIGEST_TEXT (2 + 2 * PGX_DIGEST_LEN + 1)

/*
 * Opens a session on conninfo (a libpq connection string or URI; its own
 * settings win over the defaults connect_timeout=10 and application_name=app),
 * then sets TIME ZONE 'UTC'.  0 with *out, or -ENOTCONN with *out NULL.
 */
int pgx_connect(PGconn **out, const char *conninfo, const char *app, char *err, size_t errlen);

/* True when pg is NULL or its session is no longer usable. */
bool pgx_lost(const PGconn *pg);

/*
 * Runs sql with nparams text parameters ($1..; a NULL entry is SQL NULL);
 * with nparams 0, sql may hold several statements (a migration file) and
 * the last one's result counts.  0 when the statement succeeded (a command, rows, or the start of a COPY);
 * then *out, when out is not NULL, receives the result, else it is freed.
 * On failure *out is NULL, err receives "what: PostgreSQL's message [SQLSTATE
 * ..., class ...]" and the code is pgx_classify()'s.
 */
int pgx_exec(PGconn *pg, const char *sql, int nparams, const char *const *params, PGresult **out,
             const char *what, char *err, size_t errlen);

/*
 * The code for a failed statement: SQLSTATE sqlstate (NULL when libpq gave
 * none) on a session that is lost or not.  See the list above.
 */
int pgx_classify(const char *sqlstate, bool lost);

/* The name of SQLSTATE's class ("connection exception" for 08...), "unknown class" if none. */
const char *pgx_class_name(const char *sqlstate);

/*
 * Writes "what: message [SQLSTATE XXXXX, class NN name]" into err: message
 * is res's error (or pg's when res carries none), on one line.  The
 * bracket is left out when there is no SQLSTATE (e.g. a failed connect).
 */
void pgx_error_text(const PGconn *pg, const PGresult *res, const char *what, char *err, size_t errlen);

/*
 * Runs fn(pg, arg, err, errlen) between BEGIN and COMMIT.  A non-zero return
 * of fn, or a failed COMMIT, rolls the transaction back (when the session
 * still lives) and is returned.  When fn or COMMIT returns -EAGAIN, the whole
 * transaction runs again, up to PGX_TX_ATTEMPTS times in all, so fn must
 * not keep state between calls; after the last attempt -EAGAIN becomes
 * ES_EINTERNAL.  fn reports its own failures in err.
 */
typedef int (*pgx_tx_fn)(PGconn *pg, void *arg, char *err, size_t errlen);
int pgx_tx(PGconn *pg, pgx_tx_fn fn, void *arg, char *err, size_t errlen);

/*
 * Writes n bytes as a bytea literal in hex form ("\x0a1b..."): out holds
 * 2 + 2n + 1 bytes.
 */
void pgx_bytea_text(char *out, const unsigned char *in, size_t n);

/*
 * The stored form of a bearer token: SHA-256 of its len bytes, as bytea text
 * (what tokens.digest holds, migration sql/003).  The same digest as
 * PostgreSQL's sha256(convert_to(value, 'UTF8')) for an ASCII token.
 * 0, or ES_EINTERNAL when OpenSSL fails.
 */
int pgx_token_digest(const char *token, size_t len, char out[PGX_DIGEST_TEXT]);

#endif
