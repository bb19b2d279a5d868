/*
 * api.h - the routes of eidastats-ingestd (the table route.h describes).
 *
 * Under the configured prefix P:
 *   POST|PUT P/submit (alias P/dataselectstats)  ingest a payload; POST adds
 *       counters and unions HLLs into existing rows, PUT replaces them.
 *       Node bearer token (auth.h).  Body JSON, or gzip with
 *       "Content-Encoding: gzip"; any Content-Type.  Answers (text/plain):
 *       200 stored; 400 invalid (the message names the first bad stat and
 *       field); 401 no token; 403 bad or expired token; 409 the same payload
 *       was already stored for this node; 413 a size or count limit; 415 an
 *       unsupported Content-Encoding; 503 database unavailable, or busy
 *       (max_in_flight, with Retry-After); 500 a bug.
 *   GET|HEAD P/health  200 "OK" when the database answers, 503 otherwise.
 *   The query API (qapi.h, doc/query-api.md): GET P/dataselect/public,
 *       POST P/dataselect/restricted (EIDA token body; 405 with upstream's
 *       HTML text for other methods), GET P/nodes, P/networks,
 *       P/_isRestricted, P/node_restriction_policy,
 *       P/network_restriction_policy, P/_health, P/openapi.yaml, P/ (a page
 *       with examples), and P itself redirected (307) to P/.
 *   GET|HEAD P/reports/...  the report directory (rweb.h).
 *   GET|HEAD P/metrics  Prometheus metrics, for metrics_allow (mweb.h).
 *
 * To add a route: write its hooks (hreq.h) and add one entry to api_routes
 * in api.c.  The table is constant; any thread may read it.
 */
#ifndef ES_INGEST_API_H
#define ES_INGEST_API_H

#include <stddef.h>

#include "route.h"

extern const struct route api_routes[];
extern const size_t api_nroutes;

#endif
