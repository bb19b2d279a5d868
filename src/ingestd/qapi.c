#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <microhttpd.h>

#include "eas.h"
#include "error.h"
#include "utf8.h"
#include "jsonw.h"
#include "mem.h"
#include "pgx.h"
#include "qrender.h"
#include "query.h"

#include "hreq.h"
#include "qapi.h"

#define HTML_TYPE "text/html; charset=UTF-8"
#define JSON_TYPE "application/json"
#define MSG_HEALTH_OK "The service is up and running and database is available!"
#define MSG_HEALTH_BAD "Database connection or schema error"
#define SQLSTATE_QUERY_CANCELED "57014"

/* Answers the error e (HTML fragment or JSON, query.h). */
static int answer_error(struct hreq *rq, const struct q_error *e)
{
	char body[Q_ERR_TEXT * 8];
	size_t n = q_error_body(e, body, sizeof body);

	snprintf(rq->note, sizeof rq->note, "%.150s", e->has_msg ? e->msg : "");
	return hreq_data(rq, (unsigned)e->status, q_error_content_type(e), body, n);
}

static int answer_status(struct hreq *rq, int json, int status, const char *msg)
{
	struct q_error e;

	q_error_init(&e, json);
	q_error_set(&e, status, msg);
	return answer_error(rq, &e);
}

/* The query's decoded pairs as the query core takes them (q_pair borrows rq's strings). */
static size_t pairs_of(const struct hreq *rq, struct q_pair *pairs, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < rq->query.n && n < cap; i++, n++) {
		pairs[n].name = rq->query.v[i].name;
		pairs[n].value = rq->query.v[i].value;
	}
	return n;
}

/*
 * Checks what the query core does not: a query string the server could not
 * parse, and values that are not UTF-8 (PostgreSQL would refuse them).
 * 0, or -1 with e set.
 */
static int check_query_text(const struct hreq *rq, struct q_error *e)
{
	if (rq->query_rc < 0) {
		q_error_set(e, 400, rq->query_err);
		return -1;
	}
	for (size_t i = 0; i < rq->query.n; i++) {
		const struct hquery_param *p = &rq->query.v[i];
		char msg[Q_ERR_TEXT], rep[512];

		if (utf8_valid(p->value, strlen(p->value)))
			continue;
		q_py_repr(p->name, rep, sizeof rep);
		snprintf(msg, sizeof msg, "Unsupported value for parameter %s (not UTF-8)", rep);
		q_error_set(e, 400, msg);
		return -1;
	}
	return 0;
}

static int tri(const PGresult *r, int i, int col)
{
	if (PQgetisnull(r, i, col))
		return -1;
	return PQgetvalue(r, i, col)[0] == 't';
}

/* Reads the restriction map on the read pool (borrowed only inside this call). */
static int load_policy(struct hreq *rq, struct q_policy *p)
{
	struct db_conn *db = db_acquire(rq->svc->read_pool);
	PGresult *nodes = NULL, *nets = NULL;
	char err[512];
	int rc;

	rc = db_query(db, Q_SQL_NODES, 0, NULL, &nodes, err, sizeof err);
	if (rc == 0)
		rc = db_query(db, Q_SQL_NETWORKS, 0, NULL, &nets, err, sizeof err);
	db_release(rq->svc->read_pool, db);
	if (rc < 0) {
		ingest_log("query: restriction map: %s", err);
		PQclear(nodes);
		return rc;
	}
	for (int i = 0; i < PQntuples(nodes) && rc == 0; i++)
		rc = q_policy_add_node(p, PQgetvalue(nodes, i, 0), tri(nodes, i, 1),
		                       PQgetisnull(nodes, i, 2) ? NULL : PQgetvalue(nodes, i, 2));
	for (int i = 0; i < PQntuples(nets) && rc == 0; i++)
		rc = q_policy_add_net(p, PQgetvalue(nets, i, 0), PQgetvalue(nets, i, 1), tri(nets, i, 2),
		                      PQgetisnull(nets, i, 3) ? NULL : PQgetvalue(nets, i, 3));
	PQclear(nodes);
	PQclear(nets);
	q_policy_seal(p);
	return rc;
}

