#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "error.h"
#include "mem.h"

#include "auth.h"
#include "hreq.h"
#include "peer.h"
#include "route.h"
#include "server.h"


#define MSG_NO_TOKEN "No token provided. Permission denied"
#define MSG_BAD_TOKEN "No valid token provided"
#define MSG_UNAVAILABLE "The database is unavailable; try again later"

struct conn_slot;

struct server {
	const struct route *routes;
	size_t nroutes;
	struct ingest_live *live;
	struct hreq_service svc;
	struct budget budget;
	struct metrics *metrics;
	struct climit *climit;
	struct MHD_Daemon *mhd;
	char *prefix;
	char address[INET6_ADDRSTRLEN + 16];
	/* The header deadline (header_timeout): every open connection, and a
	 * thread that cuts those whose headers are late. */
	pthread_mutex_t conns_lock;
	pthread_cond_t conns_wake;
	struct conn_slot *conns;
	unsigned header_timeout;
	bool stopping, watching;
	pthread_t watchdog;
};

/* Copies untrusted text for the log: printable ASCII only, bounded. */
static void log_safe(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < cap; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7F && *src != '"') ? *src : '?';
	dst[i] = '\0';
}

static void peer_of(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	snprintf(out, cap, "-");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

#define MAX_XFF 16

struct xff {
	const char *v[MAX_XFF];
	size_t n;
};

static enum MHD_Result xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct xff *x = cls;

	(void)kind;
	if (strcasecmp(key, "X-Forwarded-For") == 0 && value && x->n < MAX_XFF)
		x->v[x->n++] = value;
	return MHD_YES;
}

/* The client address (peer.h) of rq, from its peer and X-Forwarded-For. */
static void client_of(struct hreq *rq)
{
	struct xff x = { .n = 0 };
	char client[PEER_ADDR_LEN];

	if (rq->cfg->proxies.n > 0)
		MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, xff_collect, &x);
	rq->forwarded = peer_client(&rq->cfg->proxies, rq->peer, x.v, x.n, client, sizeof client);
	log_safe(rq->client, sizeof rq->client, client);
}

/*
 * What a connection holds between requests: the request that libmicrohttpd
 * announced (request_new) but has not yet handed to the handler.  A request
 * whose headers overflow the connection's memory is dropped by libmicrohttpd
 * without the completion callback; the connection's close frees it then.
 *
 * And its header deadline: libmicrohttpd's own timeout is reset by every
 * byte, so headers sent a byte at a time would hold a connection for ever.
 * Until its headers are in, a connection is given header_timeout seconds
 * from its start (or from its previous answer); the watchdog then shuts its
 * socket down, and libmicrohttpd closes it.  The slot list is under
 * conns_lock, and a slot leaves it in the close notification, before
 * libmicrohttpd closes the socket: the watchdog never touches a reused one.
 */
struct conn_slot {
	struct hreq *pending;
	struct conn_slot *prev, *next;
	int fd;
	bool waiting;              /* Its headers are not in yet. */
	struct timespec deadline;  /* CLOCK_MONOTONIC. */
};

static void deadline_in(struct timespec *t, unsigned secs)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += secs;
}

static bool passed(const struct timespec *t, const struct timespec *now)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/* Marks the connection of slot as waiting for headers (from now) or not. */
static void slot_waiting(struct server *s, struct conn_slot *slot, bool waiting)
{
	if (!slot)
		return;
	pthread_mutex_lock(&s->conns_lock);
	slot->waiting = waiting;
	if (waiting)
		deadline_in(&slot->deadline, s->header_timeout);
	pthread_mutex_unlock(&s->conns_lock);
}

