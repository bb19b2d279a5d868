/*
 * qtool - runs one query of the query API (query.h, qrender.h, eas.h)
 * against a database, the whole pipeline without HTTP, for the shell tests:
 *
 *   qtool CONNINFO public|restricted QUERYSTRING [options]
 *     --raw          answer from dataselect_stats only (no rollup)
 *     --groups G;G   the caller's memberof (restricted; instead of a token)
 *     --token FILE   verify FILE with --keyring DIR (private home --home DIR)
 *     --chunk N      pull the answer N bytes at a time (default 4096)
 *
 * Prints the answer body on stdout and "STATUS CONTENT-TYPE" on stderr;
 * exits 0.  Exits 1 on a usage or database connection failure.  This is
 * also the reference of how the HTTP layer wires the modules together.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "eas.h"
#include "error.h"
#include "hex.h"
#include "qrender.h"
#include "query.h"

/* Percent-decodes s in place ('+' is a space, as in a form query). */
static void decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && hex_digit_any(s[1]) >= 0 && hex_digit_any(s[2]) >= 0) {
			*o++ = (char)(hex_digit_any(s[1]) * 16 + hex_digit_any(s[2]));
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

struct rows {
	PGconn *c;
	PGresult *r;
};

static int next_row(void *ctx, struct q_row *row)
{
	struct rows *s = ctx;

	PQclear(s->r);
	s->r = PQgetResult(s->c);
	if (!s->r)
		return 0;
	if (PQresultStatus(s->r) == PGRES_TUPLES_OK) {
		PQclear(s->r);
		s->r = PQgetResult(s->c);
		return s->r ? ES_EINTERNAL : 0;
	}
	if (PQresultStatus(s->r) != PGRES_SINGLE_TUPLE)
		return ES_EUNAVAIL;
	for (int i = 0; i < Q_SQL_COLS; i++)
		row->col[i] = PQgetisnull(s->r, 0, i) ? NULL : PQgetvalue(s->r, 0, i);
	return 1;
}

/* A packs query (q_sql.packs): the packs, then the folded rows' sets (text format). 0 or -1. */
static int load_packs(PGconn *c, const struct query *q, struct q_render *r)
{
	const struct q_fold_keys *k;
	struct q_sql f;
	PGresult *res;
	int rc;

	if (q_render_pack_load(r) < 0)
		return -1;
	if (!(k = q_render_fold_keys(r)))
		return 0;
	if (q_sql_build_folds(q, k, &f) < 0)
		return -1;
	res = PQexecParams(c, f.text, (int)f.nparams, NULL, (const char *const *)f.params, NULL, NULL, 0);
	q_sql_fini(&f);
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		struct q_row row = { .clients_len = 0 };

		for (int j = 0; j < 4; j++)
			row.col[j] = PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j);
		rc = q_render_fold_add(r, &row) < 0 ? -1 : 0;
	}
	PQclear(res);
	return rc;
}

/* Runs a command without result rows; 0 or -1. */
static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	PQclear(r);
	return ok ? 0 : -1;
}

static int tri(PGresult *r, int i, int col)
{
	if (PQgetisnull(r, i, col))
		return -1;
	return PQgetvalue(r, i, col)[0] == 't';
}

static int load_policy(PGconn *c, struct q_policy *p)
{
	PGresult *r = PQexec(c, Q_SQL_NODES);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return ES_EUNAVAIL;
	}
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = q_policy_add_node(p, PQgetvalue(r, i, 0), tri(r, i, 1),
		                       PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2));
	PQclear(r);
	r = PQexec(c, Q_SQL_NETWORKS);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return ES_EUNAVAIL;
	}
	for (int i = 0; i < PQntuples(r) && !rc; i++)
		rc = q_policy_add_net(p, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), tri(r, i, 2),
		                      PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
	PQclear(r);
	q_policy_seal(p);
	return rc;
}

static void fail(const struct q_error *e)
{
	char body[4096];

	q_error_body(e, body, sizeof(body));
	fputs(body, stdout);
	fflush(stdout);
	fprintf(stderr, "%d %s\n", e->status, q_error_content_type(e));
}

