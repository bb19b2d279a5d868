/*
 * gather.c - a report's data from the central database (gather.h).
 */
#include "gather.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "error.h"
#include "hll.h"
#include "jsonw.h"
#include "pgx.h"
#include "qrender.h"

#define APP "eidastats-report"
/* Largest API answer read back for the network table (rows of one period). */
#define NETWORKS_LIMIT (256u << 20)

/* The figures of a group, as columns k..k+4 of a row. */
#define FIG "coalesce(sum(r.bytes), 0)::bigint, coalesce(sum(r.nb_reqs), 0)::bigint," \
	" coalesce(sum(r.nb_successful_reqs), 0)::bigint, coalesce(sum(r.nb_failed_reqs), 0)::bigint," \
	" hll_union_agg(r.clients)"
/* Parameters of every scoped query: $1 first day, $2 day after the period, $3 node or NULL,
 * $4 network or NULL. */
#define RANGE "r.month >= $1::date AND r.month < $2::date"
#define NODEF "($3::text IS NULL OR r.node_id = (SELECT id FROM nodes WHERE name = $3))"
/* Payloads that say something about the period: a covered day or their statistics' span. */
#define MEETS "(EXISTS (SELECT 1 FROM unnest(p.coverage) d WHERE d >= $1::date AND d < $2::date)" \
	" OR (p.first_stat_at < $2::date AND p.last_stat_at >= $1::date))"

