/* Tests of qrender.h: folding into Other rows and streamed CSV/JSON. */
#include "unit.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>

#include "hex.h"
#include "hll.h"
#include "qrender.h"
#include "query.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* A row source over an array of rows. */
struct src {
	const struct q_row *rows;
	size_t n, i;
	int fail_at;            /* Row index whose read fails (-1: none). */
};

static int next_row(void *ctx, struct q_row *row)
{
	struct src *s = ctx;

	if ((int)s->i == s->fail_at)
		return -EIO;
	if (s->i >= s->n)
		return 0;
	*row = s->rows[s->i++];
	return 1;
}

/* Lower-case "\x..." text of a set of clients named c0 .. c(n-1) + off. */
static char *hll_of(int off, int n)
{
	hll_t h;
	char *hex = malloc(HLL_HEX_MAX);
	char name[32];

	ASSERT(hex);
	hll_init(&h);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c%d", off + i);
		hll_add_raw(&h, hll_client_raw(name, strlen(name)));
	}
	hll_to_hex(&h, hex);
	for (char *c = hex + 2; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	hll_fini(&h);
	return hex;
}

/* Cardinality of the union of client ranges [off_i, off_i + n_i). */
static uint64_t card_union(const int *off, const int *n, int k)
{
	hll_t h;
	char name[32];
	uint64_t c;

	hll_init(&h);
	for (int j = 0; j < k; j++)
		for (int i = 0; i < n[j]; i++) {
			snprintf(name, sizeof(name), "c%d", off[j] + i);
			hll_add_raw(&h, hll_client_raw(name, strlen(name)));
		}
	c = hll_cardinality(&h);
	hll_fini(&h);
	return c;
}

static void policy(struct q_policy *p)
{
	q_policy_init(p);
	ASSERT_OK(q_policy_add_node(p, "A", 0, "/op/a"));
	ASSERT_OK(q_policy_add_node(p, "B", 1, NULL));
	ASSERT_OK(q_policy_add_net(p, "A", "FR", 0, NULL));
	ASSERT_OK(q_policy_add_net(p, "A", "Z3", 1, "/epos/z3"));
	ASSERT_OK(q_policy_add_net(p, "B", "FR", 0, NULL));
	ASSERT_OK(q_policy_add_net(p, "B", "GE", 1, NULL));
	ASSERT_OK(q_policy_add_net(p, "B", "XX", -1, NULL));
	q_policy_seal(p);
}

/* Renders everything with reads of `chunk` bytes (sort: q_render_sort_dates()); returns the malloc()ed text. */
static char *render_as(const struct query *q, const struct q_policy *p, char *const *g, size_t ng,
                       const struct q_row *rows, size_t n, size_t chunk, int sort, int *err)
{
	struct src s = { rows, n, 0, -1 };
	struct q_render *r;
	size_t len = 0, cap = 1024;
	char *out = malloc(cap);
	char *buf = malloc(chunk);
	ssize_t k;

	ASSERT(out && buf);
	ASSERT_OK(q_render_new(&r, q, p, g, ng, next_row, &s));
	if (sort)
		q_render_sort_dates(r);
	*err = 0;
	while ((k = q_render_read(r, buf, chunk)) > 0) {
		ASSERT((size_t)k <= chunk);
		while (len + (size_t)k + 1 > cap)
			ASSERT((out = realloc(out, cap *= 2)));
		memcpy(out + len, buf, (size_t)k);
		len += (size_t)k;
	}
	if (k < 0)
		*err = (int)k;
	out[len] = '\0';
	q_render_free(r);
	free(buf);
	return out;
}

static char *render(const struct query *q, const struct q_policy *p, char *const *g, size_t ng,
                    const struct q_row *rows, size_t n, size_t chunk, int *err)
{
	return render_as(q, p, g, ng, rows, n, chunk, 0, err);
}

static void query_of(struct query *q, enum q_endpoint ep, int op, const struct q_pair *pp, size_t n,
                     const char *raw, const struct q_policy *p)
{
	struct q_error e;

	q_error_init(&e, 0);
	ASSERT_OK(q_parse(q, ep, op, pp, n, raw, p, &e));
}