/* One streamed answer: its own connection, the query and what the renderer borrows. */
struct qstream {
	PGconn *pg;
	struct qconn_cache *cache;      /* Where pg goes back when its answer was read to the end. */
	char *conninfo;
	PGresult *res;          /* The current row. */
	PGresult *first;        /* The first result, awaited before the answer started. */
	bool finished;          /* Every result read: nothing to cancel. */
	struct query q;
	struct q_policy p;
	struct eas_token tok;
	struct q_sql sql;
	struct q_render *r;
};

static void qstream_free(void *ctx)
{
	struct qstream *s = ctx;
	char why[256];

	if (!s)
		return;
	if (s->pg && s->finished) {
		/* Every result read: the session may serve the next answer. */
		qconn_give(s->cache, s->pg, s->conninfo);
		s->pg = NULL;
	}
	if (s->pg && !s->finished) {
		/* The client left or the answer failed: stop the query, not only our end. */
		PGcancel *c = PQgetCancel(s->pg);
		if (c) {
			PQcancel(c, why, sizeof why);
			PQfreeCancel(c);
		}
	}
	PQclear(s->res);
	PQclear(s->first);
	if (s->pg)
		PQfinish(s->pg);
	q_render_free(s->r);
	free(s->conninfo);
	q_sql_fini(&s->sql);
	q_query_fini(&s->q);
	q_policy_fini(&s->p);
	eas_token_fini(&s->tok);
	free(s);
}

static int next_row(void *ctx, struct q_row *row)
{
	struct qstream *s = ctx;

	PQclear(s->res);
	if (s->first) {
		s->res = s->first;
		s->first = NULL;
	} else {
		s->res = s->finished ? NULL : PQgetResult(s->pg);
	}
	if (!s->res) {
		s->finished = true;
		return 0;
	}
	switch (PQresultStatus(s->res)) {
	case PGRES_SINGLE_TUPLE:
		for (int i = 0; i < Q_SQL_COLS; i++)
			row->col[i] = PQgetisnull(s->res, 0, i) ? NULL : PQgetvalue(s->res, 0, i);
		/* Binary format (run_query): the hll's bytes, never empty (3 at least). */
		row->clients_len = row->col[10] ? (size_t)PQgetlength(s->res, 0, 10) : 0;
		return 1;
	case PGRES_TUPLES_OK:
		PQclear(s->res);
		s->res = PQgetResult(s->pg);
		s->finished = s->res == NULL;
		return s->res ? ES_EINTERNAL : 0;
	default: {
		char err[512];
		pgx_error_text(s->pg, s->res, "query", err, sizeof err);
		ingest_log("answer cut: %s", err);
		return ES_EUNAVAIL;
	}
	}
}

static ssize_t produce(void *ctx, char *buf, size_t cap)
{
	struct qstream *s = ctx;

	return q_render_read(s->r, buf, cap);
}

/*
 * Cache-Control of a dataselect answer: a restricted one belongs to its
 * token's holder; a public one on months that are all past changes only
 * when a node sends late statistics, so it may be kept cache_max_age; one
 * that reaches the current month (or has no end) changes all day.
 */
static void cache_control(struct hreq *rq, const struct query *q, bool restricted)
{
	char v[64];
	struct tm tm;
	time_t now = time(NULL);
	unsigned age = rq->cfg->cache_max_age;

	if (restricted || age == 0) {
		hreq_header(rq, "Cache-Control", restricted ? "private, no-store" : "no-store");
		return;
	}
	gmtime_r(&now, &tm);
	if (!q->has_end || q->end >= (tm.tm_year + 1900) * 12 + tm.tm_mon)
		age = age < INGEST_CACHE_OPEN_AGE ? age : INGEST_CACHE_OPEN_AGE;
	snprintf(v, sizeof v, "public, max-age=%u", age);
	hreq_header(rq, "Cache-Control", v);
}