void rpt_table_free(struct rpt_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].a);
		free(t->v[i].b);
		free(t->v[i].covered);
		free(t->v[i].last_submission);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static struct rpt_row *table_add(struct rpt_table *t, const char *a, const char *b)
{
	struct rpt_row *row;

	if (t->n == t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 16;
		struct rpt_row *nv = realloc(t->v, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		t->v = nv;
		t->cap = nc;
	}
	row = &t->v[t->n];
	memset(row, 0, sizeof(*row));
	if ((a && !(row->a = strdup(a))) || (b && !(row->b = strdup(b)))) {
		free(row->a);
		return NULL;
	}
	t->n++;
	return row;
}

void rpt_report_free(struct rpt_report *r)
{
	free(r->node);
	free(r->network);
	rpt_table_free(&r->nodes);
	rpt_table_free(&r->networks);
	rpt_table_free(&r->countries);
	rpt_table_free(&r->stations);
	rpt_table_free(&r->new_networks);
	memset(r, 0, sizeof(*r));
}

static int run(struct rpt_db *db, const char *sql, int n, const char *const *params,
               PGresult **res, const char *what, char *err, size_t errlen)
{
	return pgx_exec(db->pg, sql, n, params, res, what, err, errlen);
}

static int get_i64(const PGresult *res, int i, int c, int64_t *v)
{
	char *end;

	if (PQgetisnull(res, i, c)) {
		*v = 0;
		return 0;
	}
	errno = 0;
	*v = strtoll(PQgetvalue(res, i, c), &end, 10);
	return errno || *end ? ES_EFORMAT : 0;
}

/* Columns k..k+4 (FIG) of row i. */
static int get_fig(const PGresult *res, int i, int k, struct rpt_fig *f, char *err, size_t errlen)
{
	int rc = 0;

	rc |= get_i64(res, i, k, &f->bytes);
	rc |= get_i64(res, i, k + 1, &f->reqs);
	rc |= get_i64(res, i, k + 2, &f->succ);
	rc |= get_i64(res, i, k + 3, &f->failed);
	f->clients = 0;
	if (!rc && !PQgetisnull(res, i, k + 4)) {
		hll_t h;
		const char *why = NULL;
		const char *hex = PQgetvalue(res, i, k + 4);

		hll_init(&h);
		rc = hll_parse_hex(&h, hex, strlen(hex), &why);
		if (rc == 0)
			f->clients = hll_cardinality(&h);
		hll_fini(&h);
		if (rc < 0) {
			snprintf(err, errlen, "a client set of the database cannot be read: %s",
			         why ? why : es_strerror(rc));
			return rc;
		}
	}
	if (rc) {
		snprintf(err, errlen, "the database answered a figure that is not an integer");
		return ES_EFORMAT;
	}
	return 0;
}

int rpt_db_open(struct rpt_db *db, const char *conninfo, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc;

	memset(db, 0, sizeof(*db));
	q_policy_init(&db->policy);
	if ((rc = pgx_connect(&db->pg, conninfo, APP, err, errlen)) < 0)
		return rc;
	if ((rc = run(db, Q_SQL_NODES, 0, NULL, &res, "reading the nodes", err, errlen)) < 0)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = q_policy_add_node(&db->policy, PQgetvalue(res, i, 0),
		                       PQgetisnull(res, i, 1) ? -1 : PQgetvalue(res, i, 1)[0] == 't',
		                       PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2));
	PQclear(res);
	res = NULL;
	if (rc == 0 && (rc = run(db, Q_SQL_NETWORKS, 0, NULL, &res, "reading the networks", err,
	                         errlen)) == 0) {
		for (int i = 0; i < PQntuples(res) && rc == 0; i++)
			rc = q_policy_add_net(&db->policy, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			                      PQgetisnull(res, i, 2) ? -1 : PQgetvalue(res, i, 2)[0] == 't',
			                      PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
		PQclear(res);
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc == 0)
		q_policy_seal(&db->policy);
	return rc;
}

void rpt_db_close(struct rpt_db *db)
{
	if (db->pg)
		PQfinish(db->pg);
	q_policy_fini(&db->policy);
	memset(db, 0, sizeof(*db));
}

int rpt_db_check_node(struct rpt_db *db, const char *node, char *err, size_t errlen)
{
	for (size_t i = 0; i < db->policy.nnodes; i++)
		if (strcmp(db->policy.nodes[i].name, node) == 0)
			return 0;
	snprintf(err, errlen, "unknown node '%s' (eidastats-admin node list shows the nodes)", node);
	return ES_ECONFIG;
}

int rpt_db_check_network(struct rpt_db *db, const char *node, const char *net, char *err,
                         size_t errlen)
{
	int rc = rpt_db_check_node(db, node, err, errlen);

	if (rc == 0 && !q_policy_has_net(&db->policy, node, net)) {
		snprintf(err, errlen, "node '%s' has no network '%s'", node, net);
		return ES_ECONFIG;
	}
	return rc;
}

int rpt_db_nodes(struct rpt_db *db, struct rpt_table *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < db->policy.nnodes; i++)
		if (!table_add(out, db->policy.nodes[i].name, NULL)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	return 0;
}

static void bounds(const struct rpt_period *p, char lo[RPT_DAY_TEXT], char hi[RPT_DAY_TEXT])
{
	rpt_month_day(rpt_period_first(p), lo);
	rpt_month_day(rpt_period_first(p) + rpt_period_months(p), hi);
}

int rpt_db_contact_networks(struct rpt_db *db, const struct rpt_period *p, struct rpt_table *out,
                            char *err, size_t errlen)
{
	char lo[RPT_DAY_TEXT], hi[RPT_DAY_TEXT];
	const char *params[2] = { lo, hi };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	bounds(p, lo, hi);
	rc = run(db, "SELECT n.name, w.name FROM networks w JOIN nodes n ON n.id = w.node_id"
	         " WHERE n.name IS NOT NULL AND w.name IS NOT NULL AND w.contact IS NOT NULL"
	         " AND EXISTS (SELECT 1 FROM dataselect_rollup r WHERE r.node_id = w.node_id"
	         " AND r.network = w.name AND " RANGE ") ORDER BY 1, 2",
	         2, params, &res, "listing the networks with a contact", err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		if (!table_add(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1))) {
			PQclear(res);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	PQclear(res);
	return 0;
}

int rpt_db_months(struct rpt_db *db, int **out, size_t *n, char *err, size_t errlen)
{
	PGresult *res;
	int rc = run(db, "SELECT DISTINCT (extract(year FROM month) * 12 + extract(month FROM month) - 1)::int"
	             " FROM dataselect_rollup_country WHERE month IS NOT NULL ORDER BY 1",
	             0, NULL, &res, "listing the months with statistics", err, errlen);

	*out = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	if (PQntuples(res) && !(*out = calloc((size_t)PQntuples(res), sizeof(int)))) {
		PQclear(res);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		int v = atoi(PQgetvalue(res, i, 0));

		/* Years 1..9999 only (the periods' range). */
		if (v >= 12 && v < 10000 * 12)
			(*out)[(*n)++] = v;
	}
	PQclear(res);
	return 0;
}

int rpt_db_stamp(struct rpt_db *db, const struct rpt_period *p, char stamp[RPT_STAMP],
                 int64_t *payloads, char *err, size_t errlen)
{
	char lo[RPT_DAY_TEXT], hi[RPT_DAY_TEXT];
	const char *params[2] = { lo, hi };
	PGresult *res;
	int rc;

	bounds(p, lo, hi);
	rc = run(db,
	         "SELECT md5(concat_ws('|',"
	         " (SELECT md5(coalesce(string_agg(format('%s,%s,%s,%s,%s,%s,%s,%s,%s', r.node_id, r.month,"
	         "   r.network, r.country, r.bytes, r.nb_reqs, r.nb_successful_reqs, r.nb_failed_reqs,"
	         "   hll_cardinality(r.clients)), ';' ORDER BY r.node_id, r.month, r.network, r.country), ''))"
	         "  FROM dataselect_rollup r WHERE " RANGE "),"
	         " pay.c, pay.m, pay.t,"
	         " (SELECT md5(coalesce(string_agg(format('%s,%s,%s,%s', id, name, restriction_policy,"
	         "   eas_group), ';' ORDER BY id), '')) FROM nodes),"
	         " (SELECT md5(coalesce(string_agg(format('%s,%s,%s,%s,%s', node_id, name, inverted_policy,"
	         "   eas_group, contact), ';' ORDER BY node_id, name), '')) FROM networks w"
	         "  WHERE EXISTS (SELECT 1 FROM dataselect_rollup r WHERE r.node_id = w.node_id"
	         "   AND r.network = w.name AND " RANGE ")))), pay.c"
	         " FROM (SELECT count(*) AS c, max(p.id) AS m, max(p.created_at) AS t"
	         "  FROM payloads p WHERE " MEETS ") pay",
	         2, params, &res, "computing the period's stamp", err, errlen);
	if (rc < 0)
		return rc;
	snprintf(stamp, RPT_STAMP, "%s", PQgetvalue(res, 0, 0));
	rc = get_i64(res, 0, 1, payloads);
	PQclear(res);
	return rc;
}

/* A row iterator over a whole PGresult, for qrender. */
struct res_iter {
	PGresult *res;
	int i;
};

static int res_next(void *ctx, struct q_row *row)
{
	struct res_iter *it = ctx;

	if (it->i >= PQntuples(it->res))
		return 0;
	for (int c = 0; c < Q_SQL_COLS; c++)
		row->col[c] = c < PQnfields(it->res) && !PQgetisnull(it->res, it->i, c)
		              ? PQgetvalue(it->res, it->i, c) : NULL;
	it->i++;
	return 1;
}

static int64_t json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/*
 * The federation's network table: the public API's answer to
 * start=FIRST&end=LAST&level=network, made by the query module itself
 * (parse, SQL, folding and rendering) and read back.
 */
static int api_networks(struct rpt_db *db, const struct rpt_period *p, struct rpt_table *t,
                        char *err, size_t errlen)
{
	char first[RPT_PERIOD_NAME], last[RPT_PERIOD_NAME], raw[128];
	struct q_pair pairs[4] = { { "start", first }, { "end", last }, { "level", "network" },
	                           { "format", "json" } };
	struct query q;
	struct q_error e;
	struct q_sql sql = { 0 };
	struct q_render *rr = NULL;
	struct res_iter it = { NULL, 0 };
	jsonw_t text;
	char buf[16384];
	cJSON *doc = NULL;
	const cJSON *rows, *row;
	ssize_t n;
	int rc;

	rpt_month_name(rpt_period_first(p), first);
	rpt_month_name(rpt_period_first(p) + rpt_period_months(p) - 1, last);
	snprintf(raw, sizeof raw, "start=%s&end=%s&level=network&format=json", first, last);
	jsonw_init(&text, NETWORKS_LIMIT);
	q_error_init(&e, 1);
	if ((rc = q_parse(&q, Q_PUBLIC, 0, pairs, 4, raw, &db->policy, &e)) < 0) {
		snprintf(err, errlen, "the query module refused %s: %s", raw, e.msg);
		q_query_fini(&q);
		return rc;
	}
	if ((rc = q_sql_build(&q, 1, &sql)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((rc = run(db, sql.text, (int)sql.nparams, (const char *const *)sql.params, &it.res,
	              "reading the networks' figures", err, errlen)) < 0)
		goto out;
	if ((rc = q_render_new(&rr, &q, &db->policy, NULL, 0, res_next, &it)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while ((n = q_render_read(rr, buf, sizeof buf)) > 0)
		jsonw_raw(&text, buf, (size_t)n);
	if (n < 0 || jsonw_error(&text)) {
		rc = n < 0 ? (int)n : jsonw_error(&text);
		snprintf(err, errlen, "rendering the networks' figures: %s", es_strerror(rc));
		goto out;
	}
	doc = cJSON_ParseWithLength(text.buf ? text.buf : "", text.len);
	rows = cJSON_GetObjectItemCaseSensitive(doc, "results");
	if (!cJSON_IsArray(rows)) {
		rc = ES_EINTERNAL;
		snprintf(err, errlen, "the query module's answer cannot be read back");
		goto out;
	}
	cJSON_ArrayForEach(row, rows) {
		const char *node = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "node"));
		const char *net = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "network"));
		struct rpt_row *x;

		if (!node || !net) {
			rc = ES_EINTERNAL;
			snprintf(err, errlen, "the query module's answer has a row without node or network");
			goto out;
		}
		if (!(x = table_add(t, node, net))) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		x->f.bytes = json_int(row, "bytes");
		x->f.reqs = json_int(row, "nb_reqs");
		x->f.succ = json_int(row, "nb_successful_reqs");
		x->f.clients = (uint64_t)json_int(row, "clients");
		/* The folded row is the only one the API names "Other" for both. */
		x->restricted = strcmp(node, "Other") == 0 && strcmp(net, "Other") == 0;
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	q_render_free(rr);
	PQclear(it.res);
	q_sql_fini(&sql);
	q_query_fini(&q);
	jsonw_fini(&text);
	return rc;
}

/* Whether the public sees a pair unfolded (the API's rule): restricted is its negation. */
static int restricted(struct rpt_db *db, const char *node, const char *net)
{
	return !q_policy_visible(&db->policy, node, net, 0, NULL, 0);
}

struct ctx {
	struct rpt_db *db;
	struct rpt_report *r;
	const char *params[4];
	char lo[RPT_DAY_TEXT], hi[RPT_DAY_TEXT];
	const char *table;      /* Rollup read for sums: by country, or by network for a network. */
	const char *netf;       /* The network condition. */
	char *err;
	size_t errlen;
};

/* Totals of [first, first + months) for the report's scope. */
static int totals_of(struct ctx *c, int first, int months, struct rpt_fig *f)
{
	char lo[RPT_DAY_TEXT], hi[RPT_DAY_TEXT], sql[1024];
	const char *params[4] = { lo, hi, c->params[2], c->params[3] };
	PGresult *res;
	int rc;

	rpt_month_day(first, lo);
	rpt_month_day(first + months, hi);
	snprintf(sql, sizeof sql, "SELECT " FIG " FROM %s r WHERE " RANGE " AND " NODEF "%s",
	         c->table, c->netf);
	if ((rc = run(c->db, sql, 4, params, &res, "reading totals", c->err, c->errlen)) < 0)
		return rc;
	rc = get_fig(res, 0, 0, f, c->err, c->errlen);
	PQclear(res);
	return rc;
}

/* Rows of a query whose columns are a, [b,] FIG, into t. */
static int rows_into(struct ctx *c, const char *sql, int nparams, const char *const *params,
                     int has_b, struct rpt_table *t, const char *what)
{
	PGresult *res;
	int rc = run(c->db, sql, nparams, params, &res, what, c->err, c->errlen);

	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct rpt_row *x = table_add(t, PQgetisnull(res, i, 0) ? NULL : PQgetvalue(res, i, 0),
		                              has_b && !PQgetisnull(res, i, 1) ? PQgetvalue(res, i, 1) : NULL);

		if (!x) {
			snprintf(c->err, c->errlen, "out of memory");
			rc = -ENOMEM;
			break;
		}
		rc = get_fig(res, i, has_b ? 2 : 1, &x->f, c->err, c->errlen);
	}
	PQclear(res);
	return rc;
}

static int gather_nodes(struct ctx *c)
{
	struct rpt_report *r = c->r;
	char sql[1024];
	PGresult *res;
	int rc, days = rpt_period_days(&r->period);

	snprintf(sql, sizeof sql,
	         "SELECT n.name, " FIG " FROM nodes n LEFT JOIN %s r ON r.node_id = n.id AND " RANGE "%s"
	         " WHERE n.name IS NOT NULL AND ($3::text IS NULL OR n.name = $3)"
	         " GROUP BY GROUPING SETS ((n.name), ()) ORDER BY GROUPING(n.name) DESC, n.name",
	         c->table, c->netf);
	if ((rc = run(c->db, sql, 4, c->params, &res, "reading the nodes' figures", c->err, c->errlen)) < 0)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct rpt_row *x;

		if (PQgetisnull(res, i, 0)) {
			rc = get_fig(res, i, 1, &r->totals, c->err, c->errlen);
			continue;
		}
		if (!(x = table_add(&r->nodes, PQgetvalue(res, i, 0), NULL)) ||
		    !(x->covered = calloc((size_t)days, 1))) {
			snprintf(c->err, c->errlen, "out of memory");
			rc = -ENOMEM;
			break;
		}
		rc = get_fig(res, i, 1, &x->f, c->err, c->errlen);
		if (x->f.reqs > 0)
			r->nodes_reporting++;
	}
	PQclear(res);
	if (rc < 0)
		return rc;
	/* Coverage: the days the node's payloads covered, and the latest of those payloads. */
	rc = run(c->db,
	         "SELECT n.name,"
	         " (SELECT string_agg(x, ',' ORDER BY x) FROM (SELECT DISTINCT to_char(d, 'YYYY-MM-DD') AS x"
	         "   FROM payloads p, unnest(p.coverage) d WHERE p.node_id = n.id"
	         "   AND d >= $1::date AND d < $2::date) c),"
	         " (SELECT to_char(max(p.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	         "   FROM payloads p WHERE p.node_id = n.id AND " MEETS ")"
	         " FROM nodes n WHERE n.name IS NOT NULL AND ($3::text IS NULL OR n.name = $3) ORDER BY 1",
	         3, c->params, &res, "reading the nodes' coverage", c->err, c->errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		struct rpt_row *x = NULL;

		for (size_t k = 0; k < r->nodes.n && !x; k++)
			if (strcmp(r->nodes.v[k].a, PQgetvalue(res, i, 0)) == 0)
				x = &r->nodes.v[k];
		if (!x)
			continue;       /* A node added since the figures were read. */
		if (!PQgetisnull(res, i, 1)) {
			char *list = PQgetvalue(res, i, 1), *save = NULL;

			for (char *d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
				int k = rpt_period_day_index(&r->period, d);

				if (k >= 0 && !x->covered[k]) {
					x->covered[k] = 1;
					x->days_covered++;
				}
			}
		}
		if (!PQgetisnull(res, i, 2) && !(x->last_submission = strdup(PQgetvalue(res, i, 2)))) {
			snprintf(c->err, c->errlen, "out of memory");
			rc = -ENOMEM;
		}
	}
	PQclear(res);
	return rc;
}