TEST(qrender_csv_total)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" } };
	char *h = hll_of(0, 3);
	struct q_row rows[] = { { { NULL, NULL, NULL, NULL, NULL, NULL, NULL, "100", "7", "6", h, "f" }, 0 } };
	int err;
	char *out;

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "start=2021-01", &p);
	out = render(&q, &p, NULL, 0, rows, 1, 4096, &err);
	ASSERT_OK(err);
	ASSERT_STREQ(out, "# version: 1.0.0\n# request_parameters: start=2021-01\n"
	             "date,node,network,station,location,channel,country,bytes,nb_reqs,nb_successful_reqs,clients\n"
	             "*,*,*,*,*,*,*,100,7,6,3");
	free(out);
	/* No rows: the body ends right after the header. */
	out = render(&q, &p, NULL, 0, rows, 0, 4096, &err);
	ASSERT_STREQ(out, "# version: 1.0.0\n# request_parameters: start=2021-01\n"
	             "date,node,network,station,location,channel,country,bytes,nb_reqs,nb_successful_reqs,clients");
	free(out);
	q_query_fini(&q);
	q_policy_fini(&p);
	free(h);
}

TEST(qrender_csv_hllvalues_and_null_country)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "hllvalues", "true" }, { "details", "country" },
	                       { "level", "node" } };
	char *h = hll_of(5, 2);
	struct q_row rows[] = {
		{ { NULL, "A", NULL, NULL, NULL, NULL, "GR", "1", "2", "3", h, "t" }, 0 },
		{ { NULL, "A", NULL, NULL, NULL, NULL, NULL, "4", "5", "6", NULL, "t" }, 0 },
	};
	int err;
	char *out, want[4096];

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "x", &p);
	out = render(&q, &p, NULL, 0, rows, 2, 4096, &err);
	ASSERT_OK(err);
	snprintf(want, sizeof(want), "# version: 1.0.0\n# request_parameters: x\n"
	         "date,node,network,station,location,channel,country,bytes,nb_reqs,nb_successful_reqs,clients,hll_clients\n"
	         "*,A,*,*,*,*,GR,1,2,3,2,%s\n*,A,*,*,*,*,None,4,5,6,0,\\x118b7f", h);
	ASSERT_STREQ(out, want);
	free(out);
	q_query_fini(&q);
	q_policy_fini(&p);
	free(h);
}

