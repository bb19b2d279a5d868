#include "config.h"

#include <stdatomic.h>
#include <time.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "mem.h"
#include "ingestd/hreq.h"
#include "ingestd/server.h"
#include "unit.h"

/* A test service on a free port with its own route table and no database. */

#define STREAM_TOTAL ((size_t)3 << 20)

static atomic_int streams_freed;
static atomic_size_t largest_block;

static int echo_finish(struct hreq *rq)
{
	char text[512] = "";
	size_t o = 0;

	if (rq->query_rc < 0)
		return hreq_text(rq, MHD_HTTP_BAD_REQUEST, "Bad query: %s", rq->query_err);
	for (size_t i = 0; i < rq->query.n && o < sizeof text; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "%s=%s;", rq->query.v[i].name,
		                      rq->query.v[i].value);
	return hreq_text(rq, MHD_HTTP_OK, "%s", text);
}

struct counter {
	size_t sent;
};

static ssize_t produce(void *ctx, char *buf, size_t cap)
{
	struct counter *c = ctx;
	size_t n = STREAM_TOTAL - c->sent < cap ? STREAM_TOTAL - c->sent : cap;

	if (cap > atomic_load(&largest_block))
		atomic_store(&largest_block, cap);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (c->sent + i) % 26);
	c->sent += n;
	return (ssize_t)n;
}

static void free_counter(void *ctx)
{
	free(ctx);
	atomic_fetch_add(&streams_freed, 1);
}

static int stream_finish(struct hreq *rq)
{
	hreq_header(rq, "X-Rows", "many");
	return hreq_stream(rq, MHD_HTTP_OK, "text/csv", produce, es_calloc(1, sizeof(struct counter)),
	                   free_counter);
}

static int collect_finish(struct hreq *rq)
{
	return hreq_text(rq, MHD_HTTP_OK, "got %zu", rq->len);
}

static const struct route routes[] = {
	{ "/echo", ROUTE_GET, ROUTE_AUTH_NONE, NULL, NULL, NULL, echo_finish, NULL, NULL },
	{ "/stream", ROUTE_GET, ROUTE_AUTH_NONE, NULL, NULL, NULL, stream_finish, NULL, NULL },
	{ "/collect", ROUTE_POST, ROUTE_AUTH_NONE, "Only POST.", NULL, NULL, collect_finish, NULL, NULL },
	{ "/node", ROUTE_GET, ROUTE_AUTH_NODE, NULL, NULL, NULL, echo_finish, NULL, NULL },
};

struct answer {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
};

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	struct answer *a = p;

	a->body = es_realloc(a->body, a->len + size * n + 1);
	memcpy(a->body + a->len, data, size * n);
	a->len += size * n;
	a->body[a->len] = '\0';
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	struct answer *a = p;
	size_t k = size * n;

	if (a->hlen + k < sizeof a->headers) {
		memcpy(a->headers + a->hlen, data, k);
		a->hlen += k;
		a->headers[a->hlen] = '\0';
	}
	return k;
}

