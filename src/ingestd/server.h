/*
 * server.h - the HTTP side of eidastats-ingestd (libmicrohttpd).
 *
 * The server matches each request against its route table (route.h; the
 * service's is in api.h): an unknown path is 404, a wrong method 405 with an Allow
 * header.  Then, in this order: a Content-Length over max_body is 413, the
 * route's authentication (auth.h: 401/403, 503 when the database is down),
 * the body's memory taken from the budget (503 + Retry-After over
 * max_in_flight), and the route's hooks (hreq.h).  The query string is
 * parsed for the routes; any Content-Type is accepted.  One access-log line
 * per request goes to the log (setting access_log); tokens are never logged.
 *
 * Hostile clients: a connection whose request headers are not complete
 * header_timeout seconds after it opened (or after its previous answer) is
 * closed by a watchdog thread, however slowly it keeps sending; one peer
 * address holds at most max_connections_per_ip connections; the routes with
 * a too_many hook (the dataselect queries) run at most
 * max_queries_per_client requests per client (peer.h: the peer, or the
 * address a trusted proxy forwarded), the next one is given to too_many.
 *
 * Settings: each request runs with the snapshot of the ingest_live current
 * when it started (limits, timeout, access_log change on reload); listen,
 * workers, prefix, max_connections, header_timeout and max_connections_per_ip
 * are read once by server_start().
 *
 * Threads: a pool of cfg->workers threads; each request holds a database
 * connection only inside one callback (db.h).
 *
 * Metrics: the server owns the counters of PREFIX/metrics (metrics.h,
 * reachable by the routes as rq->svc->metrics) and records every request in
 * them when it ends (route, status, duration) and, for the routes of node
 * authentication (the submissions), the node's outcome.
 *
 * Ownership: the server borrows live and the pools, which must outlive it.
 */
#ifndef ES_INGEST_SERVER_H
#define ES_INGEST_SERVER_H

#include <stddef.h>

#include "db.h"
#include "route.h"
#include "settings.h"

struct server;

/*
 * Binds the listen address of live's current settings and starts serving
 * the route table routes[0..nroutes) (the service's is api_routes, api.h).
 * write_pool serves tokens and ingest, read_pool the queries.  Returns 0
 * with *out, or -errno / ES_ECONFIG with err set (bad address, port in use,
 * libmicrohttpd refused).
 */
int server_start(struct server **out, const struct route *routes, size_t nroutes,
                 struct ingest_live *live, struct db_pool *write_pool, struct db_pool *read_pool,
                 char *err, size_t errlen);
/* The bound address as "127.0.0.1:PORT" or "[::1]:PORT" (the real port when 0 was asked). */
const char *server_address(const struct server *s);
/* Bytes of request bodies held now (the budget's use). */
size_t server_in_flight(struct server *s);
/* Stops accepting, finishes the requests in progress, frees s. */
void server_stop(struct server *s);

#endif