TEST(qrender_fold_public_every_row_counts)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "level", "network" }, { "details", "month" },
	                       { "format", "json" }, { "hllvalues", "true" } };
	char *h[5] = { hll_of(0, 2), hll_of(1, 3), hll_of(10, 4), hll_of(20, 1), hll_of(30, 200) };
	/* Rows ordered by date as the SQL gives them. A/Z3, B/FR and B/XX (undefined) fold. */
	struct q_row rows[] = {
		{ { "2021-01", "A", "FR", NULL, NULL, NULL, NULL, "10", "1", "1", h[0], "f" }, 0 },
		{ { "2021-01", "A", "Z3", NULL, NULL, NULL, NULL, "20", "2", "2", h[1], "f" }, 0 },
		{ { "2021-01", "B", "FR", NULL, NULL, NULL, NULL, "40", "4", "3", h[2], "f" }, 0 },
		{ { "2021-01", "B", "GE", NULL, NULL, NULL, NULL, "80", "8", "8", h[3], "f" }, 0 },
		{ { "2021-02", "B", "XX", NULL, NULL, NULL, NULL, "5", "1", "0", h[4], "f" }, 0 },
	};
	int err, off1[] = { 1, 10 }, n1[] = { 3, 4 };
	char *out;
	cJSON *j, *res, *o;

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "level=network&x=%C3%A9", &p);
	out = render(&q, &p, NULL, 0, rows, NP(rows), 3, &err);
	ASSERT_OK(err);
	static const char pre[] = "{\"version\": \"1.0.0\", \"request_parameters\": \"level=network&x=%C3%A9\", "
	               "\"results\": [{\"date\": \"2021-01\", \"node\": \"A\", \"network\": \"FR\", "
	               "\"station\": \"*\", \"location\": \"*\", \"channel\": \"*\", \"country\": \"*\", "
	               "\"bytes\": 10, \"nb_reqs\": 1, \"nb_successful_reqs\": 1, \"clients\": 2, "
	               "\"hll_clients\": \"\\\\x";

	ASSERT(strncmp(out, pre, strlen(pre)) == 0);
	j = cJSON_Parse(out);
	ASSERT(j);
	res = cJSON_GetObjectItem(j, "results");
	ASSERT_EQ(cJSON_GetArraySize(res), 4);
	/* 2021-01: A/FR, B/GE, then the Other row of that date with BOTH folded rows. */
	ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(res, 1), "network")->valuestring, "GE");
	o = cJSON_GetArrayItem(res, 2);
	ASSERT_STREQ(cJSON_GetObjectItem(o, "date")->valuestring, "2021-01");
	ASSERT_STREQ(cJSON_GetObjectItem(o, "node")->valuestring, "Other");
	ASSERT_STREQ(cJSON_GetObjectItem(o, "network")->valuestring, "Other");
	ASSERT_STREQ(cJSON_GetObjectItem(o, "country")->valuestring, "*");
	ASSERT_EQ(cJSON_GetObjectItem(o, "bytes")->valuedouble, 60);
	ASSERT_EQ(cJSON_GetObjectItem(o, "nb_reqs")->valuedouble, 6);
	ASSERT_EQ(cJSON_GetObjectItem(o, "nb_successful_reqs")->valuedouble, 5);
	ASSERT_EQ(cJSON_GetObjectItem(o, "clients")->valuedouble, (double)card_union(off1, n1, 2));
	/* 2021-02: one folded row only, counted in full (a SPARSE set: estimate, rounded up). */
	o = cJSON_GetArrayItem(res, 3);
	ASSERT_STREQ(cJSON_GetObjectItem(o, "date")->valuestring, "2021-02");
	ASSERT_EQ(cJSON_GetObjectItem(o, "bytes")->valuedouble, 5);
	{
		int off2[] = { 30 }, n2[] = { 200 };

		ASSERT_EQ(cJSON_GetObjectItem(o, "clients")->valuedouble, (double)card_union(off2, n2, 1));
		ASSERT_STREQ(cJSON_GetObjectItem(o, "hll_clients")->valuestring, h[4]);
	}
	cJSON_Delete(j);
	free(out);
	q_query_fini(&q);
	q_policy_fini(&p);
	for (int i = 0; i < 5; i++)
		free(h[i]);
}

TEST(qrender_fold_restricted_groups_and_country)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "level", "station" }, { "network", "FR" },
	                       { "details", "country" } };
	char *h = hll_of(0, 1);
	char *groups[] = { "/epos/z3" };
	struct q_row rows[] = {
		{ { NULL, "A", "Z3", "S1", NULL, NULL, "GR", "1", "1", "1", h, "t" }, 0 },
		{ { NULL, "B", "FR", "S2", NULL, NULL, "GR", "2", "1", "1", h, "t" }, 0 },
		{ { NULL, "B", "FR", "S3", NULL, NULL, NULL, "4", "1", "1", h, "t" }, 0 },
		{ { NULL, "B", "FR", "S4", NULL, NULL, "DE", "8", "1", "1", h, "t" }, 0 },
		{ { NULL, "B", "FR", "S5", NULL, NULL, "GR", "16", "1", "1", h, "t" }, 0 },
	};
	int err;
	char *out;

	policy(&p);
	query_of(&q, Q_RESTRICTED, 0, pp, NP(pp), "r", &p);
	out = render(&q, &p, groups, 1, rows, NP(rows), 1, &err);
	ASSERT_OK(err);
	/* Z3 is visible to its group; B/FR folds per country, NULL country last. Header order everywhere. */
	ASSERT_STREQ(strchr(strchr(strchr(out, '\n') + 1, '\n') + 1, '\n'),
	             "\n*,A,Z3,S1,*,*,GR,1,1,1,1"
	             "\n*,Other,Other,*,*,*,DE,8,1,1,1"
	             "\n*,Other,Other,*,*,*,GR,18,2,2,1"
	             "\n*,Other,Other,*,*,*,None,4,1,1,1");
	free(out);
	q_query_fini(&q);
	/* An operator sees everything. */
	{
		struct q_pair po[] = { { "start", "2021-01" }, { "level", "station" } };
		char *ops[] = { "/op/a" };

		query_of(&q, Q_RESTRICTED, 1, po, NP(po), "r", &p);
		out = render(&q, &p, ops, 1, rows, NP(rows), 4096, &err);
		ASSERT(strstr(out, "Other") == NULL);
		ASSERT(strstr(out, "\n*,B,FR,S5,*,*,*,16,1,1,1") != NULL);
		free(out);
		q_query_fini(&q);
	}
	q_policy_fini(&p);
	free(h);
}