/* The q_error of a failed result (a cancelled statement: query_timeout, 503). */
static void result_error(struct qstream *s, PGresult *res, struct q_error *e)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char err[512];
	bool cancel = state && strcmp(state, SQLSTATE_QUERY_CANCELED) == 0;

	pgx_error_text(s->pg, res, "query", err, sizeof err);
	ingest_log("%s", err);
	q_error_set(e, cancel ? 503 : 500, cancel ? Q_MSG_TIMEOUT : Q_MSG_SQL);
}

/*
 * A packs query (q_sql.packs): reads the packs, then the client sets of the
 * rows the renderer folds (q_sql_build_folds()), before the answer starts.
 */
static int load_packs(struct qstream *s, struct q_error *e)
{
	struct q_sql f;
	const struct q_fold_keys *k;
	PGresult *res;
	int rc = q_render_pack_load(s->r);

	if (rc < 0) {
		ingest_log("query: packs: %s", es_strerror(rc));
		q_error_set(e, 500, Q_MSG_SQL);
		return rc;
	}
	if (!(k = q_render_fold_keys(s->r)))
		return 0;
	if (q_sql_build_folds(&s->q, k, &f) < 0) {
		q_error_set(e, 500, Q_MSG_SQL);
		return -ENOMEM;
	}
	s->finished = false;
	if (!PQsendQueryParams(s->pg, f.text, (int)f.nparams, NULL, (const char *const *)f.params,
	                       NULL, NULL, 1)
	    || !PQsetSingleRowMode(s->pg)) {
		ingest_log("query: %s", PQerrorMessage(s->pg));
		q_sql_fini(&f);
		q_error_set(e, 500, Q_MSG_SQL);
		return ES_EUNAVAIL;
	}
	q_sql_fini(&f);
	rc = 0;
	while ((res = PQgetResult(s->pg))) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && rc == 0) {
			struct q_row row = { .clients_len = 0 };

			for (int i = 0; i < 4; i++)
				row.col[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
			row.clients_len = row.col[2] ? (size_t)PQgetlength(res, 0, 2) : 0;
			if ((rc = q_render_fold_add(s->r, &row)) < 0) {
				ingest_log("query: folded sets: %s", es_strerror(rc));
				q_error_set(e, 500, Q_MSG_SQL);
			}
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
			result_error(s, res, e);
			rc = ES_EUNAVAIL;
		}
		PQclear(res);
	}
	s->finished = true;
	return rc;
}

/*
 * Runs s->q on a connection of its own and starts the streamed answer; the
 * stream is then hreq's (freed through qstream_free in every case).
 */
static int run_query(struct hreq *rq, struct qstream *s, char *const *groups, size_t ngroups,
                     struct q_error *e)
{
	char err[512] = "", set[128];
	bool kept;
	int rc;