static void *watchdog(void *arg)
{
	struct server *s = arg;
	struct timespec now, wake;

	pthread_mutex_lock(&s->conns_lock);
	while (!s->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (struct conn_slot *c = s->conns; c; c = c->next)
			if (c->waiting && c->fd >= 0 && passed(&c->deadline, &now)) {
				shutdown(c->fd, SHUT_RDWR);
				c->waiting = false;   /* Once is enough. */
			}
		wake = now;
		wake.tv_nsec += 250 * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->conns_wake, &s->conns_lock, &wake);
	}
	pthread_mutex_unlock(&s->conns_lock);
	return NULL;
}

static struct conn_slot *conn_slot(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void request_free(struct server *s, struct hreq *rq);

static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	struct conn_slot *slot = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		slot = es_calloc(1, sizeof *slot);
		slot->fd = ci ? ci->connect_fd : -1;
		pthread_mutex_lock(&s->conns_lock);
		slot->waiting = true;
		deadline_in(&slot->deadline, s->header_timeout);
		slot->next = s->conns;
		if (s->conns)
			s->conns->prev = slot;
		s->conns = slot;
		pthread_mutex_unlock(&s->conns_lock);
		*socket_context = slot;
		return;
	}
	if (!slot)
		return;
	pthread_mutex_lock(&s->conns_lock);
	if (slot->prev)
		slot->prev->next = slot->next;
	else
		s->conns = slot->next;
	if (slot->next)
		slot->next->prev = slot->prev;
	pthread_mutex_unlock(&s->conns_lock);
	if (slot->pending)
		request_free(s, slot->pending);
	free(slot);
	*socket_context = NULL;
}

/* Called by libmicrohttpd with the raw URI before anything else: the request starts here. */
static void *request_new(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct server *s = cls;
	struct hreq *rq = es_calloc(1, sizeof *rq);
	const char *q = uri ? strchr(uri, '?') : NULL;
	struct conn_slot *slot = conn_slot(conn);

	if (slot) {
		/* One request at a time per connection: an earlier one still here was dropped. */
		if (slot->pending)
			request_free(s, slot->pending);
		slot->pending = rq;
	}

	rq->svc = &s->svc;
	rq->conn = conn;
	hquery_init(&rq->query);
	clock_gettime(CLOCK_MONOTONIC, &rq->start);
	/* One byte more than the parser takes, so that it can refuse a longer query. */
	if (q)
		rq->raw_query = es_strndup(q + 1, HQUERY_MAX_LEN + 1);
	if (uri) {
		/* Bounded like the query: no route takes a longer path. */
		size_t plen = q ? (size_t)(q - uri) : strlen(uri);
		rq->raw_path = es_strndup(uri, plen < HQUERY_MAX_LEN ? plen : HQUERY_MAX_LEN);
	}
	return rq;
}

static enum MHD_Result result(int rc)
{
	return rc < 0 ? MHD_NO : MHD_YES;
}

/* Finds the principal the route asks for; 0, or answered (> 0), or < 0. */
static int authenticate(struct hreq *rq)
{
	char err[512];
	int rc;

	if (rq->route->auth == ROUTE_AUTH_NONE)
		return 0;
	rc = auth_node(rq->svc->write_pool, hreq_get_header(rq, "Authentication"),
	               hreq_get_header(rq, MHD_HTTP_HEADER_AUTHORIZATION), &rq->who, err, sizeof err);
	if (rc == 0)
		return 0;
	if (rc == -EACCES)
		rc = hreq_text(rq, MHD_HTTP_UNAUTHORIZED, MSG_NO_TOKEN);
	else if (rc == ES_EAUTH)
		rc = hreq_text(rq, MHD_HTTP_FORBIDDEN, MSG_BAD_TOKEN);
	else if (rc == -ENOTCONN) {
		ingest_log("%s", err);
		rc = hreq_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, MSG_UNAVAILABLE);
	} else {
		ingest_log("%s", err);
		rc = hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error");
	}
	return rc < 0 ? rc : 1;
}