TEST(qrender_chunks_equal)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "level", "network" }, { "details", "year,country" },
	                       { "format", "json" } };
	enum { N = 300 };
	struct q_row *rows = calloc(N, sizeof(*rows));
	char *h = hll_of(0, 170), *a, *b;
	char year[N][8];
	int err;
	static const char *const nets[] = { "FR", "Z3", "GE", "XX" };

	policy(&p);
	ASSERT(rows);
	for (int i = 0; i < N; i++) {
		snprintf(year[i], sizeof(year[i]), "%d", 2000 + i / 30);
		rows[i] = (struct q_row){ { year[i], i % 3 ? "A" : "B", nets[i % 4], NULL, NULL, NULL,
		                            i % 5 ? "GR" : "\xc3\xa9", "1", "2", "3", h, "t" }, 0 };
	}
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "q", &p);
	a = render(&q, &p, NULL, 0, rows, N, 1, &err);
	ASSERT_OK(err);
	b = render(&q, &p, NULL, 0, rows, N, 65536, &err);
	ASSERT_OK(err);
	ASSERT_STREQ(a, b);
	ASSERT(strstr(a, "\"country\": \"\\u00e9\"") != NULL);
	{
		cJSON *j = cJSON_Parse(a);
		cJSON *res = cJSON_GetObjectItem(j, "results"), *it;
		const char *prev = "";
		int others = 0;
		long sum = 0;

		ASSERT(j);
		cJSON_ArrayForEach(it, res) {
			const char *d = cJSON_GetObjectItem(it, "date")->valuestring;

			ASSERT(strcmp(prev, d) <= 0);   /* sorted by date */
			prev = d;
			others += strcmp(cJSON_GetObjectItem(it, "node")->valuestring, "Other") == 0;
			sum += (long)cJSON_GetObjectItem(it, "bytes")->valuedouble;
		}
		ASSERT_EQ(sum, N);   /* nothing lost by folding */
		ASSERT(others > 0);
		cJSON_Delete(j);
	}
	free(a);
	free(b);
	free(rows);
	free(h);
	q_query_fini(&q);
	q_policy_fini(&p);
}