	if (q_sql_build_for(&s->q, 1, &s->p, groups, ngroups, &s->sql) < 0) {
		q_error_set(e, 500, Q_MSG_SQL);
		goto fail;
	}
	/* Every setting the query relies on, on a kept session too. */
	snprintf(set, sizeof set, "SET default_transaction_read_only = on; "
	         "SET statement_timeout = %u; %s", rq->cfg->query_timeout * 1000u,
	         s->sql.date_order ? Q_SQL_DATE_ORDER_SETTINGS : "RESET enable_sort");
	s->cache = rq->svc->qconns;
	s->conninfo = es_strdup(ingest_config_read_db(rq->cfg));
	s->pg = qconn_take(s->cache, s->conninfo);
	kept = s->pg != NULL;
	if (kept && pgx_exec(s->pg, set, 0, NULL, NULL, "query settings", err, sizeof err) < 0) {
		/* A kept session the server closed since: a new one. */
		PQfinish(s->pg);
		s->pg = NULL;
		kept = false;
	}
	err[0] = '\0';
	if (!s->pg && pgx_connect(&s->pg, s->conninfo, "eidastats-ingestd-query", err, sizeof err) < 0) {
		ingest_log("query: %s", err);
		q_error_set(e, 500, Q_MSG_DB);
		goto fail;
	}
	if ((!kept && pgx_exec(s->pg, set, 0, NULL, NULL, "query settings", err, sizeof err) < 0)
	    || !PQsendQueryParams(s->pg, s->sql.text, (int)s->sql.nparams, NULL,
	                          (const char *const *)s->sql.params, NULL, NULL, 1)
	    || !PQsetSingleRowMode(s->pg)) {
		if (!err[0] || PQstatus(s->pg) != CONNECTION_OK)
			snprintf(err, sizeof err, "query: %s", PQerrorMessage(s->pg));
		ingest_log("%s", err);
		s->finished = true;
		q_error_set(e, 500, Q_MSG_SQL);
		goto fail;
	}
	s->first = PQgetResult(s->pg);
	if (!s->first || (PQresultStatus(s->first) != PGRES_SINGLE_TUPLE
	                  && PQresultStatus(s->first) != PGRES_TUPLES_OK)) {
		const char *state = s->first ? PQresultErrorField(s->first, PG_DIAG_SQLSTATE) : NULL;
		pgx_error_text(s->pg, s->first, "query", err, sizeof err);
		ingest_log("%s", err);
		q_error_set(e, state && strcmp(state, SQLSTATE_QUERY_CANCELED) == 0 ? 503 : 500,
		            state && strcmp(state, SQLSTATE_QUERY_CANCELED) == 0 ? Q_MSG_TIMEOUT : Q_MSG_SQL);
		goto fail;
	}
	if (q_render_new(&s->r, &s->q, &s->p, groups, ngroups, next_row, s) < 0) {
		q_error_set(e, 500, NULL);
		goto fail;
	}
	if (s->sql.packs && load_packs(s, e) < 0)
		goto fail;
	if (s->sql.date_order)
		q_render_sort_dates(s->r);
	cache_control(rq, &s->q, s->q.endpoint == Q_RESTRICTED);
	rc = hreq_stream(rq, MHD_HTTP_OK, q_render_content_type(s->r), produce, s, qstream_free);
	return rc;
fail:
	rc = answer_error(rq, e);
	qstream_free(s);
	return rc;
}

/* Both endpoints from the restriction map on; groups NULL for public. */
static int dataselect(struct hreq *rq, struct qstream *s, enum q_endpoint ep, char *const *groups,
                      size_t ngroups, struct q_error *e)
{
	struct q_pair pairs[HQUERY_MAX_PARAMS];
	size_t n = pairs_of(rq, pairs, HQUERY_MAX_PARAMS);
	int op;

	if (check_query_text(rq, e) < 0)
		goto fail;
	if (load_policy(rq, &s->p) < 0) {
		q_error_set(e, 500, Q_MSG_DB);
		goto fail;
	}
	op = ep == Q_RESTRICTED && q_policy_is_operator(&s->p, groups, ngroups);
	if (q_parse(&s->q, ep, op, pairs, n, rq->raw_query ? rq->raw_query : "", &s->p, e) < 0
	    || q_precheck(&s->q, &s->p, groups, ngroups, e) < 0)
		goto fail;
	return run_query(rq, s, groups, ngroups, e);
fail: {
	int rc = answer_error(rq, e);
	qstream_free(s);
	return rc;
}
}

static int wants_json(const struct hreq *rq)
{
	struct q_pair pairs[HQUERY_MAX_PARAMS];

	return q_wants_json(pairs, pairs_of(rq, pairs, HQUERY_MAX_PARAMS));
}

int qapi_public_finish(struct hreq *rq)
{
	struct q_error e;
	struct qstream *s = es_calloc(1, sizeof *s);

	q_policy_init(&s->p);
	q_error_init(&e, wants_json(rq));
	return dataselect(rq, s, Q_PUBLIC, NULL, 0, &e);
}

int qapi_too_many(struct hreq *rq)
{
	char msg[160], secs[16];

	snprintf(secs, sizeof secs, "%d", INGEST_RETRY_AFTER_429);
	hreq_header(rq, MHD_HTTP_HEADER_RETRY_AFTER, secs);
	snprintf(msg, sizeof msg, "Too many concurrent queries from %s (at most %u); try again "
	         "when one has finished", rq->client, rq->cfg->max_queries_per_client);
	return answer_status(rq, wants_json(rq), 429, msg);
}

/* The token body of a restricted request, kept within max_token. */
struct token_state {
	char *buf;
	size_t len, cap, dropped;
	bool too_large, over_budget;
};

