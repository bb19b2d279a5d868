#include "config.h"

#include <stdlib.h>

#include <microhttpd.h>

#include "error.h"
#include "mem.h"
#include "promw.h"

#include "peer.h"
#include "hreq.h"
#include "metrics.h"
#include "mweb.h"

/* Longest exposition: some 100 lines per node for METRICS_MAX_NODES nodes, and the routes. */
#define METRICS_TEXT_MAX ((size_t)32 << 20)

static const char nodes_sql[] =
	"SELECT n.name, coalesce(extract(epoch FROM (SELECT max(p.created_at) FROM payloads p"
	" WHERE p.node_id = n.id)), 0) FROM nodes n WHERE n.name IS NOT NULL ORDER BY n.name";

int mweb_finish(struct hreq *rq)
{
	struct metrics_gauges g = { 0 };
	struct metrics_dbnode *nodes = NULL;
	PGresult *res = NULL;
	char err[512], *text;
	jsonw_t w;
	size_t len;
	int rc;

	if (!peer_list_has(&rq->cfg->metrics_allow, rq->peer))
		return hreq_text(rq, MHD_HTTP_FORBIDDEN, "Metrics are only for the addresses of metrics_allow");
	g.write_in_use = db_pool_in_use(rq->svc->write_pool);
	g.write_size = db_pool_size(rq->svc->write_pool);
	g.read_size = db_pool_size(rq->svc->read_pool);
	g.in_flight = budget_used(rq->svc->budget);
	g.in_flight_limit = rq->cfg->max_in_flight;

	struct db_conn *db = db_acquire(rq->svc->read_pool);
	/* This request's own connection is counted: it is in use now. */
	g.read_in_use = db_pool_in_use(rq->svc->read_pool);
	rc = db_query(db, nodes_sql, 0, NULL, &res, err, sizeof err);
	db_release(rq->svc->read_pool, db);
	if (rc < 0) {
		ingest_log("metrics: %s", err);
	} else {
		g.db_up = 1;
		g.nnodes = (size_t)PQntuples(res);
		nodes = es_calloc(g.nnodes + 1, sizeof *nodes);
		for (size_t i = 0; i < g.nnodes; i++) {
			nodes[i].name = PQgetvalue(res, (int)i, 0);
			nodes[i].last = strtod(PQgetvalue(res, (int)i, 1), NULL);
		}
		g.nodes = nodes;
	}
	jsonw_init(&w, METRICS_TEXT_MAX);
	rc = metrics_render(rq->svc->metrics, &g, &w);
	free(nodes);
	PQclear(res);
	text = jsonw_take(&w, &len);
	jsonw_fini(&w);
	if (rc < 0 || !text) {
		free(text);
		ingest_log("metrics: %s", es_strerror(rc < 0 ? rc : ES_EINTERNAL));
		return hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error");
	}
	rc = hreq_data(rq, MHD_HTTP_OK, PROMW_CONTENT_TYPE, text, len);
	free(text);
	return rc;
}