/* The binary result format (storage bytes in col[10]) renders exactly as the hex text does. */
TEST(qrender_binary_clients)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "level", "network" }, { "details", "month" },
	                       { "hllvalues", "true" }, { "format", "json" } };
	/* EXPLICIT, SPARSE and FULL sets; GE of node B is folded into an Other row. */
	char *h[3] = { hll_of(0, 3), hll_of(10, 300), hll_of(500, 5000) };
	uint8_t bin[3][HLL_MAX_BYTES];
	size_t blen[3];
	struct q_row text[3], raw[3];
	const char *nets[3] = { "FR", "GE", "FR" };
	char *a, *b;
	int err;

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "q", &p);
	for (int i = 0; i < 3; i++) {
		hll_t t;

		hll_init(&t);
		ASSERT_OK(hll_parse_hex(&t, h[i], strlen(h[i]), NULL));
		blen[i] = hll_serialize(&t, bin[i]);
		hll_fini(&t);
		text[i] = (struct q_row){ { "2021-01", i ? "B" : "A", nets[i], NULL, NULL, NULL, NULL,
		                            "1", "2", "3", h[i], "f" }, 0 };
		raw[i] = text[i];
		raw[i].col[10] = (const char *)bin[i];
		raw[i].clients_len = blen[i];
	}
	a = render(&q, &p, NULL, 0, text, 3, 64, &err);
	ASSERT_EQ(err, 0);
	b = render(&q, &p, NULL, 0, raw, 3, 64, &err);
	ASSERT_EQ(err, 0);
	ASSERT_STREQ(a, b);
	ASSERT(strstr(a, "\"Other\"") != NULL);
	ASSERT(strstr(a, h[0]) != NULL);
	free(a);
	free(b);
	/* Bytes that are no HLL: a clean error. */
	raw[0].col[10] = "\x99";
	raw[0].clients_len = 1;
	b = render(&q, &p, NULL, 0, raw, 1, 64, &err);
	ASSERT_EQ(err, ES_EFORMAT);
	free(b);
	for (int i = 0; i < 3; i++)
		free(h[i]);
	q_query_fini(&q);
	q_policy_fini(&p);
}

TEST(qrender_errors)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" } };
	struct q_row bad_num[] = { { { NULL, NULL, NULL, NULL, NULL, NULL, NULL, "1x", "1", "1", NULL, "f" }, 0 } };
	struct q_row bad_hll[] = { { { NULL, NULL, NULL, NULL, NULL, NULL, NULL, "1", "1", "1", "\\x99", "f" }, 0 } };
	int err;
	char *out;

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "", &p);
	out = render(&q, &p, NULL, 0, bad_num, 1, 100, &err);
	ASSERT_ERR(err, ES_EFORMAT);
	free(out);
	out = render(&q, &p, NULL, 0, bad_hll, 1, 100, &err);
	ASSERT(err < 0);
	free(out);
	{
		struct src s = { bad_num, 1, 0, 0 };
		struct q_render *r;
		char buf[4096];

		ASSERT_OK(q_render_new(&r, &q, &p, NULL, 0, next_row, &s));
		ASSERT_STREQ(q_render_content_type(r), "text/csv; charset=UTF-8");
		/* The header first, then the iterator's error, for good. */
		ASSERT(q_render_read(r, buf, sizeof(buf)) > 0);
		ASSERT(q_render_read(r, buf, sizeof(buf)) == -EIO);
		ASSERT(q_render_read(r, buf, sizeof(buf)) == -EIO);
		q_render_free(r);
	}
	q_query_fini(&q);
	q_policy_fini(&p);
}

/*
 * Rows ordered by date only, with stored counts (query.h column 12) and sets
 * only where folded: q_render_sort_dates() renders exactly what the SQL's
 * full order gives, through the packed keys and the texts they cannot hold
 * (a long network or country, NULLs, node names beyond a prefix).
 */