static int token_too_large(struct hreq *rq)
{
	char msg[128];

	snprintf(msg, sizeof msg, "The token is larger than %zu bytes", rq->cfg->max_token);
	return answer_status(rq, wants_json(rq), 413, msg);
}

int qapi_restricted_begin(struct hreq *rq)
{
	const char *clen = hreq_get_header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);

	rq->state = es_calloc(1, sizeof(struct token_state));
	if (clen && strtoull(clen, NULL, 10) > rq->cfg->max_token)
		return token_too_large(rq);
	return 0;
}

int qapi_restricted_body(struct hreq *rq, const char *data, size_t len)
{
	struct token_state *st = rq->state;

	/*
	 * libmicrohttpd cannot answer in the middle of a body: the rest is
	 * dropped and finish answers, unless the client keeps sending far
	 * beyond: the connection is then closed.
	 */
	if (!st->too_large && !st->over_budget && len > rq->cfg->max_token - st->len)
		st->too_large = true;
	if (st->too_large || st->over_budget) {
		st->dropped += len;
		return st->dropped > HREQ_DISCARD_MAX ? ES_ELIMIT : 0;
	}
	if (st->len + len > st->cap) {
		size_t cap = st->cap ? st->cap : 4096;
		while (cap < st->len + len)
			cap *= 2;
		if (cap > rq->cfg->max_token)
			cap = rq->cfg->max_token;
		if (hreq_reserve(rq, cap - st->cap) < 0) {
			st->over_budget = true;
			return 0;
		}
		st->buf = es_realloc(st->buf, cap);
		st->cap = cap;
	}
	memcpy(st->buf + st->len, data, len);
	st->len += len;
	return 0;
}

int qapi_restricted_finish(struct hreq *rq)
{
	struct token_state *st = rq->state;
	struct q_error e;
	struct qstream *s;
	struct timespec now;
	enum eas_status es;

	q_error_init(&e, wants_json(rq));
	if (st->too_large)
		return token_too_large(rq);
	if (st->over_budget)
		return hreq_busy(rq);
	s = es_calloc(1, sizeof *s);
	q_policy_init(&s->p);
	clock_gettime(CLOCK_REALTIME, &now);
	es = eas_check(rq->cfg->eas, st->buf, st->len,
	               (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, &s->tok);
	if (es != EAS_OK) {
		int rc;
		eas_error(es, &e);
		if (es == EAS_ERROR)
			ingest_log("restricted: the token could not be verified (GnuPG failed)");
		rc = answer_error(rq, &e);
		qstream_free(s);
		return rc;
	}
	if (s->tok.cn)
		snprintf(rq->note, sizeof rq->note, "cn=%.100s", s->tok.cn);
	return dataselect(rq, s, Q_RESTRICTED, s->tok.groups, s->tok.ngroups, &e);
}

void qapi_restricted_done(struct hreq *rq)
{
	struct token_state *st = rq->state;

	if (st)
		free(st->buf);
	free(st);
	rq->state = NULL;
}

/* ---- Restriction lookups (doc/query-api.md, auxiliary routes) ---- */

/*
 * Takes the last value of each of names[0..n) into values (NULL when
 * absent).  Answers (returns 1) a bad query, a missing one with missing_msg
 * (checked first) or another name with "Invalid parameter".
 */
static int aux_params(struct hreq *rq, const char *const *names, size_t n, const char **values,
                      const char *missing_msg)
{
	struct q_error e;

	q_error_init(&e, 0);
	if (check_query_text(rq, &e) < 0)
		return answer_error(rq, &e) < 0 ? -EIO : 1;
	for (size_t k = 0; k < n; k++) {
		size_t pos = 0;
		const char *v;
		values[k] = NULL;
		while ((v = hquery_get(&rq->query, names[k], &pos)))
			values[k] = v;
		if (!values[k])
			return answer_status(rq, 0, 400, missing_msg) < 0 ? -EIO : 1;
	}
	for (size_t i = 0; i < rq->query.n; i++) {
		bool known = false;
		for (size_t k = 0; k < n; k++)
			known |= strcmp(rq->query.v[i].name, names[k]) == 0;
		if (!known) {
			char rep[512], msg[Q_ERR_TEXT];
			q_py_repr(rq->query.v[i].name, rep, sizeof rep);
			snprintf(msg, sizeof msg, "Invalid parameter %s", rep);
			return answer_status(rq, 0, 400, msg) < 0 ? -EIO : 1;
		}
	}
	return 0;
}

/* Runs sql on the read pool; 0 with *res, or answered 500 Q_MSG_DB (1). */
static int aux_query(struct hreq *rq, const char *sql, int nparams, const char *const *params,
                     PGresult **res)
{
	struct db_conn *db = db_acquire(rq->svc->read_pool);
	char err[512];
	int rc = db_query(db, sql, nparams, params, res, err, sizeof err);

	db_release(rq->svc->read_pool, db);
	if (rc == 0)
		return 0;
	ingest_log("%s: %s", rq->path, err);
	return answer_status(rq, 0, 500, Q_MSG_DB) < 0 ? -EIO : 1;
}

/* Appends a text column as a JSON string, or null. */
static void json_col(jsonw_t *w, const PGresult *r, int i, int col)
{
	if (PQgetisnull(r, i, col))
		jsonw_lit(w, "null");
	else
		jsonw_str(w, PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col));
}