static int gather_trend(struct ctx *c)
{
	struct rpt_report *r = c->r;
	char lo[RPT_DAY_TEXT], sql[1024];
	const char *params[4] = { lo, c->hi, c->params[2], c->params[3] };
	PGresult *res;
	int rc;

	r->trend_first = rpt_period_first(&r->period) + rpt_period_months(&r->period) - RPT_TREND;
	rpt_month_day(r->trend_first, lo);
	snprintf(sql, sizeof sql,
	         "SELECT (extract(year FROM r.month) * 12 + extract(month FROM r.month) - 1)::int, " FIG
	         " FROM %s r WHERE " RANGE " AND " NODEF "%s GROUP BY r.month", c->table, c->netf);
	if ((rc = run(c->db, sql, 4, params, &res, "reading the trend", c->err, c->errlen)) < 0)
		return rc;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		int k = atoi(PQgetvalue(res, i, 0)) - r->trend_first;

		if (k >= 0 && k < RPT_TREND)
			rc = get_fig(res, i, 1, &r->trend[k], c->err, c->errlen);
	}
	PQclear(res);
	return rc;
}

static int gather_neighbours(struct ctx *c)
{
	struct rpt_report *r = c->r;
	int rc;

	rpt_period_prev(&r->period, &r->prev);
	rpt_period_year_before(&r->period, &r->year_before);
	r->has_prev = r->prev.year >= 1;
	/* A year's "year before" is its previous period: given once, as previous. */
	r->has_year_before = r->period.kind == RPT_MONTH && r->year_before.year >= 1;
	if (r->period.kind == RPT_MONTH) {
		/* Both months lie in the trend. */
		r->prev_totals = r->trend[RPT_TREND - 2];
		r->year_before_totals = r->trend[RPT_TREND - 13];
		return 0;
	}
	if (!r->has_prev)
		return 0;
	rc = totals_of(c, rpt_period_first(&r->prev), 12, &r->prev_totals);
	return rc;
}