/* The headers are in: route, limits, principal, then the route's begin hook. */
static int begin(struct server *s, struct hreq *rq, const char *url, const char *method)
{
	const struct route *r;
	const char *clen;
	unsigned allowed;
	int rc;

	rq->started = true;
	slot_waiting(s, conn_slot(rq->conn), false);
	rq->cfg = ingest_live_acquire(s->live);
	MHD_set_connection_option(rq->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)rq->cfg->timeout);
	log_safe(rq->method_name, sizeof rq->method_name, method);
	log_safe(rq->path, sizeof rq->path, url);
	peer_of(rq->conn, rq->peer, sizeof rq->peer);
	client_of(rq);
	rq->method = route_method(method);
	if (rq->raw_query)
		rq->query_rc = hquery_parse(&rq->query, rq->raw_query, strlen(rq->raw_query),
		                            rq->query_err, sizeof rq->query_err);

	rc = route_match(s->routes, s->nroutes, s->prefix, url, rq->method, &r, &allowed);
	if (rc == -ENOENT)
		return 0;   /* 404 once the request is complete, which keeps the connection open. */
	if (rc == -EOPNOTSUPP) {
		char allow[64];
		route_allow(allowed, allow, sizeof allow);
		hreq_header(rq, MHD_HTTP_HEADER_ALLOW, allow);
		/* A text that is an HTML fragment (upstream's, for the query routes) goes as HTML. */
		if (r->wrong_method && strncmp(r->wrong_method, "<h1>", 4) == 0)
			return hreq_data(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "text/html; charset=UTF-8",
			                 r->wrong_method, strlen(r->wrong_method));
		return hreq_text(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "%s",
		                 r->wrong_method ? r->wrong_method : "Method not allowed");
	}
	rq->route = r;
	if (r->too_many) {
		if (climit_take(s->climit, rq->client, rq->cfg->max_queries_per_client) < 0)
			return r->too_many(rq);
		rq->client_slot = true;
	}

	/* A body known to be too large is refused before it is read (the connection then closes). */
	clen = hreq_get_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n = 0;
	if (clen) {
		char *end;
		errno = 0;
		n = strtoull(clen, &end, 10);
		if (errno != 0 || *end != '\0')
			n = 0;
	}
	if (n > rq->cfg->max_body)
		return hreq_text(rq, MHD_HTTP_CONTENT_TOO_LARGE, "The body is larger than %zu bytes",
		                 rq->cfg->max_body);
	if ((rc = authenticate(rq)) != 0)
		return rc < 0 ? rc : 0;
	/* The body's memory is taken from the budget at once when its length is known. */
	if (n > 0 && !r->body) {
		if (hreq_reserve(rq, (size_t)n) < 0)
			return hreq_busy(rq);
		rq->body = es_malloc((size_t)n);
		rq->cap = (size_t)n;
	}
	if (r->begin && (rc = r->begin(rq)) < 0 && !rq->responded)
		return hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error");
	return rc < 0 ? rc : 0;
}

/* A piece of body: to the route, or dropped after an answer or without a route. */
static int body(struct hreq *rq, const char *data, size_t n)
{
	if (rq->responded || !rq->route) {
		rq->received += n;
		rq->discarded += n;
		/* Also after an answer: a body without end is not read for ever. */
		if (rq->discarded > HREQ_DISCARD_MAX) {
			if (!rq->responded) {
				snprintf(rq->note, sizeof rq->note, "body without a route beyond %zu "
				         "bytes: connection closed", HREQ_DISCARD_MAX);
				rq->status = MHD_HTTP_NOT_FOUND;
			}
			return ES_ELIMIT;
		}
		return 0;
	}
	if (rq->route->body)
		return rq->route->body(rq, data, n);
	if (hreq_collect(rq, data, n) < 0) {
		snprintf(rq->note, sizeof rq->note, "body far beyond %zu bytes: connection closed",
		         rq->cfg->max_body);
		rq->status = rq->too_large ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_SERVICE_UNAVAILABLE;
		return ES_ELIMIT;
	}
	return 0;
}