static int answer_json(struct hreq *rq, jsonw_t *w)
{
	size_t len;
	char *text = jsonw_take(w, &len);
	int rc;

	if (!text) {
		jsonw_fini(w);
		return answer_status(rq, 0, 500, NULL);
	}
	rc = hreq_data(rq, MHD_HTTP_OK, JSON_TYPE, text, len);
	free(text);
	return rc;
}

#define SQL_POLICY_TEXT(b) "CASE WHEN " b " THEN '1' WHEN NOT " b " THEN '0' END"

int qapi_nodes_finish(struct hreq *rq)
{
	PGresult *r;
	jsonw_t w;
	int rc;

	if ((rc = aux_query(rq, "SELECT name, " SQL_POLICY_TEXT("restriction_policy")
	                    " FROM nodes WHERE name IS NOT NULL ORDER BY id", 0, NULL, &r)) != 0)
		return rc < 0 ? rc : 0;
	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"nodes\":[");
	for (int i = 0; i < PQntuples(r); i++) {
		jsonw_lit(&w, i ? ",{\"name\":" : "{\"name\":");
		json_col(&w, r, i, 0);
		jsonw_lit(&w, ",\"restriction_policy\":");
		json_col(&w, r, i, 1);
		jsonw_lit(&w, "}");
	}
	jsonw_lit(&w, "]}");
	PQclear(r);
	return answer_json(rq, &w);
}

int qapi_networks_finish(struct hreq *rq)
{
	PGresult *r;
	jsonw_t w;
	int rc;

	if ((rc = aux_query(rq, "SELECT w.name, n.name, "
	                    SQL_POLICY_TEXT("(n.restriction_policy <> w.inverted_policy)")
	                    " FROM networks w JOIN nodes n ON n.id = w.node_id"
	                    " WHERE n.name IS NOT NULL ORDER BY n.id, w.name", 0, NULL, &r)) != 0)
		return rc < 0 ? rc : 0;
	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"networks\":[");
	for (int i = 0; i < PQntuples(r); i++) {
		jsonw_lit(&w, i ? ",{\"name\":" : "{\"name\":");
		json_col(&w, r, i, 0);
		jsonw_lit(&w, ",\"node\":");
		json_col(&w, r, i, 1);
		jsonw_lit(&w, ",\"restriction_policy\":");
		json_col(&w, r, i, 2);
		jsonw_lit(&w, "}");
	}
	jsonw_lit(&w, "]}");
	PQclear(r);
	return answer_json(rq, &w);
}

#define MSG_BOTH "Both 'node' and 'network' parameters are required"
#define SQL_PAIR "SELECT n.restriction_policy, w.inverted_policy, w.eas_group" \
	" FROM networks w JOIN nodes n ON n.id = w.node_id WHERE n.name = $1 AND w.name = $2"