static int gather_node_tables(struct ctx *c)
{
	struct rpt_report *r = c->r;
	char sql[1024];
	PGresult *res;
	int rc;

	snprintf(sql, sizeof sql, "SELECT $3::text, r.network, " FIG " FROM dataselect_rollup r"
	         " WHERE " RANGE " AND " NODEF "%s GROUP BY r.network"
	         " ORDER BY sum(r.bytes) DESC NULLS LAST, r.network", c->netf);
	if ((rc = rows_into(c, sql, 4, c->params, 1, &r->networks, "reading the node's networks")) < 0)
		return rc;
	for (size_t i = 0; i < r->networks.n; i++)
		if (r->networks.v[i].b)
			r->networks.v[i].restricted = restricted(c->db, r->node, r->networks.v[i].b);
	/* The top stations by sums first: client unions only for those (the raw table is large). */
	snprintf(sql, sizeof sql, "WITH top AS (SELECT r.network, r.station FROM dataselect_stats r"
	         " WHERE r.date >= $1::date AND r.date < $2::date"
	         " AND r.node_id = (SELECT id FROM nodes WHERE name = $3)%s"
	         " GROUP BY r.network, r.station"
	         " ORDER BY sum(r.nb_reqs) DESC NULLS LAST, r.network, r.station LIMIT %d)"
	         " SELECT r.network, r.station, " FIG " FROM dataselect_stats r"
	         " JOIN top t ON t.network IS NOT DISTINCT FROM r.network"
	         " AND t.station IS NOT DISTINCT FROM r.station"
	         " WHERE r.date >= $1::date AND r.date < $2::date"
	         " AND r.node_id = (SELECT id FROM nodes WHERE name = $3)"
	         " GROUP BY r.network, r.station"
	         " ORDER BY sum(r.nb_reqs) DESC NULLS LAST, r.network, r.station",
	         r->scope == RPT_NETWORK ? " AND r.network = $4" : " AND $4::text IS NULL",
	         RPT_TOP_STATIONS);
	if ((rc = rows_into(c, sql, 4, c->params, 1, &r->stations, "reading the stations")) < 0)
		return rc;
	snprintf(sql, sizeof sql, "SELECT r.network FROM dataselect_rollup r WHERE " NODEF "%s"
	         " AND r.network IS NOT NULL GROUP BY r.network"
	         " HAVING min(r.month) >= $1::date AND min(r.month) < $2::date ORDER BY 1", c->netf);
	if ((rc = run(c->db, sql, 4, c->params, &res, "reading the new networks", c->err, c->errlen)) < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *net = PQgetvalue(res, i, 0);
		struct rpt_row *x = table_add(&r->new_networks, net, NULL);

		if (!x) {
			PQclear(res);
			snprintf(c->err, c->errlen, "out of memory");
			return -ENOMEM;
		}
		x->restricted = restricted(c->db, r->node, net);
		x->policy_defined = q_policy_state(&c->db->policy, r->node, net, NULL) != Q_UNDEFINED;
	}
	PQclear(res);
	return 0;
}