/* The request is complete: the route's answer. */
static int finish(struct hreq *rq)
{
	int rc;

	if (!rq->route)
		return hreq_text(rq, MHD_HTTP_NOT_FOUND, "Not found");
	if (rq->too_large)
		return hreq_text(rq, MHD_HTTP_CONTENT_TOO_LARGE, "The body is larger than %zu bytes",
		                 rq->cfg->max_body);
	if (rq->over_budget)
		return hreq_busy(rq);
	rc = rq->route->finish(rq);
	if (!rq->responded) {
		if (rc < 0)
			ingest_log("%s %s: %s", rq->method_name, rq->path, es_strerror(rc));
		return hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error");
	}
	return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct hreq *rq = *con_cls;

	(void)version;
	if (!rq) {
		rq = request_new(s, NULL, conn);
		*con_cls = rq;
	}
	if (!rq->started)
		return result(begin(s, rq, url, method));
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return result(body(rq, upload_data, n));
	}
	if (rq->responded)
		return MHD_YES;
	return result(finish(rq));
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct hreq *rq = *con_cls;
	struct timespec now;
	long ms;

	if (!rq)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - rq->start.tv_sec) * 1000 + (now.tv_nsec - rq->start.tv_nsec) / 1000000;
	if (rq->started) {
		metrics_request(s->metrics, rq->route, rq->status,
		                (double)(now.tv_sec - rq->start.tv_sec) +
		                (double)(now.tv_nsec - rq->start.tv_nsec) / 1e9);
		/* A submission (a route of node authentication) that found its node. */
		if (rq->route && rq->route->auth == ROUTE_AUTH_NODE && rq->who.kind == AUTH_NODE &&
		    rq->status)
			metrics_submission(s->metrics, rq->who.node_id, rq->who.name, rq->status, rq->nstats,
			                   (double)time(NULL));
	}
	if (rq->started && rq->cfg->access_log) {
		ingest_log("access %s%s%s \"%s %s\" %u in=%zu stats=%zu node=%d ms=%ld%s \"%s\"",
		           rq->client, rq->forwarded ? " via=" : "", rq->forwarded ? rq->peer : "",
		           rq->method_name, rq->path, rq->status, rq->received, rq->nstats,
		           rq->who.node_id, ms, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted",
		           rq->note);
	}
	/* A kept-alive connection waits for its next request's headers under header_timeout. */
	if (rq->started && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, s->header_timeout);
		slot_waiting(s, conn_slot(conn), true);
	}
	request_free(s, rq);
	*con_cls = NULL;
}