/* The (node, network) row of the query's node and network; 0 with *r, or answered (1). */
static int pair_row(struct hreq *rq, PGresult **r)
{
	static const char *const names[] = { "node", "network" };
	const char *v[2];
	int rc;

	if ((rc = aux_params(rq, names, 2, v, MSG_BOTH)) != 0)
		return rc;
	if ((rc = aux_query(rq, SQL_PAIR, 2, v, r)) != 0)
		return rc;
	if (PQntuples(*r) == 0) {
		PQclear(*r);
		return answer_status(rq, 0, 400, Q_MSG_NO_ENTRY) < 0 ? -EIO : 1;
	}
	return 0;
}

int qapi_is_restricted_finish(struct hreq *rq)
{
	PGresult *r;
	jsonw_t w;
	int rc, pol, inv;

	if ((rc = pair_row(rq, &r)) != 0)
		return rc < 0 ? rc : 0;
	pol = tri(r, 0, 0);
	inv = tri(r, 0, 1);
	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"restricted\":");
	jsonw_lit(&w, pol < 0 || inv < 0 ? "\"not yet defined\"" : pol != inv ? "\"yes\"" : "\"no\"");
	jsonw_lit(&w, ",\"group\":");
	json_col(&w, r, 0, 2);
	jsonw_lit(&w, "}");
	PQclear(r);
	return answer_json(rq, &w);
}

int qapi_network_policy_finish(struct hreq *rq)
{
	PGresult *r;
	jsonw_t w;
	int rc, inv;

	if ((rc = pair_row(rq, &r)) != 0)
		return rc < 0 ? rc : 0;
	inv = tri(r, 0, 1);
	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"invert_policy\":");
	jsonw_lit(&w, inv < 0 ? "null" : inv ? "\"1\"" : "\"0\"");
	jsonw_lit(&w, ",\"eas_group\":");
	json_col(&w, r, 0, 2);
	jsonw_lit(&w, "}");
	PQclear(r);
	return answer_json(rq, &w);
}

int qapi_node_policy_finish(struct hreq *rq)
{
	static const char *const names[] = { "node" };
	const char *v[1];
	PGresult *r;
	jsonw_t w;
	int rc, pol;

	if ((rc = aux_params(rq, names, 1, v, "'node' parameter is required")) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = aux_query(rq, "SELECT restriction_policy FROM nodes WHERE name = $1", 1, v, &r)) != 0)
		return rc < 0 ? rc : 0;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return answer_status(rq, 0, 400, "No entry that matches given node parameter");
	}
	pol = tri(r, 0, 0);
	PQclear(r);
	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"restriction_policy\":");
	jsonw_lit(&w, pol < 0 ? "null" : pol ? "\"1\"" : "\"0\"");
	jsonw_lit(&w, "}");
	return answer_json(rq, &w);
}

/*
 * Upstream's grants test: the service's role (or a role it is a member of,
 * or PUBLIC) holds SELECT and INSERT on dataselect_stats and payloads and
 * UPDATE on dataselect_stats, as information_schema.role_table_grants says.
 */
#define SQL_GRANTS "SELECT count(DISTINCT (table_name, privilege_type)) = 5" \
	" FROM information_schema.role_table_grants" \
	" WHERE (grantee IN (SELECT role_name FROM information_schema.enabled_roles) OR grantee = 'PUBLIC')" \
	" AND table_schema = ANY (current_schemas(false))" \
	" AND ((table_name IN ('dataselect_stats', 'payloads') AND privilege_type IN ('SELECT', 'INSERT'))" \
	" OR (table_name = 'dataselect_stats' AND privilege_type = 'UPDATE'))"

int qapi_health_finish(struct hreq *rq)
{
	struct db_conn *db = db_acquire(rq->svc->write_pool);
	PGresult *r = NULL;
	char err[512];
	int rc = db_query(db, SQL_GRANTS, 0, NULL, &r, err, sizeof err);
	bool ok = rc == 0 && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';

	db_release(rq->svc->write_pool, db);
	PQclear(r);
	if (rc < 0)
		ingest_log("_health: %s", err);
	else if (!ok)
		ingest_log("_health: the database role lacks SELECT, INSERT or UPDATE on dataselect_stats "
		           "or payloads");
	if (!ok)
		return answer_status(rq, 0, 500, MSG_HEALTH_BAD);
	return hreq_data(rq, MHD_HTTP_OK, "text/plain; charset=UTF-8", MSG_HEALTH_OK,
	                 strlen(MSG_HEALTH_OK));
}

