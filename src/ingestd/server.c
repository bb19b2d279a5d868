#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
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
#include "submit.h"

#include "server.h"

/* How much of an oversized body is read and dropped so that the client gets its 413. */
#define DISCARD_MAX ((size_t)16 << 20)

#define MSG_OK "Statistic successfully ingested to database!"
#define MSG_DUPLICATE "This statistic already exists on the server. Refusing to merge"
#define MSG_NO_TOKEN "No token provided. Permission denied"
#define MSG_BAD_TOKEN "No valid token provided"
#define MSG_UNAVAILABLE "The database is unavailable; try again later"

struct server {
	const struct ingest_config *cfg;
	struct db_pool *pool;
	struct MHD_Daemon *mhd;
	char address[INET6_ADDRSTRLEN + 16];
	char *submit_path;
	char *alias_path;
	char *health_path;
};

enum route { ROUTE_NONE, ROUTE_SUBMIT, ROUTE_HEALTH };

struct request {
	enum route route;
	bool overwrite;
	bool gzip;
	bool responded;
	bool too_large;         /* The body passed max_body: the rest is dropped. */
	size_t discarded;
	unsigned status;
	int node_id;
	char method[8];
	char path[160];
	char peer[INET6_ADDRSTRLEN + 8];
	char *body;
	size_t len;
	size_t cap;
	size_t nstats;
	struct timespec start;
	char note[200];
};

/* Copies untrusted text for the log: printable ASCII only, bounded. */
static void log_safe(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < cap; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7F && *src != '"') ? *src : '?';
	dst[i] = '\0';
}

static enum MHD_Result respond(struct MHD_Connection *conn, struct request *rq, unsigned status,
                               const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum MHD_Result respond(struct MHD_Connection *conn, struct request *rq, unsigned status,
                               const char *allow, const char *fmt, ...)
{
	char text[1024];
	struct MHD_Response *resp;
	enum MHD_Result ret;
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
	rq->status = status;
	rq->responded = true;
	resp = MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Finds "Bearer TOKEN" in a header value; returns the token's length (0: none). */
static size_t bearer(const char *value, const char **token)
{
	const char *p = value, *end;

	if (!p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end && *end != ' ' && *end != '\t')
		end++;
	*token = p;
	return (size_t)(end - p);
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

static enum MHD_Result begin_submit(struct server *s, struct MHD_Connection *conn, struct request *rq)
{
	const char *enc, *clen, *token = NULL;
	size_t toklen;
	char err[512];
	int rc;

	if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "PUT") != 0)
		return respond(conn, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "POST, PUT",
		               "Only PUT or POST method allowed.");
	rq->overwrite = strcmp(rq->method, "PUT") == 0;

	enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (enc && (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0))
		rq->gzip = true;
	else if (enc && *enc && strcasecmp(enc, "identity") != 0)
		return respond(conn, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
		               "Unsupported Content-Encoding (use gzip or none)");

	clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(clen, &end, 10);
		if (errno == 0 && *end == '\0' && n > s->cfg->max_body)
			return respond(conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
			               "The body is larger than %zu bytes", s->cfg->max_body);
	}

	toklen = bearer(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authentication"), &token);
	if (toklen == 0)
		toklen = bearer(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                            MHD_HTTP_HEADER_AUTHORIZATION), &token);
	if (toklen == 0)
		return respond(conn, rq, MHD_HTTP_UNAUTHORIZED, NULL, MSG_NO_TOKEN);

	struct db_conn *db = db_acquire(s->pool);
	rc = db_authenticate(db, token, toklen, &rq->node_id, err, sizeof err);
	db_release(s->pool, db);
	if (rc == ES_EAUTH)
		return respond(conn, rq, MHD_HTTP_FORBIDDEN, NULL, MSG_BAD_TOKEN);
	if (rc == -ENOTCONN) {
		ingest_log("%s", err);
		return respond(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, MSG_UNAVAILABLE);
	}
	if (rc < 0) {
		ingest_log("%s", err);
		return respond(conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "Internal error");
	}
	return MHD_YES;
}