static void request_free(struct server *s, struct hreq *rq)
{
	struct conn_slot *slot = conn_slot(rq->conn);

	if (slot && slot->pending == rq)
		slot->pending = NULL;
	if (rq->route && rq->route->done)
		rq->route->done(rq);
	hreq_release_slot(rq);
	if (rq->cfg)
		hreq_unreserve(rq, rq->held);
	free(rq->body);
	free(rq->raw_query);
	free(rq->raw_path);
	hquery_fini(&rq->query);
	if (rq->cfg)
		ingest_live_release(s->live, rq->cfg);
	free(rq);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char text[512];
	size_t n;

	vsnprintf(text, sizeof text, fmt, ap);
	n = strlen(text);
	while (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	ingest_log("http: %s", text);
}

/* Splits "HOST:PORT", "[V6]:PORT", "*:PORT" or ":PORT" (any address). */
static int split_listen(const char *text, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon;
	size_t hlen;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return ES_ECONFIG;
		hlen = (size_t)(close - text - 1);
		text++;
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return ES_ECONFIG;
		hlen = (size_t)(colon - text);
	}
	if (hlen >= hcap || strlen(colon + 1) >= pcap || colon[1] == '\0')
		return ES_ECONFIG;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	strcpy(port, colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return ES_ECONFIG;
	return 0;
}

static int open_listener(const char *listen_text, int *family, char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, gai, rc;

	if (split_listen(listen_text, host, sizeof host, port, sizeof port) < 0) {
		snprintf(err, errlen, "listen: '%s' is not ADDR:PORT", listen_text);
		return ES_ECONFIG;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
	gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gai != 0 && !host[0]) {
		hints.ai_family = AF_INET;
		gai = getaddrinfo(NULL, port, &hints, &res);
	}
	if (gai != 0) {
		snprintf(err, errlen, "listen: %s: %s", listen_text, gai_strerror(gai));
		return ES_ECONFIG;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "listen: socket: %s", strerror(errno));
		freeaddrinfo(res);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (res->ai_family == AF_INET6) {
		/* A wildcard v6 socket also takes IPv4; a specific v6 address only itself. */
		int v6only = host[0] ? 1 : 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
	}
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		rc = -errno;
		snprintf(err, errlen, "listen: %s: %s", listen_text, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return rc;
	}
	*family = res->ai_family;
	freeaddrinfo(res);
	return fd;
}

static void format_address(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN];

	snprintf(out, cap, "?");
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		snprintf(out, cap, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

int server_start(struct server **out, const struct route *routes, size_t nroutes,
                 struct ingest_live *live, struct db_pool *write_pool, struct db_pool *read_pool,
                 char *err, size_t errlen)
{
	const struct ingest_config *cfg = ingest_live_acquire(live);
	struct server *s;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int family = AF_INET, fd;

	*out = NULL;
	fd = open_listener(cfg->listen, &family, err, errlen);
	if (fd < 0) {
		ingest_live_release(live, cfg);
		return fd;
	}
	s = es_calloc(1, sizeof *s);
	s->routes = routes;
	s->nroutes = nroutes;
	s->live = live;
	budget_init(&s->budget);
	s->svc.write_pool = write_pool;
	s->svc.read_pool = read_pool;
	s->svc.budget = &s->budget;
	s->metrics = metrics_new(routes, nroutes, (double)time(NULL));
	s->svc.metrics = s->metrics;
	s->climit = climit_new(cfg->max_connections);
	s->svc.climit = s->climit;
	s->svc.qconns = qconn_new(cfg->workers);
	s->prefix = es_strdup(cfg->prefix);
	s->header_timeout = cfg->header_timeout;
	pthread_mutex_init(&s->conns_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->conns_wake, &ca);
	pthread_condattr_destroy(&ca);
	format_address(fd, s->address, sizeof s->address);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The logger comes first so that it also receives the messages about later options. */
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
	                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	                          MHD_OPTION_LISTEN_SOCKET, fd,
	                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->workers > 1 ? cfg->workers : 0),
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->header_timeout,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
	                          MHD_OPTION_URI_LOG_CALLBACK, request_new, s,
	                          MHD_OPTION_NOTIFY_COMPLETED, completed, s,
	                          MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s,
	                          MHD_OPTION_END);
	ingest_live_release(live, cfg);
	if (!s->mhd) {
		snprintf(err, errlen, "libmicrohttpd could not start on %s", s->address);
		close(fd);
		server_stop(s);
		return ES_ECONFIG;
	}
	if ((errno = pthread_create(&s->watchdog, NULL, watchdog, s)) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "header watchdog thread: %s", strerror(errno));
		server_stop(s);
		return rc;
	}
	s->watching = true;
	*out = s;
	return 0;
}

const char *server_address(const struct server *s)
{
	return s->address;
}

size_t server_in_flight(struct server *s)
{
	return budget_used(&s->budget);
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	if (s->watching) {
		pthread_mutex_lock(&s->conns_lock);
		s->stopping = true;
		pthread_cond_signal(&s->conns_wake);
		pthread_mutex_unlock(&s->conns_lock);
		pthread_join(s->watchdog, NULL);
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	pthread_cond_destroy(&s->conns_wake);
	pthread_mutex_destroy(&s->conns_lock);
	climit_free(s->climit);
	/* After the daemon: every answer has given its session back or closed it. */
	qconn_free(s->svc.qconns);
	free(s->prefix);
	metrics_free(s->metrics);
	free(s);
}
