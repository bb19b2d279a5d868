/*
 * hreq.h - one HTTP request of eidastats-ingestd as the routes see it, and
 * the one way to answer it.
 *
 * The server (server.c) fills a struct hreq per request: the settings
 * snapshot it runs with, the service (database pools, memory budget), the
 * matched route, the method, the parsed query string (hquery.h; a bad one
 * is not refused by the server: a route that reads parameters answers 400
 * with query_err), the principal (auth.h) and, for routes without a body
 * hook, the body collected within max_body and max_in_flight.  Routes keep
 * their own data in rq->state and free it in their done hook (route.h).
 *
 * Answers: exactly one per request, from a hook, with hreq_text(),
 * hreq_data(), hreq_stream() or hreq_file(); headers staged with hreq_header() before it
 * go out with it.  hreq_stream() sends a body of unknown length (chunked)
 * that a producer callback fills HREQ_STREAM_BLOCK bytes at a time, so a
 * large CSV answer never sits whole in memory.  HEAD gets the status and
 * headers only (libmicrohttpd then never calls the producer).
 *
 * Memory: bodies the server collects are counted in the budget (budget.h);
 * a route that holds more (a decoded body) takes it with hreq_reserve()
 * and answers hreq_busy() (503 + Retry-After) when refused.  Everything
 * reserved is given back when the request ends.
 *
 * Threads: a request lives in one HTTP worker thread; its hooks and its
 * producer run there, one at a time.  A producer must not keep a pooled
 * database connection between calls (another request of the same thread
 * may need one): fetch in bounded batches, e.g. one cursor page per call
 * on a connection acquired and released inside the call.
 */
#ifndef ES_INGEST_HREQ_H
#define ES_INGEST_HREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "budget.h"
#include "climit.h"
#include "db.h"
#include "hquery.h"
#include "metrics.h"
#include "qconn.h"
#include "route.h"
#include "settings.h"

#define HREQ_STREAM_BLOCK (64 * 1024)
#define HREQ_MAX_HEADERS 8
/* Body bytes read and dropped past a limit (or after an early answer)
 * before the connection is closed instead. */
#define HREQ_DISCARD_MAX ((size_t)16 << 20)
#define HREQ_RETRY_AFTER 5      /* Seconds a busy (503) answer asks the client to wait. */

struct MHD_Connection;

/* What every request shares; owned by main, borrowed by the server. */
struct hreq_service {
	struct db_pool *write_pool;   /* Tokens and ingest (the primary). */
	struct db_pool *read_pool;    /* Queries (read_db: possibly a hot standby). */
	struct budget *budget;        /* Bodies in flight, bounded by cfg->max_in_flight. */
	struct metrics *metrics;      /* Counters of PREFIX/metrics (metrics.h). */
	struct climit *climit;        /* Queries per client, bounded by cfg->max_queries_per_client. */
	struct qconn_cache *qconns;   /* Idle sessions of streamed answers (qconn.h); NULL: none kept. */
};

/*
 * Fills buf (cap bytes) with the next part of a streamed answer: the number
 * of bytes written (1..cap), 0 at the end, or a negative code on failure
 * (the connection is then cut: the client sees an incomplete answer).
 */
typedef ssize_t (*hreq_produce_fn)(void *ctx, char *buf, size_t cap);

struct hreq {
	/* For the routes: read-only. */
	const struct ingest_config *cfg;   /* Snapshot this request runs with. */
	const struct hreq_service *svc;
	const struct route *route;
	unsigned method;                   /* ROUTE_* bit. */
	char method_name[8];
	struct hquery query;
	int query_rc;                      /* 0, or ES_EFORMAT / ES_ELIMIT (query_err says why). */
	char query_err[160];
	struct auth_principal who;
	char *body;                        /* Collected body (routes without a body hook). */
	size_t len;
	/* For the routes: theirs. */
	void *state;                       /* Freed by the route's done hook. */
	size_t nstats;                     /* Statistics handled, for the access log. */

	/* The server's and hreq.c's. */
	struct MHD_Connection *conn;
	bool started, responded, too_large, over_budget;
	unsigned status;
	size_t cap, held, discarded, received;
	char *raw_query;
	char *raw_path;                    /* The URL path as sent (not decoded), bounded. */
	size_t nheaders;
	char header_name[HREQ_MAX_HEADERS][48];
	char header_value[HREQ_MAX_HEADERS][160];
	char note[200];
	char path[160];
	char peer[64];                     /* The TCP peer's address. */
	char client[64];                   /* The client (peer.h): the peer, or as a trusted proxy says. */
	bool forwarded;                    /* client came from X-Forwarded-For. */
	bool client_slot;                  /* Holds a slot of climit. */
	struct timespec start;
};

/* A request header's value (NULL when absent); valid for the request's life. */
const char *hreq_get_header(struct hreq *rq, const char *name);

/* Stages a header for the answer; ES_ELIMIT beyond HREQ_MAX_HEADERS or a too long one. */
int hreq_header(struct hreq *rq, const char *name, const char *value);
/* Answers "TEXT\n" as text/plain; the text also goes to the access log (made printable). */
int hreq_text(struct hreq *rq, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answers len bytes of data (copied) as ctype. */
int hreq_data(struct hreq *rq, unsigned status, const char *ctype, const void *data, size_t len);
/*
 * Answers a stream as ctype: produce(ctx, ...) is called until it returns 0
 * or an error; free_ctx(ctx) (may be NULL) when the answer is done or
 * dropped, also when this call fails.
 */
int hreq_stream(struct hreq *rq, unsigned status, const char *ctype, hreq_produce_fn produce,
                void *ctx, void (*free_ctx)(void *ctx));
/*
 * Answers the regular file open at fd, size bytes, as ctype: libmicrohttpd
 * sends it from the file (never read whole into memory) with its
 * Content-Length.  fd belongs to the answer from here on, closed when it is
 * done, also when this call fails.
 */
int hreq_file(struct hreq *rq, unsigned status, const char *ctype, int fd, uint64_t size);
/* Answers 503 "The service is busy" with Retry-After: HREQ_RETRY_AFTER. */
int hreq_busy(struct hreq *rq);

/*
 * Adds a piece of body to rq->body within cfg->max_body and the budget.
 * Past max_body, rq->too_large is set and the rest dropped; past the
 * budget, rq->over_budget.  ES_ELIMIT when the client keeps sending far
 * beyond (the server then closes the connection).
 */
int hreq_collect(struct hreq *rq, const char *data, size_t len);
/* Reserves n bytes of the budget for this request: 0 or ES_ELIMIT. */
int hreq_reserve(struct hreq *rq, size_t n);
/* Gives back n of the bytes this request reserved. */
void hreq_unreserve(struct hreq *rq, size_t n);
/* Bytes this request could still reserve. */
size_t hreq_room(struct hreq *rq);
/*
 * Gives back the request's query slot (climit.h), if it holds one: done when
 * its answer is queued, or a streamed answer's last part produced (before
 * the client can see the end and send its next query), else when it ends.
 */
void hreq_release_slot(struct hreq *rq);
/* Frees the collected body early and gives its bytes back to the budget. */
void hreq_drop_body(struct hreq *rq);

#endif
