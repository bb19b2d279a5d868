#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "error.h"
#include "mem.h"
#include "submit.h"

#include "api.h"
#include "hreq.h"
#include "mweb.h"
#include "qapi.h"
#include "rweb.h"

#define MSG_OK "Statistic successfully ingested to database!"
#define MSG_DUPLICATE "This statistic already exists on the server. Refusing to merge"
#define MSG_UNAVAILABLE "The database is unavailable; try again later"

/* What a submission keeps between its hooks. */
struct submit_state {
	bool overwrite;
	bool gzip;
};

static int submit_begin(struct hreq *rq)
{
	struct submit_state *st = es_calloc(1, sizeof *st);
	const char *enc = hreq_get_header(rq, MHD_HTTP_HEADER_CONTENT_ENCODING);

	rq->state = st;
	st->overwrite = rq->method == ROUTE_PUT;
	if (enc && (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0))
		st->gzip = true;
	else if (enc && *enc && strcasecmp(enc, "identity") != 0)
		return hreq_text(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		                 "Unsupported Content-Encoding (use gzip or none)");
	return 0;
}

/* Decodes a gzip body within max_decompressed and the budget; 0 or answered (> 0). */
static int submit_gunzip_body(struct hreq *rq, char **plain, size_t *len)
{
	size_t max = rq->cfg->max_decompressed, room = hreq_room(rq);
	size_t cap = room < max ? room : max;
	int rc;

	rc = submit_gunzip(rq->body, rq->len, cap, plain, len);
	if (rc == ES_ELIMIT && cap < max)
		return hreq_busy(rq) < 0 ? -EIO : 1;
	if (rc == ES_ELIMIT)
		return hreq_text(rq, MHD_HTTP_CONTENT_TOO_LARGE,
		                 "The decompressed body is larger than %zu bytes", max) < 0 ? -EIO : 1;
	if (rc < 0)
		return hreq_text(rq, MHD_HTTP_BAD_REQUEST, "The body is not valid gzip: %s",
		                 es_strerror(rc)) < 0 ? -EIO : 1;
	if (hreq_reserve(rq, *len) < 0) {
		free(*plain);
		return hreq_busy(rq) < 0 ? -EIO : 1;
	}
	/* The raw body is no longer needed; give its memory back before parsing. */
	hreq_drop_body(rq);
	return 0;
}

static int submit_finish(struct hreq *rq)
{
	struct submit_state *st = rq->state;
	struct submit_limits lim = { .max_stats = rq->cfg->max_stats, .max_days = SUBMIT_DEFAULT_MAX_DAYS };
	struct submit_payload p;
	char *plain = NULL;
	const char *text = rq->body ? rq->body : "";
	size_t len = rq->len;
	char err[512];
	int rc;

	if (st->gzip) {
		if ((rc = submit_gunzip_body(rq, &plain, &len)) != 0)
			return rc < 0 ? rc : 0;
		text = plain;
	} else if (len > rq->cfg->max_decompressed) {
		return hreq_text(rq, MHD_HTTP_CONTENT_TOO_LARGE, "The body is larger than %zu bytes",
		                 rq->cfg->max_decompressed);
	}

	submit_init(&p);
	rc = submit_parse(&p, text, len, &lim, err, sizeof err);
	free(plain);
	if (rc == ES_ELIMIT)
		return hreq_text(rq, MHD_HTTP_CONTENT_TOO_LARGE, "Payload too large: %s", err);
	if (rc < 0)
		return hreq_text(rq, MHD_HTTP_BAD_REQUEST, "Malformed payload: %s", err);
	rq->nstats = p.nstats;

	struct db_conn *db = db_acquire(rq->svc->write_pool);
	rc = db_ingest(db, rq->who.node_id, st->overwrite, rq->method_name, &p, err, sizeof err);
	db_release(rq->svc->write_pool, db);
	submit_fini(&p);
	switch (rc) {
	case 0:
		return hreq_text(rq, MHD_HTTP_OK, MSG_OK);
	case ES_EDUPLICATE:
		return hreq_text(rq, MHD_HTTP_CONFLICT, MSG_DUPLICATE);
	case ES_EFORMAT:
		return hreq_text(rq, MHD_HTTP_BAD_REQUEST, "Refused by the database: %s", err);
	case -ENOTCONN:
		ingest_log("%s", err);
		return hreq_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, MSG_UNAVAILABLE);
	default:
		ingest_log("ingest failed: %s", err);
		return hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                 "Error on statistics ingestion; nothing was stored");
	}
}

static void submit_done(struct hreq *rq)
{
	free(rq->state);
	rq->state = NULL;
}

static int health_finish(struct hreq *rq)
{
	char err[512];
	int rc;

	struct db_conn *db = db_acquire(rq->svc->write_pool);
	rc = db_health(db, err, sizeof err);
	db_release(rq->svc->write_pool, db);
	if (rc < 0) {
		ingest_log("health: %s", err);
		return hreq_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, MSG_UNAVAILABLE);
	}
	return hreq_text(rq, MHD_HTTP_OK, "OK");
}

#define SUBMIT_ROUTE(path) \
	{ path, ROUTE_POST | ROUTE_PUT, ROUTE_AUTH_NODE, "Only PUT or POST method allowed.", \
	  submit_begin, NULL, submit_finish, submit_done, NULL }

/* A read-only route answered by its finish hook alone. */
#define GET_ROUTE(path, finish) \
	{ path, ROUTE_GET, ROUTE_AUTH_NONE, NULL, NULL, NULL, finish, NULL, NULL }

const struct route api_routes[] = {
	SUBMIT_ROUTE("/submit"),
	SUBMIT_ROUTE("/dataselectstats"),
	{ "/health", ROUTE_GET, ROUTE_AUTH_NONE, "Only GET allowed.", NULL, NULL, health_finish, NULL,
	  NULL },
	{ "/dataselect/public", ROUTE_GET, ROUTE_AUTH_NONE, NULL, NULL, NULL, qapi_public_finish,
	  NULL, qapi_too_many },
	{ "/dataselect/restricted", ROUTE_POST, ROUTE_AUTH_NONE,
	  "<h1>405 Method Not Allowed</h1><p>Only POST method allowed</p>",
	  qapi_restricted_begin, qapi_restricted_body, qapi_restricted_finish, qapi_restricted_done,
	  qapi_too_many },
	GET_ROUTE("/nodes", qapi_nodes_finish),
	GET_ROUTE("/networks", qapi_networks_finish),
	GET_ROUTE("/_isRestricted", qapi_is_restricted_finish),
	GET_ROUTE("/node_restriction_policy", qapi_node_policy_finish),
	GET_ROUTE("/network_restriction_policy", qapi_network_policy_finish),
	GET_ROUTE("/_health", qapi_health_finish),
	GET_ROUTE("/openapi.yaml", qapi_openapi_finish),
	GET_ROUTE("/", qapi_index_finish),
	GET_ROUTE("/reports" ROUTE_TREE_MARK, rweb_finish),
	GET_ROUTE("/metrics", mweb_finish),
	/* The prefix itself: upstream redirects to PREFIX/ (any method). */
	{ "", ROUTE_GET | ROUTE_POST | ROUTE_PUT | ROUTE_DELETE, ROUTE_AUTH_NONE, NULL,
	  NULL, NULL, qapi_redirect_finish, NULL, NULL },
};

const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