TEST(qrender_sort_dates)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "level", "network" },
	                       { "details", "month,country" } };
	char *h[3] = { hll_of(0, 2), hll_of(1, 300), hll_of(10, 4) };
	/* In the SQL's full order: date, node, network, country, NULLs last. */
	struct q_row sorted[] = {
		{ { "2021-01", "A", "FR", NULL, NULL, NULL, "", "1", "1", "1", NULL, "t", "7" }, 0 },
		{ { "2021-01", "A", "FR", NULL, NULL, NULL, "DE", "2", "1", "1", NULL, "t", "8" }, 0 },
		{ { "2021-01", "A", "FR", NULL, NULL, NULL, "DEU", "3", "1", "1", NULL, "t", "9" }, 0 },
		{ { "2021-01", "A", "FR", NULL, NULL, NULL, NULL, "4", "1", "1", NULL, "t", "10" }, 0 },
		{ { "2021-01", "A", "FRANCE7", NULL, NULL, NULL, "GR", "5", "1", "1", h[2], "t", NULL }, 0 },
		{ { "2021-01", "A", "Z3", NULL, NULL, NULL, "GR", "6", "1", "1", h[0], "t", NULL }, 0 },
		{ { "2021-01", "A", NULL, NULL, NULL, NULL, "GR", "7", "1", "1", NULL, "t", "12" }, 0 },
		{ { "2021-01", "AB", "GE", NULL, NULL, NULL, "GR", "8", "1", "1", h[0], "t", NULL }, 0 },
		{ { "2021-01", "B", "GE", NULL, NULL, NULL, "GR", "9", "1", "1", NULL, "t", "14" }, 0 },
		{ { "2021-01", "B", "XX", NULL, NULL, NULL, "GR", "10", "1", "1", h[1], "t", NULL }, 0 },
		{ { "2021-02", "A", "FR", NULL, NULL, NULL, "GR", "11", "1", "1", NULL, "t", "15" }, 0 },
		{ { "2021-02", "B", "XX", NULL, NULL, NULL, "GR", "12", "1", "1", h[2], "t", NULL }, 0 },
		{ { "2021-03", "B", "GE", NULL, NULL, NULL, NULL, "13", "1", "1", NULL, "t", "16" }, 0 },
	};
	static const size_t order[] = { 9, 4, 0, 8, 6, 2, 5, 7, 3, 1, 11, 10, 12 };
	struct q_row mixed[NP(sorted)];
	int err;
	char *want, *out;

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "x", &p);
	for (size_t i = 0; i < NP(sorted); i++)
		mixed[i] = sorted[order[i]];
	want = render(&q, &p, NULL, 0, sorted, NP(sorted), 4096, &err);
	ASSERT_OK(err);
	/* The stored count is the answer's clients. */
	ASSERT(strstr(want, "\n2021-01,A,FR,*,*,*,DEU,3,1,1,9\n") != NULL);
	ASSERT(strstr(want, "\n2021-01,Other,Other,*,*,*,GR,29,4,4,") != NULL);
	for (size_t chunk = 1; chunk <= 4096; chunk *= 8) {
		out = render_as(&q, &p, NULL, 0, mixed, NP(mixed), chunk, 1, &err);
		ASSERT_OK(err);
		ASSERT_STREQ(out, want);
		free(out);
	}
	free(want);
	/* A folded row without its set is a broken promise of the SQL, not a wrong answer. */
	mixed[0] = sorted[9];
	mixed[0].col[10] = NULL;
	mixed[0].col[12] = "3";
	out = render_as(&q, &p, NULL, 0, mixed, 1, 4096, 1, &err);
	ASSERT_EQ(err, ES_EINTERNAL);
	free(out);
	q_query_fini(&q);
	q_policy_fini(&p);
	for (int i = 0; i < 3; i++)
		free(h[i]);
}

/* Appends one row to a pack (sql/012-rollup-pack.sql's layout); returns the new length. */
static size_t pack_row(uint8_t *p, size_t n, const char *net, const char *cty, int64_t bytes,
                       int64_t reqs, int64_t succ, int64_t card)
{
	const char *s[2] = { net, cty };
	int64_t v[4] = { bytes, reqs, succ, card };

	for (int i = 0; i < 2; i++) {
		if (!s[i]) {
			p[n++] = 255;
			continue;
		}
		p[n++] = (uint8_t)strlen(s[i]);
		memcpy(p + n, s[i], strlen(s[i]));
		n += strlen(s[i]);
	}
	for (int i = 0; i < 4; i++)
		for (int b = 7; b >= 0; b--)
			p[n++] = (uint8_t)((uint64_t)v[i] >> (8 * b));
	return n;
}

static int64_t card_of(const char *hex)
{
	hll_t h;
	int64_t c;

	hll_init(&h);
	ASSERT_OK(hll_parse_hex(&h, hex, strlen(hex), NULL));
	c = (int64_t)hll_cardinality(&h);
	hll_fini(&h);
	return c;
}

/*
 * Packs (q_render_pack_load()) render exactly what the same rows render
 * through the row path: folded pairs and whole node-months found, their sets
 * taken in any order and kind (binary or hex, a node-month's country set for
 * several rows); a bucket whose sets do not match its rows fails.
 */