/* One request; the answer in *a (free a->body). */
static void fetch(const char *base, const char *method, const char *path, const char *body,
                  size_t blen, const char *header, struct answer *a)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512];

	ASSERT(c != NULL);
	memset(a, 0, sizeof *a);
	snprintf(url, sizeof url, "http://%s/t%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
	}
	if (header)
		h = curl_slist_append(h, header);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	ASSERT(curl_easy_perform(c) == CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static struct server *start(struct ingest_live **live)
{
	struct ingest_config c;
	struct server *s;
	char err[256];

	ingest_config_init(&c);
	ASSERT_OK(ingest_config_set(&c, "db", "unused", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "listen", "127.0.0.1:0", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "prefix", "/t", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "workers", "2", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "max_in_flight", "4KiB", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "access_log", "false", err, sizeof err));
	*live = ingest_live_new(&c);
	if (server_start(&s, routes, sizeof routes / sizeof routes[0], *live, NULL, NULL, err,
	                 sizeof err) != 0)
		unit_fail(__FILE__, __LINE__, "server_start: %s", err);
	return s;
}

TEST(ingestd_server_routing)
{
	struct ingest_live *live;
	struct server *s = start(&live);
	const char *base = server_address(s);
	struct answer a;

	fetch(base, "GET", "/nowhere", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 404);
	ASSERT_STREQ(a.body, "Not found\n");
	free(a.body);
	fetch(base, "POST", "/echo", "x", 1, NULL, &a);
	ASSERT_EQ(a.status, 405);
	ASSERT(strstr(a.headers, "Allow: GET, HEAD\r\n") != NULL);
	free(a.body);
	fetch(base, "GET", "/collect", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 405);
	ASSERT_STREQ(a.body, "Only POST.\n");
	ASSERT(strstr(a.headers, "Allow: POST\r\n") != NULL);
	free(a.body);
	fetch(base, "HEAD", "/echo", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 200);
	ASSERT_EQ(a.len, 0);
	free(a.body);
	/* Node routes want a token; none given is 401 without asking the database. */
	fetch(base, "GET", "/node", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 401);
	free(a.body);
	server_stop(s);
	ingest_live_free(live);
}

TEST(ingestd_server_query)
{
	struct ingest_live *live;
	struct server *s = start(&live);
	const char *base = server_address(s);
	struct answer a;

	fetch(base, "GET", "/echo?net=FR&sta=A%42C&net=CH&t=a+b", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 200);
	ASSERT_STREQ(a.body, "net=FR;sta=ABC;net=CH;t=a b;\n");
	free(a.body);
	fetch(base, "GET", "/echo?net=%ZZ", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 400);
	ASSERT(strstr(a.body, "invalid percent escape") != NULL);
	free(a.body);
	server_stop(s);
	ingest_live_free(live);
}

TEST(ingestd_server_stream)
{
	struct ingest_live *live;
	struct server *s = start(&live);
	const char *base = server_address(s);
	struct answer a;

	atomic_store(&streams_freed, 0);
	fetch(base, "GET", "/stream", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 200);
	ASSERT_EQ(a.len, STREAM_TOTAL);
	for (size_t i = 0; i < a.len; i++)
		if (a.body[i] != (char)('a' + i % 26))
			unit_fail(__FILE__, __LINE__, "byte %zu is wrong", i);
	ASSERT(strstr(a.headers, "Content-Type: text/csv") != NULL);
	ASSERT(strstr(a.headers, "X-Rows: many") != NULL);
	/* Produced in bounded blocks, not as one buffer. */
	ASSERT(atomic_load(&largest_block) <= HREQ_STREAM_BLOCK);
	free(a.body);
	/* HEAD: the headers only. */
	fetch(base, "HEAD", "/stream", NULL, 0, NULL, &a);
	ASSERT_EQ(a.status, 200);
	ASSERT_EQ(a.len, 0);
	free(a.body);
	server_stop(s);
	ASSERT_EQ(atomic_load(&streams_freed), 2);
	ingest_live_free(live);
}

TEST(ingestd_server_budget)
{
	struct ingest_live *live;
	struct server *s = start(&live);
	const char *base = server_address(s);
	char big[8192];
	struct answer a;

	memset(big, 'x', sizeof big);
	fetch(base, "POST", "/collect", big, 1000, "Content-Type: application/x-anything", &a);
	ASSERT_EQ(a.status, 200);
	ASSERT_STREQ(a.body, "got 1000\n");
	free(a.body);
	/* Over max_in_flight (4 KiB), announced or chunked. */
	fetch(base, "POST", "/collect", big, sizeof big, NULL, &a);
	ASSERT_EQ(a.status, 503);
	ASSERT(strstr(a.headers, "Retry-After: ") != NULL);
	free(a.body);
	fetch(base, "POST", "/collect", big, sizeof big, "Transfer-Encoding: chunked", &a);
	ASSERT_EQ(a.status, 503);
	ASSERT(strstr(a.headers, "Retry-After: ") != NULL);
	free(a.body);
	/* Everything is given back. */
	fetch(base, "POST", "/collect", big, 4096, NULL, &a);
	ASSERT_EQ(a.status, 200);
	free(a.body);
	/* The request's end is noted just after its answer went out: wait for it (5 s at most). */
	for (int i = 0; i < 500 && server_in_flight(s) != 0; i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	ASSERT_EQ(server_in_flight(s), 0);

	/* A new snapshot (SIGHUP) applies to the next request. */
	{
		struct ingest_config c;
		const struct ingest_config *cur = ingest_live_acquire(live);
		char err[128];
		ingest_config_copy(&c, cur);
		ingest_live_release(live, cur);
		ASSERT_OK(ingest_config_set(&c, "max_in_flight", "64KiB", err, sizeof err));
		ingest_live_replace(live, &c);
	}
	fetch(base, "POST", "/collect", big, sizeof big, NULL, &a);
	ASSERT_EQ(a.status, 200);
	ASSERT_STREQ(a.body, "got 8192\n");
	free(a.body);
	server_stop(s);
	ingest_live_free(live);
}
