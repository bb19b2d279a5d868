/*
 * dbcheck.c - compares what the central database holds for one node with
 * golden payloads, as the daemon's end-to-end tests need.
 *
 *   dbcheck CONNINFO NODE GOLDEN.json...
 *
 * The goldens (upstream's payload JSON, e.g. tests/data/.../expected.json)
 * are summed into one expectation: statistics with the same key (month,
 * network, station, location, channel, country) add their counters and
 * union their HLLs, the country normalised as the ingest service does (null
 * or not two characters → "").  The node's rows of dataselect_stats must
 * then match it exactly: the same keys, the same bytes / nb_reqs /
 * nb_successful_reqs / nb_failed_reqs, and hll_cardinality(clients) equal to
 * the expected union's estimate (PostgreSQL re-encodes HLLs, so bytes are
 * not compared).  Prints "dbcheck: N statistics match" and exits 0, or lists
 * up to 20 differences and exits 1; 2 on usage or database errors.
 * A test tool: it is not installed.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"
#include "mem.h"

struct row {
	char key[160];
	long long bytes, reqs, ok, failed;
	hll_t hll;
	double card;
	int seen;
};

struct table {
	struct row *v;
	size_t n, cap;
};

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->key, ((const struct row *)b)->key);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long long jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static void make_key(char *key, size_t len, const char *date, const char *net, const char *sta,
                     const char *loc, const char *cha, const char *country)
{
	if (!country || strlen(country) != 2)
		country = "";
	snprintf(key, len, "%s|%s|%s|%s|%s|%s", date, net, sta, loc, cha, country);
}

static struct row *find(struct table *t, const char *key)
{
	struct row probe;
	snprintf(probe.key, sizeof probe.key, "%s", key);
	return bsearch(&probe, t->v, t->n, sizeof *t->v, row_cmp);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 20, len = 0, n;
	char *buf;

	if (!f)
		return NULL;
	buf = es_malloc(cap);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = es_realloc(buf, cap);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Adds a golden's statistics to the expectation (kept sorted by key). */
static int add_golden(struct table *t, const char *path)
{
	char *text = slurp(path);
	cJSON *root, *stats, *s;

	if (!text) {
		fprintf(stderr, "dbcheck: cannot read %s\n", path);
		return -1;
	}
	root = cJSON_Parse(text);
	free(text);
	stats = cJSON_GetObjectItemCaseSensitive(root, "stats");
	if (!cJSON_IsArray(stats)) {
		fprintf(stderr, "dbcheck: %s has no stats array\n", path);
		cJSON_Delete(root);
		return -1;
	}
	cJSON_ArrayForEach(s, stats) {
		char key[160];
		const char *hex = jstr(s, "clients");
		const char *why = NULL;
		struct row *r;
		hll_t h;

		make_key(key, sizeof key, jstr(s, "month") ? jstr(s, "month") : "",
		         jstr(s, "network") ? jstr(s, "network") : "",
		         jstr(s, "station") ? jstr(s, "station") : "",
		         jstr(s, "location") ? jstr(s, "location") : "",
		         jstr(s, "channel") ? jstr(s, "channel") : "", jstr(s, "country"));
		hll_init(&h);
		if (!hex || hll_parse_hex(&h, hex, strlen(hex), &why) != 0) {
			fprintf(stderr, "dbcheck: %s: bad clients for %s: %s\n", path, key, why ? why : "");
			cJSON_Delete(root);
			return -1;
		}
		/* Equal keys are folded together after all goldens are read. */
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 1024;
			t->v = es_reallocarray(t->v, t->cap, sizeof *t->v);
		}
		r = &t->v[t->n++];
		memset(r, 0, sizeof *r);
		snprintf(r->key, sizeof r->key, "%s", key);
		r->bytes = jnum(s, "bytes");
		r->reqs = jnum(s, "nb_requests");
		r->ok = jnum(s, "nb_successful_requests");
		r->failed = jnum(s, "nb_unsuccessful_requests");
		r->hll = h;   /* Takes over the parsed set. */
	}
	cJSON_Delete(root);
	return 0;
}

