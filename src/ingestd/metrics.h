/*
 * metrics.h - the counters of eidastats-ingestd and their Prometheus text
 * form (format 0.0.4), answered at PREFIX/metrics (mweb.h).
 *
 * Names (every one prefixed eidastats_ingestd_):
 *   node_last_submission_timestamp_seconds{node}   gauge: the newest accepted
 *       payload, the later of payloads.created_at in the database (so it
 *       survives restarts) and what this process accepted since it started;
 *       0 for a node that never sent one.
 *   node_payloads_accepted_total{node}               counter, since start
 *   node_payloads_refused_total{node,reason}         counter, since start; reason
 *       malformed (400), duplicate (409), too_large (413), encoding (415),
 *       unavailable (503), error (other statuses).  Refusals before a node is
 *       known (401/403) count only in requests_total.
 *   node_statistics_stored_total{node}               counter: statistics of accepted payloads
 *   requests_total{route,code}                       counter: route is the route's path
 *       under the prefix ("/submit", "/reports" ROUTE_TREE_MARK), "none" for
 *       unknown paths and wrong methods
 *   request_duration_seconds{route}                  histogram (METRICS_BUCKETS)
 *   db_connections_in_use{pool} / db_connections{pool}   gauges, pool write or read
 *   in_flight_bytes / in_flight_limit_bytes          gauges: the memory budget (budget.h)
 *   database_up                                      gauge: 1 when this scrape's query answered
 *   start_time_seconds                               gauge
 * The per-node counters are kept for at most METRICS_MAX_NODES nodes.
 *
 * Ownership: metrics_new() returns a struct the server owns and frees with
 * metrics_free(); it borrows the route table.  Thread-safe: one mutex around
 * every counter, so any worker thread may record and render.
 */
#ifndef ES_INGEST_METRICS_H
#define ES_INGEST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"

#define METRICS_MAX_NODES 1024
#define METRICS_MAX_CODES 16   /* Distinct statuses per route; more go to code="other". */

struct route;
struct metrics;

/* The counters of routes[0..nroutes) (routes sharing a path share a label). */
struct metrics *metrics_new(const struct route *routes, size_t nroutes, double start_time);
void metrics_free(struct metrics *m);

/* One finished request: route r (NULL when none matched), its status and duration. */
void metrics_request(struct metrics *m, const struct route *r, unsigned status, double seconds);
/* One submission of node (id, name) answered status: accepted when 200, with nstats
 * statistics stored, refused otherwise; at is its time (seconds since the epoch). */
void metrics_submission(struct metrics *m, int node_id, const char *name, unsigned status,
                        size_t nstats, double at);

/* A node as the database knows it (for the last-submission gauge). */
struct metrics_dbnode {
	const char *name;
	double last;          /* max(payloads.created_at), seconds; 0: none. */
};

/* What the server measures at the scrape. */
struct metrics_gauges {
	unsigned write_in_use, write_size, read_in_use, read_size;
	uint64_t in_flight, in_flight_limit;
	int db_up;                              /* The database query below answered. */
	const struct metrics_dbnode *nodes;     /* Every node of the database (db_up). */
	size_t nnodes;
};

/* Appends the whole exposition to w: 0, or the writer's error (ES_ELIMIT). */
int metrics_render(struct metrics *m, const struct metrics_gauges *g, jsonw_t *w);

#endif
