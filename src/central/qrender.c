/*
 * qrender.c - folding and streamed CSV/JSON rendering (qrender.h).
 */
#include "qrender.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hex.h"
#include "hll.h"
#include "jsonw.h"
#include "utf8.h"

/* Largest text one flush may hold: a date's Other rows (one per country) plus a row. */
#define PENDING_LIMIT (8u << 20)
#define MAX_BUCKETS 4096

struct bucket {
	char *country;          /* NULL: a NULL country (or not detailed). */
	int64_t bytes, reqs, succ;
	hll_t h;
};

enum phase { PH_HEAD, PH_ROWS, PH_TAIL, PH_DONE };

struct q_render {
	const struct query *q;
	const struct q_policy *p;
	char *const *groups;
	size_t ngroups;
	q_row_next_fn next;
	void *ctx;
	int folds;
	enum phase phase;
	jsonw_t out;            /* Pending text. */
	size_t pos;             /* Bytes of out already handed over. */
	size_t rows;
	char date[16];          /* Date of the buckets (rendered). */
	struct bucket *b;       /* The current date's buckets (grown on demand). */
	size_t nb, capb;
	int err;
};

static const char *const names[] = {
	"date", "node", "network", "station", "location", "channel", "country",
	"bytes", "nb_reqs", "nb_successful_reqs", "clients", "hll_clients"
};

int q_render_new(struct q_render **out, const struct query *q, const struct q_policy *p,
                 char *const *groups, size_t ngroups, q_row_next_fn next, void *ctx)
{
	struct q_render *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->q = q;
	r->p = p;
	r->groups = groups;
	r->ngroups = ngroups;
	r->next = next;
	r->ctx = ctx;
	r->folds = q_folds(q);
	jsonw_init(&r->out, PENDING_LIMIT);
	snprintf(r->date, sizeof(r->date), "*");
	*out = r;
	return 0;
}

static void buckets_clear(struct q_render *r)
{
	for (size_t i = 0; i < r->nb; i++) {
		free(r->b[i].country);
		hll_fini(&r->b[i].h);
	}
	r->nb = 0;
}

void q_render_free(struct q_render *r)
{
	if (!r)
		return;
	buckets_clear(r);
	free(r->b);
	jsonw_fini(&r->out);
	free(r);
}

const char *q_render_content_type(const struct q_render *r)
{
	return r->q->json ? "application/json" : "text/csv; charset=UTF-8";
}

size_t q_render_rows(const struct q_render *r)
{
	return r->rows;
}

/* A JSON string of bytes that may not be UTF-8 (the raw query): invalid bytes read as Latin-1. */
static void json_lenient(jsonw_t *w, const char *s)
{
	size_t n = strlen(s);
	char *t;
	size_t k = 0;

	if (utf8_valid(s, n)) {
		jsonw_str(w, s, n);
		return;
	}
	t = malloc(2 * n + 1);
	if (!t) {
		jsonw_str(w, "", 0);
		return;
	}
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_decode((const unsigned char *)s + i, n - i, &cp);

		if (l) {
			memcpy(t + k, s + i, l);
			k += l;
			i += l;
		} else {
			unsigned char c = (unsigned char)s[i++];

			t[k++] = (char)(0xc0 | (c >> 6));
			t[k++] = (char)(0x80 | (c & 0x3f));
		}
	}
	jsonw_str(w, t, k);
	free(t);
}

static void head(struct q_render *r)
{
	jsonw_t *w = &r->out;

	if (r->q->json) {
		jsonw_lit(w, "{\"version\": \"1.0.0\", \"request_parameters\": ");
		json_lenient(w, r->q->raw);
		jsonw_lit(w, ", \"results\": [");
		return;
	}
	jsonw_lit(w, "# version: 1.0.0\n# request_parameters: ");
	jsonw_lit(w, r->q->raw);
	jsonw_lit(w, "\n");
	for (int i = 0; i < 11 + r->q->hllvalues; i++) {
		if (i)
			jsonw_lit(w, ",");
		jsonw_lit(w, names[i]);
	}
}