/* Sorts the rows and folds rows with equal keys into one. */
static void fold(struct table *t)
{
	size_t m = 0;

	qsort(t->v, t->n, sizeof *t->v, row_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (m && strcmp(t->v[m - 1].key, t->v[i].key) == 0) {
			struct row *a = &t->v[m - 1], *b = &t->v[i];
			a->bytes += b->bytes;
			a->reqs += b->reqs;
			a->ok += b->ok;
			a->failed += b->failed;
			hll_union(&a->hll, &b->hll);
			hll_fini(&b->hll);
		} else {
			t->v[m++] = t->v[i];
		}
	}
	t->n = m;
}

int main(int argc, char **argv)
{
	struct table want = { 0 };
	const char *params[1];
	PGconn *db;
	PGresult *res;
	int diffs = 0, rows;

	if (argc < 4) {
		fprintf(stderr, "usage: dbcheck CONNINFO NODE GOLDEN.json...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++)
		if (add_golden(&want, argv[i]) < 0)
			return 2;
	fold(&want);
	for (size_t i = 0; i < want.n; i++)
		want.v[i].card = hll_estimate(&want.v[i].hll);

	db = PQconnectdb(argv[1]);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "dbcheck: %s", PQerrorMessage(db));
		return 2;
	}
	params[0] = argv[2];
	res = PQexecParams(db,
	                   "SELECT to_char(s.date, 'YYYY-MM-DD'), s.network, s.station, s.location, "
	                   "s.channel, s.country, s.bytes, s.nb_reqs, s.nb_successful_reqs, "
	                   "s.nb_failed_reqs, hll_cardinality(s.clients) "
	                   "FROM dataselect_stats s JOIN nodes n ON n.id = s.node_id WHERE n.name = $1",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "dbcheck: %s", PQerrorMessage(db));
		return 2;
	}
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		char key[160];
		struct row *r;
		long long bytes = atoll(PQgetvalue(res, i, 6)), reqs = atoll(PQgetvalue(res, i, 7));
		long long ok = atoll(PQgetvalue(res, i, 8)), failed = atoll(PQgetvalue(res, i, 9));
		double card = PQgetisnull(res, i, 10) ? -1 : atof(PQgetvalue(res, i, 10));

		make_key(key, sizeof key, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		         PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
		         PQgetvalue(res, i, 5));
		r = find(&want, key);
		if (!r) {
			if (diffs++ < 20)
				printf("extra row in the database: %s\n", key);
			continue;
		}
		if (r->seen++) {
			if (diffs++ < 20)
				printf("row twice in the database: %s\n", key);
			continue;
		}
		if (bytes != r->bytes || reqs != r->reqs || ok != r->ok || failed != r->failed ||
		    fabs(card - r->card) > 1e-6 * (r->card > 1 ? r->card : 1)) {
			if (diffs++ < 20)
				printf("%s: database bytes=%lld reqs=%lld ok=%lld failed=%lld clients=%.6f; "
				       "golden bytes=%lld reqs=%lld ok=%lld failed=%lld clients=%.6f\n",
				       key, bytes, reqs, ok, failed, card, r->bytes, r->reqs, r->ok, r->failed,
				       r->card);
		}
	}
	for (size_t i = 0; i < want.n; i++) {
		if (!want.v[i].seen && diffs++ < 20)
			printf("missing from the database: %s\n", want.v[i].key);
		hll_fini(&want.v[i].hll);
	}
	PQclear(res);
	PQfinish(db);
	free(want.v);
	if (diffs) {
		printf("dbcheck: %d differences (%d rows in the database, %zu expected)\n", diffs, rows,
		       want.n);
		return 1;
	}
	printf("dbcheck: %zu statistics match\n", want.n);
	return 0;
}