static void describe_db(PGconn *pg, char *out, size_t len)
{
	const char *host = PQhost(pg);

	snprintf(out, len, "%s on %s", PQdb(pg) ? PQdb(pg) : "?",
	         host && *host ? (host[0] == '/' ? "local socket" : host) : "local socket");
}

int rpt_gather(struct rpt_db *db, enum rpt_scope scope, const struct rpt_period *p,
               const char *node, const char *network, const char *stamp, int64_t payloads,
               struct rpt_report *r, char *err, size_t errlen)
{
	struct ctx c = { .db = db, .r = r, .err = err, .errlen = errlen };
	int rc;

	memset(r, 0, sizeof(*r));
	r->scope = scope;
	r->period = *p;
	if ((node && scope != RPT_FEDERATION && !(r->node = strdup(node))) ||
	    (network && scope == RPT_NETWORK && !(r->network = strdup(network)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((scope != RPT_FEDERATION && !r->node) || (scope == RPT_NETWORK && !r->network)) {
		snprintf(err, errlen, "a node or network report needs its node (and network)");
		return ES_EINTERNAL;
	}
	describe_db(db->pg, r->database, sizeof r->database);
	if (stamp) {
		snprintf(r->stamp, sizeof r->stamp, "%s", stamp);
		r->payloads = payloads;
	} else if ((rc = rpt_db_stamp(db, p, r->stamp, &r->payloads, err, errlen)) < 0) {
		return rc;
	}
	bounds(p, c.lo, c.hi);
	c.params[0] = c.lo;
	c.params[1] = c.hi;
	c.params[2] = r->node;
	c.params[3] = r->network;
	c.table = scope == RPT_NETWORK ? "dataselect_rollup" : "dataselect_rollup_country";
	c.netf = scope == RPT_NETWORK ? " AND r.network = $4" : " AND $4::text IS NULL";
	if ((rc = gather_nodes(&c)) < 0 || (rc = gather_trend(&c)) < 0 ||
	    (rc = gather_neighbours(&c)) < 0)
		return rc;
	{
		char sql[1024];

		snprintf(sql, sizeof sql, "SELECT r.country, " FIG " FROM %s r WHERE " RANGE " AND " NODEF
		         "%s GROUP BY r.country ORDER BY sum(r.nb_reqs) DESC NULLS LAST, r.country NULLS LAST",
		         c.table, c.netf);
		if ((rc = rows_into(&c, sql, 4, c.params, 0, &r->countries, "reading the countries")) < 0)
			return rc;
	}
	if (scope == RPT_FEDERATION)
		return api_networks(db, p, &r->networks, err, errlen);
	return gather_node_tables(&c);
}
