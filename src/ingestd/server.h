/*
 * server.h - the HTTP side of eidastats-ingestd (libmicrohttpd).
 *
 * Routes, under the configured prefix P:
 *   POST|PUT P/submit (alias P/dataselectstats)  ingest a payload; POST adds
 *       counters and unions HLLs into existing rows, PUT replaces them.
 *       Token from "Authentication: Bearer T" (upstream's header) or
 *       "Authorization: Bearer T".  Body JSON, or gzip with
 *       "Content-Encoding: gzip".  Answers (text/plain):
 *       200 stored; 400 invalid (the message names the first bad stat and
 *       field); 401 no token; 403 bad or expired token; 409 the same payload
 *       was already stored for this node; 413 a size or count limit; 415 an
 *       unsupported Content-Encoding; 503 database unavailable; 500 a bug.
 *   GET|HEAD P/health  200 when the database answers, 503 otherwise.
 * Anything else is 404, a wrong method 405 with an Allow header.
 * One access-log line per request goes to stderr; tokens are never logged.
 *
 * Threads: a pool of cfg->workers threads; each request holds a database
 * connection only inside one callback (db.h).
 *
 * Ownership: the server borrows cfg and pool, which must outlive it.
 */
#ifndef ES_INGEST_SERVER_H
#define ES_INGEST_SERVER_H

#include <stddef.h>

#include "db.h"
#include "settings.h"

struct server;

/*
 * Binds cfg->listen and starts serving.  Returns 0 with *out, or -errno /
 * ES_ECONFIG with err set (bad address, port in use, libmicrohttpd refused).
 */
int server_start(struct server **out, const struct ingest_config *cfg, struct db_pool *pool,
                 char *err, size_t errlen);
/* The bound address as "127.0.0.1:PORT" or "[::1]:PORT" (the real port when 0 was asked). */
const char *server_address(const struct server *s);
/* Stops accepting, finishes the requests in progress, frees s. */
void server_stop(struct server *s);

#endif
