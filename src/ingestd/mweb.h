/*
 * mweb.h - the route GET|HEAD PREFIX/metrics: the service's counters
 * (metrics.h) in the Prometheus text format 0.0.4, for the addresses of
 * the setting metrics_allow only (403 for the others; default loopback).
 * Each scrape asks the read pool once for every node's newest payload
 * (payloads.created_at); when the database does not answer, the counters
 * still go out, with database_up 0.
 *
 * No state of its own; runs in the request's worker thread.
 */
#ifndef ES_INGEST_MWEB_H
#define ES_INGEST_MWEB_H

struct hreq;

/* The finish hook of the route (route.h). */
int mweb_finish(struct hreq *rq);

#endif