static enum MHD_Result finish_submit(struct server *s, struct MHD_Connection *conn, struct request *rq)
{
	struct submit_limits lim = { .max_stats = s->cfg->max_stats, .max_days = SUBMIT_DEFAULT_MAX_DAYS };
	struct submit_payload p;
	char *plain = NULL;
	const char *text = rq->body ? rq->body : "";
	size_t len = rq->len;
	char err[512];
	enum MHD_Result ret;
	int rc;

	if (rq->gzip) {
		rc = submit_gunzip(rq->body, rq->len, s->cfg->max_decompressed, &plain, &len);
		if (rc == ES_ELIMIT)
			return respond(conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
			               "The decompressed body is larger than %zu bytes", s->cfg->max_decompressed);
		if (rc < 0)
			return respond(conn, rq, MHD_HTTP_BAD_REQUEST, NULL,
			               "The body is not valid gzip: %s", es_strerror(rc));
		text = plain;
	} else if (len > s->cfg->max_decompressed) {
		return respond(conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		               "The body is larger than %zu bytes", s->cfg->max_decompressed);
	}
	/* The raw body is no longer needed; give its memory back before parsing. */
	if (plain) {
		free(rq->body);
		rq->body = NULL;
	}

	submit_init(&p);
	rc = submit_parse(&p, text, len, &lim, err, sizeof err);
	free(plain);
	if (rc == ES_ELIMIT)
		return respond(conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "Payload too large: %s", err);
	if (rc < 0)
		return respond(conn, rq, MHD_HTTP_BAD_REQUEST, NULL, "Malformed payload: %s", err);
	rq->nstats = p.nstats;

	struct db_conn *db = db_acquire(s->pool);
	rc = db_ingest(db, rq->node_id, rq->overwrite, rq->method, &p, err, sizeof err);
	db_release(s->pool, db);
	submit_fini(&p);
	switch (rc) {
	case 0:
		ret = respond(conn, rq, MHD_HTTP_OK, NULL, MSG_OK);
		break;
	case ES_EDUPLICATE:
		ret = respond(conn, rq, MHD_HTTP_CONFLICT, NULL, MSG_DUPLICATE);
		break;
	case ES_EFORMAT:
		ret = respond(conn, rq, MHD_HTTP_BAD_REQUEST, NULL, "Refused by the database: %s", err);
		break;
	case -ENOTCONN:
		ingest_log("%s", err);
		ret = respond(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, MSG_UNAVAILABLE);
		break;
	default:
		ingest_log("ingest failed: %s", err);
		ret = respond(conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		              "Error on statistics ingestion; nothing was stored");
		break;
	}
	return ret;
}