/* One row's values; s[] NULL means null/None, nums are the integer columns. */
static void emit(struct q_render *r, const char *s[7], const int64_t num[3], uint64_t clients,
                 const char *hex)
{
	jsonw_t *w = &r->out;
	int json = r->q->json;

	if (json) {
		jsonw_lit(w, r->rows ? ", {" : "{");
		for (int i = 0; i < 7; i++) {
			if (i)
				jsonw_lit(w, ", ");
			jsonw_lit(w, "\"");
			jsonw_lit(w, names[i]);
			jsonw_lit(w, "\": ");
			if (s[i])
				jsonw_str(w, s[i], strlen(s[i]));
			else
				jsonw_lit(w, "null");
		}
		for (int i = 0; i < 3; i++) {
			jsonw_lit(w, ", \"");
			jsonw_lit(w, names[7 + i]);
			jsonw_lit(w, "\": ");
			jsonw_i64(w, num[i]);
		}
		jsonw_lit(w, ", \"clients\": ");
		jsonw_u64(w, clients);
		if (r->q->hllvalues) {
			jsonw_lit(w, ", \"hll_clients\": ");
			jsonw_str(w, hex, strlen(hex));
		}
		jsonw_lit(w, "}");
	} else {
		jsonw_lit(w, "\n");
		for (int i = 0; i < 7; i++) {
			jsonw_lit(w, s[i] ? s[i] : "None");
			jsonw_lit(w, ",");
		}
		for (int i = 0; i < 3; i++) {
			jsonw_i64(w, num[i]);
			jsonw_lit(w, ",");
		}
		jsonw_u64(w, clients);
		if (r->q->hllvalues) {
			jsonw_lit(w, ",");
			jsonw_lit(w, hex);
		}
	}
	r->rows++;
}

static int cmp_bucket(const void *a, const void *b)
{
	const struct bucket *x = a, *y = b;

	if (!x->country || !y->country)
		return (x->country == NULL) - (y->country == NULL);
	return strcmp(x->country, y->country);
}