/* ---- Documents ---- */

/* text with every "@PREFIX@" replaced by the configured prefix; the caller frees. */
static char *with_prefix(const char *text, const char *prefix, size_t *len)
{
	static const char mark[] = "@PREFIX@";
	size_t n = 0, plen = strlen(prefix), mlen = sizeof mark - 1;
	const char *p;
	char *out, *o;

	for (p = text; (p = strstr(p, mark)); p += mlen)
		n++;
	out = o = es_malloc(strlen(text) + n * plen + 1);
	for (p = text;;) {
		const char *m = strstr(p, mark);
		size_t k = m ? (size_t)(m - p) : strlen(p);
		memcpy(o, p, k);
		o += k;
		if (!m)
			break;
		memcpy(o, prefix, plen);
		o += plen;
		p = m + mlen;
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

static int answer_document(struct hreq *rq, const char *ctype, const char *text)
{
	size_t len;
	char *doc = with_prefix(text, rq->cfg->prefix, &len);
	int rc = hreq_data(rq, MHD_HTTP_OK, ctype, doc, len);

	free(doc);
	return rc;
}

int qapi_openapi_finish(struct hreq *rq)
{
	return answer_document(rq, "application/yaml; charset=UTF-8", qapi_openapi_yaml);
}

static const char index_html[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\"><head><meta charset=\"UTF-8\">"
	"<title>EIDA statistics</title></head><body>\n"
	"<h1>EIDA statistics</h1>\n"
	"<p>This is eidastats-ingestd, the central EIDA statistics web service. EIDA nodes "
	"submit their monthly dataselect usage statistics here (<code>submit</code>); anybody "
	"can read them with the query API below, compatible with EIDA's statistics service. "
	"Restricted networks are folded into <code>Other</code> rows for anonymous users; EIDA "
	"members POST their EIDA token to <code>dataselect/restricted</code>.</p>\n"
	"<h2>Examples</h2>\n<ul>\n"
	"<li><a href=\"@PREFIX@/dataselect/public?start=2024-01\">Everything since January 2024, one total (CSV)</a></li>\n"
	"<li><a href=\"@PREFIX@/dataselect/public?start=2024-01&amp;end=2024-12&amp;level=node&amp;details=month\">Each node, month by month, in 2024</a></li>\n"
	"<li><a href=\"@PREFIX@/dataselect/public?start=2024-01&amp;level=network&amp;details=year,country&amp;format=json\">Each network by year and country (JSON)</a></li>\n"
	"<li><a href=\"@PREFIX@/nodes\">The nodes and their restriction policy</a></li>\n"
	"<li><a href=\"@PREFIX@/networks\">The networks and whether they are restricted</a></li>\n"
	"<li><a href=\"@PREFIX@/_health\">Health of the service and its database</a></li>\n"
	"<li><a href=\"@PREFIX@/openapi.yaml\">The OpenAPI description of every route</a></li>\n"
	"</ul>\n</body></html>\n";

int qapi_index_finish(struct hreq *rq)
{
	return answer_document(rq, HTML_TYPE, index_html);
}

int qapi_redirect_finish(struct hreq *rq)
{
	char loc[HQUERY_MAX_LEN + 512];

	snprintf(loc, sizeof loc, "%s/%s%s", rq->cfg->prefix, rq->raw_query ? "?" : "",
	         rq->raw_query ? rq->raw_query : "");
	if (strlen(loc) >= sizeof rq->header_value[0])
		snprintf(loc, sizeof loc, "%s/", rq->cfg->prefix);
	hreq_header(rq, MHD_HTTP_HEADER_LOCATION, loc);
	return hreq_data(rq, MHD_HTTP_TEMPORARY_REDIRECT, HTML_TYPE, "", 0);
}