TEST(qrender_packs_equal_rows)
{
	struct q_policy p;
	struct query q;
	struct q_pair pp[] = { { "start", "2021-01" }, { "end", "2021-02" }, { "level", "network" },
	                       { "details", "month,country" } };
	char *h[6] = { hll_of(0, 2), hll_of(1, 3), hll_of(10, 400), hll_of(20, 1), hll_of(30, 5), hll_of(33, 3000) };
	struct q_row rows[] = {
		{ { "2021-01", "A", "FR", NULL, NULL, NULL, "GR", "10", "1", "1", h[0], "t" }, 0 },
		{ { "2021-01", "A", "Z3", NULL, NULL, NULL, "GR", "20", "2", "2", h[1], "t" }, 0 },
		{ { "2021-01", "B", "FR", NULL, NULL, NULL, "GR", "40", "4", "3", h[2], "t" }, 0 },
		{ { "2021-01", "B", "GE", NULL, NULL, NULL, NULL, "80", "8", "8", h[3], "t" }, 0 },
		{ { "2021-02", "B", "FR", NULL, NULL, NULL, "DE", "5", "1", "0", h[4], "t" }, 0 },
		{ { "2021-02", "B", "XX", NULL, NULL, NULL, "DE", "7", "1", "1", h[5], "t" }, 0 },
	};
	uint8_t pa[256], pb1[256], pb2[256], stored[HLL_MAX_BYTES];
	size_t na = 0, nb1 = 0, nb2 = 0, ns;
	struct q_row packs[3];
	char *want, *got, *country_set;
	const struct q_fold_keys *k;
	struct q_render *r;
	struct src s;
	hll_t u;
	int err;

	policy(&p);
	query_of(&q, Q_PUBLIC, 0, pp, NP(pp), "x", &p);
	want = render(&q, &p, NULL, 0, rows, NP(rows), 5, &err);
	ASSERT_OK(err);
	na = pack_row(pa, na, "FR", "GR", 10, 1, 1, card_of(h[0]));
	na = pack_row(pa, na, "Z3", "GR", 20, 2, 2, card_of(h[1]));
	nb1 = pack_row(pb1, nb1, "FR", "GR", 40, 4, 3, card_of(h[2]));
	nb1 = pack_row(pb1, nb1, "GE", NULL, 80, 8, 8, card_of(h[3]));
	nb2 = pack_row(pb2, nb2, "FR", "DE", 5, 1, 0, card_of(h[4]));
	nb2 = pack_row(pb2, nb2, "XX", "DE", 7, 1, 1, card_of(h[5]));
	memset(packs, 0, sizeof(packs));
	packs[0].col[0] = packs[1].col[0] = "2021-01";
	packs[2].col[0] = "2021-02";
	packs[0].col[1] = "A";
	packs[1].col[1] = packs[2].col[1] = "B";
	packs[0].col[10] = (const char *)pa;
	packs[0].clients_len = na;
	packs[1].col[10] = (const char *)pb1;
	packs[1].clients_len = nb1;
	packs[2].col[10] = (const char *)pb2;
	packs[2].clients_len = nb2;
	/* The country set of B's whole 2021-02: the union of its two rows. */
	hll_init(&u);
	ASSERT_OK(hll_parse_hex(&u, h[4], strlen(h[4]), NULL));
	{
		hll_t x;

		hll_init(&x);
		ASSERT_OK(hll_parse_hex(&x, h[5], strlen(h[5]), NULL));
		hll_union(&u, &x);
		hll_fini(&x);
	}
	country_set = malloc(HLL_HEX_MAX);
	ASSERT(country_set);
	hll_to_hex(&u, country_set);
	hll_fini(&u);
	/* 0: packs in binary; 1: a fold set missing; 2: packs as hex text (psql's and qtool's form). */
	for (int variant = 0; variant < 3; variant++) {
		int bad = variant == 1;
		struct q_row f[3];
		char buf[64], *hexpk[3] = { NULL, NULL, NULL };
		size_t len = 0, cap = 1024;
		ssize_t n;

		got = malloc(cap);
		ASSERT(got);
		if (variant == 2) {
			for (int i = 0; i < 3; i++) {
				hexpk[i] = malloc(2 * packs[i].clients_len + 3);
				ASSERT(hexpk[i]);
				memcpy(hexpk[i], "\\x", 2);
				hex_encode(hexpk[i] + 2, packs[i].col[10], packs[i].clients_len);
				packs[i].col[10] = hexpk[i];
				packs[i].clients_len = 0;
			}
		}
		s = (struct src){ packs, NP(packs), 0, -1 };
		ASSERT_OK(q_render_new(&r, &q, &p, NULL, 0, next_row, &s));
		ASSERT_OK(q_render_pack_load(r));
		ASSERT((k = q_render_fold_keys(r)));
		ASSERT_EQ(k->npairs, 2);
		ASSERT_STREQ(k->pnode[0], "A");
		ASSERT_STREQ(k->pnet[0], "Z3");
		ASSERT_STREQ(k->pnode[1], "B");
		ASSERT_STREQ(k->pnet[1], "FR");
		ASSERT_EQ(k->nwhole, 1);
		ASSERT_STREQ(k->wnode[0], "B");
		ASSERT_STREQ(k->wmonth[0], "2021-02");
		/* Any order; B/FR's set stored (binary), the others as hex text. */
		memset(f, 0, sizeof(f));
		f[0].col[0] = "2021-02";
		f[0].col[1] = "DE";
		f[0].col[2] = country_set;
		f[0].col[3] = "t";
		{
			hll_t x;

			hll_init(&x);
			ASSERT_OK(hll_parse_hex(&x, h[2], strlen(h[2]), NULL));
			ns = hll_serialize(&x, stored);
			hll_fini(&x);
		}
		f[1].col[0] = "2021-01";
		f[1].col[1] = "GR";
		f[1].col[2] = (const char *)stored;
		f[1].clients_len = ns;
		f[1].col[3] = "f";
		f[2].col[0] = "2021-01";
		f[2].col[1] = "GR";
		f[2].col[2] = h[1];
		f[2].col[3] = "f";
		for (int i = 0; i < 3 - bad; i++)
			ASSERT_OK(q_render_fold_add(r, &f[i]));
		while ((n = q_render_read(r, buf, sizeof(buf))) > 0) {
			while (len + (size_t)n + 1 > cap)
				ASSERT((got = realloc(got, cap *= 2)));
			memcpy(got + len, buf, (size_t)n);
			len += (size_t)n;
		}
		got[len] = '\0';
		if (bad) {
			ASSERT_EQ(n, ES_EINTERNAL);
		} else {
			ASSERT_EQ(n, 0);
			ASSERT_STREQ(got, want);
		}
		q_render_free(r);
		free(got);
		for (int i = 0; i < 3; i++)
			free(hexpk[i]);
	}
	free(country_set);
	free(want);
	q_query_fini(&q);
	q_policy_fini(&p);
	for (int i = 0; i < 6; i++)
		free(h[i]);
}

/* A pack cut short is a format error, as is a fold set out of its kind. */
TEST(qrender_packs_bad)
{
	struct q_pack_row pr;
	uint8_t pk[128];
	size_t n = pack_row(pk, 0, "FR", NULL, 1, 2, 3, 4), pos = 0;

	ASSERT_EQ(q_pack_next(pk, n, &pos, &pr), 1);
	ASSERT(pr.net && pr.netlen == 2 && memcmp(pr.net, "FR", 2) == 0);
	ASSERT(!pr.cty);
	ASSERT_EQ(pr.num[0], 1);
	ASSERT_EQ(pr.num[2], 3);
	ASSERT_EQ(pr.card, 4);
	ASSERT_EQ(q_pack_next(pk, n, &pos, &pr), 0);
	for (size_t cut = 1; cut < n; cut++) {
		pos = 0;
		ASSERT_EQ(q_pack_next(pk, cut, &pos, &pr), ES_EFORMAT);
	}
	pk[0] = 9;      /* a network longer than the pack */
	pos = 0;
	ASSERT_EQ(q_pack_next(pk, n, &pos, &pr), ES_EFORMAT);
}