int main(int argc, char **argv)
{
	struct q_pair pairs[Q_MAX_PAIRS + 1];
	size_t n = 0;
	char *qs, *raw;
	struct q_policy p;
	struct query q = { 0 };
	struct q_error e;
	struct q_sql sql = { 0 };
	struct eas_token tok = { 0 };
	char **groups = NULL;
	size_t ngroups = 0;
	char *gbuf = NULL;
	const char *groups_arg = NULL, *token = NULL, *keyring = NULL, *home = NULL;
	int use_rollup = 1, status = 0;
	size_t chunk = 4096;
	enum q_endpoint ep;
	PGconn *c;

	if (argc < 4) {
		fprintf(stderr, "usage: qtool CONNINFO public|restricted QUERY [options]\n");
		return 1;
	}
	ep = strcmp(argv[2], "restricted") == 0 ? Q_RESTRICTED : Q_PUBLIC;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--raw") == 0)
			use_rollup = 0;
		else if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc)
			groups_arg = argv[++i];
		else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
			token = argv[++i];
		else if (strcmp(argv[i], "--keyring") == 0 && i + 1 < argc)
			keyring = argv[++i];
		else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
			home = argv[++i];
		else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
			chunk = (size_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "qtool: unknown option %s\n", argv[i]);
			return 1;
		}
	}
	raw = argv[3];
	qs = strdup(raw);
	for (char *s = qs; s && *s && n <= Q_MAX_PAIRS;) {
		char *amp = strchr(s, '&'), *eq;

		if (amp)
			*amp = '\0';
		if (*s) {
			eq = strchr(s, '=');
			if (eq)
				*eq = '\0';
			decode(s);
			if (eq)
				decode(eq + 1);
			pairs[n].name = s;
			pairs[n].value = eq ? eq + 1 : "";
			n++;
		}
		s = amp ? amp + 1 : NULL;
	}
	c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "qtool: %s", PQerrorMessage(c));
		return 1;
	}
	q_error_init(&e, q_wants_json(pairs, n));
	q_policy_init(&p);
	if (ep == Q_RESTRICTED && token) {
		struct eas_verifier *v = NULL;
		char why[512];
		size_t tl;
		char *body;
		FILE *f = fopen(token, "rb");
		enum eas_status st;

		body = malloc(1 << 20);
		tl = f ? fread(body, 1, 1 << 20, f) : 0;
		if (f)
			fclose(f);
		if (keyring && eas_verifier_new(&v, keyring, home, why, sizeof(why)) < 0)
			fprintf(stderr, "qtool: %s\n", why);
		st = eas_check(v, body, tl, (int64_t)time(NULL) * 1000000, &tok);
		free(body);
		eas_verifier_free(v);
		if (st != EAS_OK) {
			eas_error(st, &e);
			fail(&e);
			goto out;
		}
		groups = tok.groups;
		ngroups = tok.ngroups;
	} else if (ep == Q_RESTRICTED && groups_arg) {
		char *g = gbuf = strdup(groups_arg);

		for (char *s = strtok(g, ";"); s; s = strtok(NULL, ";")) {
			groups = realloc(groups, (ngroups + 1) * sizeof(*groups));
			groups[ngroups++] = s;
		}
	} else if (ep == Q_RESTRICTED) {
		q_error_set(&e, 401, Q_MSG_TOKEN_INVALID);
		fail(&e);
		goto out;
	}
	if (load_policy(c, &p) < 0) {
		q_error_set(&e, 500, Q_MSG_DB);
		fail(&e);
		goto out;
	}
	if (q_parse(&q, ep, ep == Q_RESTRICTED && q_policy_is_operator(&p, groups, ngroups),
	            pairs, n, raw, &p, &e) < 0
	    || q_precheck(&q, &p, groups, ngroups, &e) < 0) {
		fail(&e);
		goto out;
	}
	if (q_sql_build_for(&q, use_rollup, &p, groups, ngroups, &sql) < 0
	    || (sql.date_order && exec_ok(c, Q_SQL_DATE_ORDER_SETTINGS) < 0)
	    || !PQsendQueryParams(c, sql.text, (int)sql.nparams, NULL,
	                          (const char *const *)sql.params, NULL, NULL, 0)
	    || !PQsetSingleRowMode(c)) {
		q_error_set(&e, 500, Q_MSG_SQL);
		fail(&e);
		goto out;
	}
	{
		struct rows rs = { c, NULL };
		struct q_render *r;
		char *buf = malloc(chunk ? chunk : 1);
		ssize_t k;

		if (!buf || q_render_new(&r, &q, &p, groups, ngroups, next_row, &rs) < 0) {
			free(buf);
			status = 1;
			goto out_sql;
		}
		if (sql.date_order)
			q_render_sort_dates(r);
		if (sql.packs && load_packs(c, &q, r) < 0) {
			fprintf(stderr, "qtool: packs or folded sets failed: %s", PQerrorMessage(c));
			q_render_free(r);
			free(buf);
			status = 1;
			goto out_sql;
		}
		while ((k = q_render_read(r, buf, chunk)) > 0)
			fwrite(buf, 1, (size_t)k, stdout);
		fflush(stdout);
		if (k < 0) {
			fprintf(stderr, "qtool: answer failed: %s: %s", es_strerror((int)k),
			        rs.r ? PQresultErrorMessage(rs.r) : "");
			status = 1;
		} else {
			fprintf(stderr, "200 %s\n", q_render_content_type(r));
		}
		q_render_free(r);
		PQclear(rs.r);
		free(buf);
	}
out_sql:
	q_sql_fini(&sql);
out:
	q_query_fini(&q);
	q_policy_fini(&p);
	eas_token_fini(&tok);
	if (gbuf) {
		free(groups);
		free(gbuf);
	}
	PQfinish(c);
	free(qs);
	return status;
}
