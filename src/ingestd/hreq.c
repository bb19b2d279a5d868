#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "error.h"
#include "mem.h"

#include "hreq.h"


/* Copies untrusted text for the log: printable ASCII only, bounded. */
static void log_safe(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < cap; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7F && *src != '"') ? *src : '?';
	dst[i] = '\0';
}

const char *hreq_get_header(struct hreq *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

int hreq_header(struct hreq *rq, const char *name, const char *value)
{
	if (rq->nheaders == HREQ_MAX_HEADERS || strlen(name) >= sizeof rq->header_name[0] ||
	    strlen(value) >= sizeof rq->header_value[0])
		return ES_ELIMIT;
	strcpy(rq->header_name[rq->nheaders], name);
	strcpy(rq->header_value[rq->nheaders], value);
	rq->nheaders++;
	return 0;
}

void hreq_release_slot(struct hreq *rq)
{
	if (!rq->client_slot)
		return;
	climit_give(rq->svc->climit, rq->client);
	rq->client_slot = false;
}

/* Adds the staged headers and content type, queues resp, drops the caller's reference. */
static int queue(struct hreq *rq, unsigned status, const char *ctype, struct MHD_Response *resp,
                 bool streamed)
{
	enum MHD_Result ret;

	if (!resp)
		return -ENOMEM;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	for (size_t i = 0; i < rq->nheaders; i++)
		MHD_add_response_header(resp, rq->header_name[i], rq->header_value[i]);
	rq->nheaders = 0;
	rq->status = status;
	rq->responded = true;
	ret = MHD_queue_response(rq->conn, status, resp);
	MHD_destroy_response(resp);
	/* Before the client can see the end of the answer, so that its next query is not refused. */
	if (!streamed)
		hreq_release_slot(rq);
	return ret == MHD_YES ? 0 : -EIO;
}

int hreq_text(struct hreq *rq, unsigned status, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof text - 2)
		n = (int)sizeof text - 2;
	log_safe(rq->note, sizeof rq->note, text);
	text[n++] = '\n';
	text[n] = '\0';
	return queue(rq, status, "text/plain; charset=utf-8",
	             MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_COPY), false);
}

int hreq_data(struct hreq *rq, unsigned status, const char *ctype, const void *data, size_t len)
{
	return queue(rq, status, ctype,
	             MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY),
	             false);
}

struct stream {
	struct hreq *rq;   /* Alive while libmicrohttpd reads the stream. */
	hreq_produce_fn produce;
	void *ctx;
	void (*free_ctx)(void *ctx);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n;

	(void)pos;
	n = st->produce(st->ctx, buf, max);
	if (n <= 0)
		hreq_release_slot(st->rq);
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n > (ssize_t)max ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	if (st->free_ctx)
		st->free_ctx(st->ctx);
	free(st);
}

int hreq_stream(struct hreq *rq, unsigned status, const char *ctype, hreq_produce_fn produce,
                void *ctx, void (*free_ctx)(void *ctx))
{
	struct stream *st = es_malloc(sizeof *st);
	struct MHD_Response *resp;

	st->rq = rq;
	st->produce = produce;
	st->ctx = ctx;
	st->free_ctx = free_ctx;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HREQ_STREAM_BLOCK, stream_read, st,
	                                         stream_free);
	if (!resp) {
		stream_free(st);
		return -ENOMEM;
	}
	snprintf(rq->note, sizeof rq->note, "streamed");
	return queue(rq, status, ctype, resp, true);
}

int hreq_file(struct hreq *rq, unsigned status, const char *ctype, int fd, uint64_t size)
{
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);

	if (!resp) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(rq->note, sizeof rq->note, "file");
	return queue(rq, status, ctype, resp, false);
}

int hreq_busy(struct hreq *rq)
{
	char secs[16];

	snprintf(secs, sizeof secs, "%d", HREQ_RETRY_AFTER);
	hreq_header(rq, MHD_HTTP_HEADER_RETRY_AFTER, secs);
	return hreq_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
	                 "The service is busy (max_in_flight); try again later");
}

int hreq_reserve(struct hreq *rq, size_t n)
{
	int rc = budget_take(rq->svc->budget, n, rq->cfg->max_in_flight);

	if (rc == 0)
		rq->held += n;
	return rc;
}

void hreq_unreserve(struct hreq *rq, size_t n)
{
	if (n > rq->held)
		n = rq->held;
	budget_give(rq->svc->budget, n);
	rq->held -= n;
}

size_t hreq_room(struct hreq *rq)
{
	return budget_room(rq->svc->budget, rq->cfg->max_in_flight);
}

void hreq_drop_body(struct hreq *rq)
{
	free(rq->body);
	rq->body = NULL;
	hreq_unreserve(rq, rq->cap);
	rq->cap = 0;
	rq->len = 0;
}

/* Makes room for need bytes of body: 0, or ES_ELIMIT when the budget refuses. */
static int grow(struct hreq *rq, size_t need)
{
	size_t max = rq->cfg->max_body, cap = rq->cap ? rq->cap : 64 * 1024;

	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	if (cap > max)
		cap = max;
	if (hreq_reserve(rq, cap - rq->cap) < 0) {
		/* Just what is needed, when doubling asks too much. */
		cap = need;
		if (hreq_reserve(rq, cap - rq->cap) < 0)
			return ES_ELIMIT;
	}
	rq->body = es_realloc(rq->body, cap);
	rq->cap = cap;
	return 0;
}

int hreq_collect(struct hreq *rq, const char *data, size_t n)
{
	size_t max = rq->cfg->max_body;

	rq->received += n;
	/*
	 * libmicrohttpd cannot answer in the middle of a body: drop the rest
	 * and answer at its end, or close the connection when the client keeps
	 * sending far beyond the limit.
	 */
	if (!rq->too_large && !rq->over_budget && n > max - rq->len)
		rq->too_large = true;
	if (!rq->too_large && !rq->over_budget && rq->len + n > rq->cap && grow(rq, rq->len + n) < 0)
		rq->over_budget = true;
	if (rq->too_large || rq->over_budget) {
		rq->discarded += n;
		if (rq->discarded > HREQ_DISCARD_MAX && rq->discarded - HREQ_DISCARD_MAX > max)
			return ES_ELIMIT;
		return 0;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	return 0;
}