static enum MHD_Result health(struct server *s, struct MHD_Connection *conn, struct request *rq)
{
	char err[512];
	int rc;

	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)
		return respond(conn, rq, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD", "Only GET allowed.");
	struct db_conn *db = db_acquire(s->pool);
	rc = db_health(db, err, sizeof err);
	db_release(s->pool, db);
	if (rc < 0) {
		ingest_log("health: %s", err);
		return respond(conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, MSG_UNAVAILABLE);
	}
	return respond(conn, rq, MHD_HTTP_OK, NULL, "OK");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct request *rq = *con_cls;

	if (!rq) {
		rq = es_calloc(1, sizeof *rq);
		*con_cls = rq;
		clock_gettime(CLOCK_MONOTONIC, &rq->start);
		log_safe(rq->method, sizeof rq->method, method);
		log_safe(rq->path, sizeof rq->path, url);
		peer_of(conn, rq->peer, sizeof rq->peer);
		if (strcmp(url, s->submit_path) == 0 || strcmp(url, s->alias_path) == 0)
			rq->route = ROUTE_SUBMIT;
		else if (strcmp(url, s->health_path) == 0)
			rq->route = ROUTE_HEALTH;
		/*
		 * A submission can be refused before its body is read (the
		 * connection is then closed); everything else is answered once the
		 * request is complete, which keeps the connection open.
		 */
		if (rq->route == ROUTE_SUBMIT)
			return begin_submit(s, conn, rq);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rq->responded || rq->route != ROUTE_SUBMIT)
			return MHD_YES;
		/*
		 * libmicrohttpd cannot answer in the middle of a body: drop the rest
		 * and answer 413 at its end, or close the connection when the
		 * client keeps sending far beyond the limit.
		 */
		if (rq->too_large || n > s->cfg->max_body - rq->len) {
			rq->too_large = true;
			rq->discarded += n;
			if (rq->discarded > s->cfg->max_body + DISCARD_MAX) {
				snprintf(rq->note, sizeof rq->note, "body far beyond %zu bytes: connection closed",
				         s->cfg->max_body);
				rq->status = MHD_HTTP_CONTENT_TOO_LARGE;
				return MHD_NO;
			}
			return MHD_YES;
		}
		if (rq->len + n > rq->cap) {
			size_t cap = rq->cap ? rq->cap : 64 * 1024;
			while (cap < rq->len + n)
				cap = cap > s->cfg->max_body / 2 ? s->cfg->max_body : cap * 2;
			rq->body = es_realloc(rq->body, cap);
			rq->cap = cap;
		}
		memcpy(rq->body + rq->len, upload_data, n);
		rq->len += n;
		return MHD_YES;
	}
	if (rq->responded)
		return MHD_YES;
	if (rq->route == ROUTE_HEALTH)
		return health(s, conn, rq);
	if (rq->route == ROUTE_NONE)
		return respond(conn, rq, MHD_HTTP_NOT_FOUND, NULL, "Not found");
	if (rq->too_large)
		return respond(conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		               "The body is larger than %zu bytes", s->cfg->max_body);
	return finish_submit(s, conn, rq);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	struct timespec now;
	long ms;

	if (!rq)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - rq->start.tv_sec) * 1000 + (now.tv_nsec - rq->start.tv_nsec) / 1000000;
	ingest_log("access %s \"%s %s\" %u in=%zu stats=%zu node=%d ms=%ld%s \"%s\"",
	           rq->peer, rq->method, rq->path, rq->status, rq->len, rq->nstats, rq->node_id, ms,
	           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted", rq->note);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
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

static char *join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = es_malloc(na + nb + 1);

	memcpy(s, a, na);
	memcpy(s + na, b, nb + 1);
	return s;
}

int server_start(struct server **out, const struct ingest_config *cfg, struct db_pool *pool,
                 char *err, size_t errlen)
{
	struct server *s;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int family = AF_INET, fd;

	*out = NULL;
	fd = open_listener(cfg->listen, &family, err, errlen);
	if (fd < 0)
		return fd;
	s = es_calloc(1, sizeof *s);
	s->cfg = cfg;
	s->pool = pool;
	s->submit_path = join(cfg->prefix, "/submit");
	s->alias_path = join(cfg->prefix, "/dataselectstats");
	s->health_path = join(cfg->prefix, "/health");
	format_address(fd, s->address, sizeof s->address);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The logger comes first so that it also receives the messages about later options. */
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
	                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	                          MHD_OPTION_LISTEN_SOCKET, fd,
	                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->workers > 1 ? cfg->workers : 0),
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	                          MHD_OPTION_NOTIFY_COMPLETED, completed, s,
	                          MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "libmicrohttpd could not start on %s", s->address);
		close(fd);
		server_stop(s);
		return ES_ECONFIG;
	}
	*out = s;
	return 0;
}

const char *server_address(const struct server *s)
{
	return s->address;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	free(s->submit_path);
	free(s->alias_path);
	free(s->health_path);
	free(s);
}