/* Emits the Other rows of the current date, ordered by country (NULL last). */
static void flush_others(struct q_render *r)
{
	int cdet = (r->q->details & Q_DETAIL_COUNTRY) != 0;

	if (r->nb)
		qsort(r->b, r->nb, sizeof(*r->b), cmp_bucket);
	for (size_t i = 0; i < r->nb; i++) {
		struct bucket *k = &r->b[i];
		const char *s[7] = { r->date, "Other", "Other", "*", "*", "*",
		                     cdet ? k->country : "*" };
		int64_t num[3] = { k->bytes, k->reqs, k->succ };
		char hex[HLL_HEX_MAX];

		hll_to_hex(&k->h, hex);
		for (char *c = hex + 2; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		emit(r, s, num, hll_cardinality(&k->h), hex);
	}
	buckets_clear(r);
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x;

	if (!s) {
		*v = 0;
		return 0;
	}
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return ES_EFORMAT;
	*v = x;
	return 0;
}

static int add_sat(int64_t *a, int64_t b)
{
	if (__builtin_add_overflow(*a, b, a))
		return ES_ELIMIT;
	return 0;
}

/* Folds a row into its (date, country) bucket. */
static int fold(struct q_render *r, const char *country, const int64_t num[3], const hll_t *h)
{
	struct bucket *k = NULL;
	int rc = 0;

	for (size_t i = r->nb; i-- > 0;) {
		const char *c = r->b[i].country;

		if ((c == NULL && country == NULL) || (c && country && strcmp(c, country) == 0)) {
			k = &r->b[i];
			break;
		}
	}
	if (!k) {
		if (r->nb >= MAX_BUCKETS)
			return ES_ELIMIT;
		if (r->nb == r->capb) {
			size_t nc = r->capb ? 2 * r->capb : 16;
			struct bucket *nb = realloc(r->b, nc * sizeof(*nb));

			if (!nb)
				return -ENOMEM;
			r->b = nb;
			r->capb = nc;
		}
		k = &r->b[r->nb];
		memset(k, 0, sizeof(*k));
		hll_init(&k->h);
		if (country && !(k->country = strdup(country)))
			return -ENOMEM;
		r->nb++;
	}
	/* Every folded row counts, the bucket's first included. */
	rc |= add_sat(&k->bytes, num[0]);
	rc |= add_sat(&k->reqs, num[1]);
	rc |= add_sat(&k->succ, num[2]);
	hll_union(&k->h, h);
	return rc ? ES_ELIMIT : 0;
}

/* Reads one row and renders it (and a finished date's Other rows). 0 at the end. */
static int step(struct q_render *r)
{
	struct q_row row = { .clients_len = 0 };
	const struct query *q = r->q;
	int rc = r->next(r->ctx, &row);
	int cdet = (q->details & Q_DETAIL_COUNTRY) != 0;
	int64_t num[3];
	hll_t h;
	const char *s[7];
	char hex[HLL_HEX_MAX];
	const char *date;
	int bin;

	if (rc <= 0)
		return rc;
	for (int i = 0; i < 3; i++)
		if (parse_i64(row.col[7 + i], &num[i]) < 0)
			return ES_EFORMAT;
	hll_init(&h);
	bin = row.col[10] && row.clients_len > 0;
	if (bin)
		rc = hll_parse(&h, (const uint8_t *)row.col[10], row.clients_len, NULL);
	else if (row.col[10])
		rc = hll_parse_hex(&h, row.col[10], strlen(row.col[10]), NULL);
	if (rc < 0) {
		hll_fini(&h);
		return rc;
	}
	date = row.col[0] ? row.col[0] : "*";
	if (strcmp(date, r->date) != 0) {
		flush_others(r);
		snprintf(r->date, sizeof(r->date), "%s", date);
	}
	if (r->folds && row.col[1] && row.col[2]
	    && !q_policy_visible(r->p, row.col[1], row.col[2], q->endpoint == Q_RESTRICTED,
	                         r->groups, r->ngroups)) {
		rc = fold(r, cdet ? row.col[6] : NULL, num, &h);
		hll_fini(&h);
		return rc < 0 ? rc : 1;
	}
	s[0] = date;
	for (int i = 1; i < 6; i++)
		s[i] = row.col[i] ? row.col[i] : "*";
	s[6] = cdet ? row.col[6] : "*";
	/* The database's own bytes when they fit (always, for what PostgreSQL writes). */
	if (!r->q->hllvalues) {
		hex[0] = '\0';
	} else if (bin && 2 * row.clients_len + 3 <= sizeof(hex)) {
		hex[0] = '\\';
		hex[1] = 'x';
		hex_encode(hex + 2, row.col[10], row.clients_len);
	} else if (!bin && row.col[10] && strlen(row.col[10]) < sizeof(hex)) {
		size_t n = strlen(row.col[10]);

		for (size_t i = 0; i <= n; i++)
			hex[i] = (char)tolower((unsigned char)row.col[10][i]);
	} else {
		hll_to_hex(&h, hex);
		for (char *c = hex + 2; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	emit(r, s, num, hll_cardinality(&h), hex);
	hll_fini(&h);
	return 1;
}

ssize_t q_render_read(struct q_render *r, char *buf, size_t cap)
{
	size_t done = 0;

	if (r->err)
		return r->err;
	while (done < cap) {
		if (r->pos < r->out.len) {
			size_t n = r->out.len - r->pos;

			if (n > cap - done)
				n = cap - done;
			memcpy(buf + done, r->out.buf + r->pos, n);
			r->pos += n;
			done += n;
			continue;
		}
		jsonw_reset(&r->out);
		r->pos = 0;
		if (r->phase == PH_DONE)
			break;
		if (r->phase == PH_HEAD) {
			head(r);
			r->phase = PH_ROWS;
		} else if (r->phase == PH_ROWS) {
			int rc = step(r);

			if (rc < 0) {
				/* Hand over what is ready first; the error comes at the next call. */
				r->err = rc;
				return done ? (ssize_t)done : rc;
			}
			if (rc == 0) {
				flush_others(r);
				r->phase = PH_TAIL;
			}
		} else {
			if (r->q->json)
				jsonw_lit(&r->out, "]}");
			r->phase = PH_DONE;
		}
		if (jsonw_error(&r->out)) {
			r->err = jsonw_error(&r->out);
			return done ? (ssize_t)done : r->err;
		}
	}
	return (ssize_t)done;
}
