/*
 * qapi.h - the query API routes of eidastats-ingestd (doc/query-api.md):
 * the hooks that api.c's route table points at.  They wire the query core
 * (query.h, qrender.h, eas.h) to the HTTP layer (hreq.h) and PostgreSQL.
 *
 *   GET P/dataselect/public, POST P/dataselect/restricted   statistics
 *   GET P/nodes, P/networks, P/_isRestricted, P/node_restriction_policy,
 *       P/network_restriction_policy                          restrictions
 *   GET P/_health    upstream's health check (database and grants)
 *   GET P/openapi.yaml, GET P/ (a page with examples), P -> P/ (307)
 *
 * Streaming design.  hreq.h forbids a producer to hold a pooled connection
 * between its calls, and a cursor cannot outlive the transaction of one
 * pooled borrow.  So the policy map is read on the read pool inside the
 * finish hook (borrowed and given back there), and the aggregate runs on a
 * connection of its own, opened from the read pool's conninfo (read_db)
 * for this one answer: read-only, with statement_timeout = query_timeout,
 * in libpq's single-row mode.  The producer pulls one row at a time from
 * it into the renderer (qrender.h), so memory stays bounded by one row and
 * one date's Other buckets whatever the answer's size; the connection is
 * closed (and the query cancelled if still running) when the answer ends
 * or the client goes away.  Queries never touch the write pool, so they
 * never hold up ingestion.  The first result is awaited before the answer
 * starts, so an aggregate that fails or runs out of time before its first
 * row (an aggregate with GROUP BY usually does) gets a proper 500 or 503.
 *
 * No state of its own; every hook runs in the request's worker thread.
 */
#ifndef ES_INGEST_QAPI_H
#define ES_INGEST_QAPI_H

#include <stddef.h>

struct hreq;

int qapi_public_finish(struct hreq *rq);

int qapi_restricted_begin(struct hreq *rq);
int qapi_restricted_body(struct hreq *rq, const char *data, size_t len);
int qapi_restricted_finish(struct hreq *rq);
void qapi_restricted_done(struct hreq *rq);
/*
 * The answer to a query beyond the client's max_queries_per_client (the
 * route's too_many hook, route.h): 429 "Too many concurrent queries ..."
 * as an error of doc/query-api.md (HTML fragment, or JSON with format=json)
 * with Retry-After.
 */
int qapi_too_many(struct hreq *rq);

int qapi_nodes_finish(struct hreq *rq);
int qapi_networks_finish(struct hreq *rq);
int qapi_is_restricted_finish(struct hreq *rq);
int qapi_node_policy_finish(struct hreq *rq);
int qapi_network_policy_finish(struct hreq *rq);
int qapi_health_finish(struct hreq *rq);

int qapi_openapi_finish(struct hreq *rq);
int qapi_index_finish(struct hreq *rq);
int qapi_redirect_finish(struct hreq *rq);

/* The OpenAPI text of doc/openapi.yaml, compiled in; "@PREFIX@" stands for the prefix. */
extern const char qapi_openapi_yaml[];

#endif
