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
/* Largest date (rows and their text) q_render_sort_dates() holds to order it. */
#define DATE_LIMIT ((size_t)256 << 20)
#define NO_COL SIZE_MAX
/* Largest packs (text included) q_render_pack_load() holds. */
#define PACK_LIMIT ((size_t)256 << 20)
#define MAX_FSETS ((size_t)Q_PACK_MONTHS * MAX_BUCKETS)

/* One held row: offsets of its values in the date's text (NO_COL: NULL), then pointers. */
struct hrow {
	size_t off[Q_SQL_COLS];
	struct q_row row;
	/*
	 * Sort key: the node's rank among the date's node names, then network
	 * and country packed big-endian (NULL: all ones, last).  slow: a value
	 * the key cannot hold (compare the texts).
	 */
	uint32_t rank;
	uint64_t knet, kcty;
	int slow;
};
#define MAX_RANKED 256

/* The rows of one date, ordered by q_render_sort_dates(). */
struct dbuf {
	char *text;
	size_t len, cap;
	struct hrow *v;
	struct hrow **ord;      /* v's rows of the date, ordered. */
	size_t n, cap_v;
	size_t next;            /* Next row to hand over. */
	size_t ready;           /* Rows of the date (one more is held: the next date's first). */
	int end;                /* The iterator has ended. */
};

struct bucket {
	char *country;          /* NULL: a NULL country (or not detailed). */
	int64_t bytes, reqs, succ;
	hll_t h;
	size_t nf, nw;          /* Rows folded into it: of other node-months, of whole ones. */
};

/* A pack held by q_render_pack_load(): offsets in the packs' text. */
struct pk {
	size_t date, node, pack, len;   /* node NO_COL: NULL */
	int whole;              /* Every row is folded (q_fold_keys). */
};

/* The union of the folded rows' sets of one (date, country) (q_render_fold_add()). */
struct fset {
	char date[16];
	char *country;
	hll_t h;
	size_t n, nc;           /* Sets united: of rows, of whole node-months' countries. */
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
	int sort_dates;
	struct dbuf d;
	int err;
	/* Packs (q_render_pack_load()). */
	int packs;
	char *pt;
	size_t ptlen, ptcap;
	struct pk *pk;
	size_t npk, cappk, pki, ppos;
	struct q_fold_keys fk;
	struct fset *fs;        /* In (date, country) order. */
	size_t nfs, capfs;
	char net[256], cty[256];
	const char *fnode;      /* folded()'s last answer, for fnode (a pointer in pt) and fnet. */
	char fnet[256];
	size_t fnetlen;
	int fres;
	int pfirst;             /* step_pack() is past the first row of pk[pki]. */
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

void q_render_sort_dates(struct q_render *r)
{
	r->sort_dates = 1;
}

void q_render_free(struct q_render *r)
{
	if (!r)
		return;
	buckets_clear(r);
	free(r->b);
	free(r->d.text);
	free(r->d.v);
	free(r->d.ord);
	free(r->pt);
	free(r->pk);
	for (size_t i = 0; i < r->fk.npairs; i++) {
		free(r->fk.pnode[i]);
		free(r->fk.pnet[i]);
	}
	for (size_t i = 0; i < r->fk.nwhole; i++) {
		free(r->fk.wnode[i]);
		free(r->fk.wmonth[i]);
	}
	free(r->fk.pnode);
	free(r->fk.pnet);
	free(r->fk.wnode);
	free(r->fk.wmonth);
	for (size_t i = 0; i < r->nfs; i++) {
		free(r->fs[i].country);
		hll_fini(&r->fs[i].h);
	}
	free(r->fs);
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

/* Writes v in decimal just before end; returns the first digit's address. */
static char *dec(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/*
 * A CSV row without hll_clients as emit() writes it, in one jsonw_raw():
 * ES_ELIMIT (nothing written) when its names do not fit the line buffer.
 */
static int csv_line(jsonw_t *w, const char *s[7], const int64_t num[3], uint64_t clients)
{
	char line[1024], nb[24];
	size_t n = 0;

	line[n++] = '\n';
	for (int i = 0; i < 7; i++) {
		const char *v = s[i] ? s[i] : "None";
		size_t l = strlen(v);

		if (l > 96)
			return ES_ELIMIT;
		memcpy(line + n, v, l);
		n += l;
		line[n++] = ',';
	}
	for (int i = 0; i < 4; i++) {
		uint64_t v = i < 3 ? (uint64_t)num[i] : clients;
		char *d;

		if (i < 3 && num[i] < 0) {
			line[n++] = '-';
			v = 0 - v;
		}
		d = dec(nb + sizeof(nb), v);
		memcpy(line + n, d, (size_t)(nb + sizeof(nb) - d));
		n += (size_t)(nb + sizeof(nb) - d);
		if (i < 3)
			line[n++] = ',';
	}
	jsonw_raw(w, line, n);
	return 0;
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
	} else if (!r->q->hllvalues && csv_line(w, s, num, clients) == 0) {
		/* Written in one piece. */
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

/* NULL last, then "C" order: the SQL's ORDER BY of the grouping columns. */
static int cmp_name(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

/* The folded sets of (date, country), or NULL. */
static struct fset *fset_find(struct q_render *r, const char *date, const char *country)
{
	size_t lo = 0, hi = r->nfs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->fs[mid].date, date);

		if (!c)
			c = cmp_name(r->fs[mid].country, country);
		if (!c)
			return &r->fs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Emits the Other rows of the current date, ordered by country (NULL last). */
static int flush_others(struct q_render *r)
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

		if (r->packs) {
			/* The bucket's rows are exactly those of its sets (same pairs, same range). */
			struct fset *f = fset_find(r, r->date, k->country);

			if (!f || f->n != k->nf || (f->nc == 0) != (k->nw == 0)) {
				buckets_clear(r);
				return ES_EINTERNAL;
			}
			hll_union(&k->h, &f->h);
		}
		hex[0] = '\0';
		if (r->q->hllvalues) {
			hll_to_hex(&k->h, hex);
			for (char *c = hex + 2; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		}
		emit(r, s, num, hll_cardinality(&k->h), hex);
	}
	buckets_clear(r);
	return 0;
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
static int fold(struct q_render *r, const char *country, const int64_t num[3], const hll_t *h,
                int whole)
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
	if (whole)
		k->nw++;
	else
		k->nf++;
	if (h)
		hll_union(&k->h, h);
	return rc ? ES_ELIMIT : 0;
}

/* Appends a copy of row to d. 0 or ES_ELIMIT / -ENOMEM. */
static int dbuf_add(struct dbuf *d, const struct q_row *row)
{
	size_t need = 0, len[Q_SQL_COLS];
	struct hrow *h;

	for (int i = 0; i < Q_SQL_COLS; i++) {
		len[i] = !row->col[i] ? 0 : i == 10 && row->clients_len ? row->clients_len
		         : strlen(row->col[i]);
		need += row->col[i] ? len[i] + 1 : 0;
	}
	if (d->len + need + (d->n + 1) * sizeof(*d->v) > DATE_LIMIT)
		return ES_ELIMIT;
	if (d->len + need > d->cap) {
		size_t nc = d->cap ? d->cap : 65536;
		char *nt;

		while (nc < d->len + need)
			nc *= 2;
		if (!(nt = realloc(d->text, nc)))
			return -ENOMEM;
		d->text = nt;
		d->cap = nc;
	}
	if (d->n == d->cap_v) {
		size_t nc = d->cap_v ? 2 * d->cap_v : 1024;
		struct hrow *nv = realloc(d->v, nc * sizeof(*nv));
		struct hrow **no;

		if (!nv)
			return -ENOMEM;
		d->v = nv;
		if (!(no = realloc(d->ord, nc * sizeof(*no))))
			return -ENOMEM;
		d->ord = no;
		d->cap_v = nc;
	}
	h = &d->v[d->n++];
	h->row.clients_len = row->col[10] ? row->clients_len : 0;
	for (int i = 0; i < Q_SQL_COLS; i++) {
		if (!row->col[i]) {
			h->off[i] = NO_COL;
			continue;
		}
		h->off[i] = d->len;
		memcpy(d->text + d->len, row->col[i], len[i]);
		d->text[d->len + len[i]] = '\0';
		d->len += len[i] + 1;
	}
	return 0;
}

static const char *dbuf_col(const struct dbuf *d, size_t k, int i)
{
	return d->v[k].off[i] == NO_COL ? NULL : d->text + d->v[k].off[i];
}

static int cmp_row(const void *a, const void *b)
{
	const struct hrow *x = *(const struct hrow *const *)a, *y = *(const struct hrow *const *)b;

	if (!x->slow && !y->slow) {
		if (x->rank != y->rank)
			return x->rank < y->rank ? -1 : 1;
		if (x->knet != y->knet)
			return x->knet < y->knet ? -1 : 1;
		return x->kcty < y->kcty ? -1 : x->kcty > y->kcty;
	}
	for (int i = 1; i < 7; i++) {
		int c = cmp_name(x->row.col[i], y->row.col[i]);

		if (c)
			return c;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Up to max bytes of s packed big-endian ("C" order as a number); all ones for NULL; -1 if longer. */
static int pack(const char *s, size_t max, uint64_t *k)
{
	size_t n;

	*k = UINT64_MAX;
	if (!s)
		return 0;
	if ((n = strlen(s)) > max)
		return -1;
	*k = 0;
	for (size_t i = 0; i < max; i++)
		*k = *k << 8 | (i < n ? (unsigned char)s[i] : 0);
	return 0;
}

/* Fills the sort keys of d's first n rows (their col pointers set). */
static void dbuf_keys(struct dbuf *d, size_t n)
{
	const char *seen[MAX_RANKED];
	size_t nn = 0;
	int ranked = 1;

	for (size_t k = 0; k < n && ranked; k++) {
		const char *x = d->v[k].row.col[1];
		size_t i;

		if (!x || (nn && strcmp(x, seen[nn - 1]) == 0))
			continue;
		for (i = 0; i < nn && strcmp(x, seen[i]) != 0; i++)
			;
		if (i == nn) {
			if (nn == MAX_RANKED)
				ranked = 0;
			else
				seen[nn++] = x;
		}
	}
	if (ranked)
		qsort(seen, nn, sizeof(*names), cmp_str);
	for (size_t k = 0; k < n; k++) {
		struct hrow *h = &d->v[k];
		const char *const *c = h->row.col;
		const char *x = c[1];
		const char **hit;

		h->slow = !ranked || !x || c[3] || c[4] || c[5]
		          || pack(c[2], 6, &h->knet) < 0 || pack(c[6], 2, &h->kcty) < 0;
		if (h->slow)
			continue;
		hit = k && d->v[k - 1].row.col[1] && !d->v[k - 1].slow
		      && strcmp(x, d->v[k - 1].row.col[1]) == 0 ? &seen[d->v[k - 1].rank]
		      : bsearch(&x, seen, nn, sizeof(*names), cmp_str);
		h->slow = !hit;
		h->rank = hit ? (uint32_t)(hit - seen) : 0;
	}
}

/*
 * Reads the next date's rows (those of one value of column 0) and orders
 * them; the first row of the date after is kept as d->v[d->ready].
 * Returns 1, 0 at the end, or a negative code.
 */
static int dbuf_fill(struct q_render *r)
{
	struct dbuf *d = &r->d;
	struct q_row row = { .clients_len = 0 };
	int rc;

	if (d->ready < d->n) {
		/* The held row (the last one, its text last) moves to the front. */
		struct hrow h = d->v[d->ready];
		size_t base = NO_COL;

		for (int i = 0; i < Q_SQL_COLS; i++)
			if (h.off[i] != NO_COL && (base == NO_COL || h.off[i] < base))
				base = h.off[i];
		if (base != NO_COL) {
			memmove(d->text, d->text + base, d->len - base);
			d->len -= base;
			for (int i = 0; i < Q_SQL_COLS; i++)
				if (h.off[i] != NO_COL)
					h.off[i] -= base;
		} else {
			d->len = 0;
		}
		d->v[0] = h;
		d->n = 1;
	} else {
		d->n = d->len = 0;
		if (d->end)
			return 0;
		if ((rc = r->next(r->ctx, &row)) <= 0)
			return rc;
		if ((rc = dbuf_add(d, &row)) < 0)
			return rc;
	}
	d->ready = d->next = 0;
	for (;;) {
		if ((rc = r->next(r->ctx, &row)) < 0)
			return rc;
		if (rc == 0) {
			d->end = 1;
			break;
		}
		if ((rc = dbuf_add(d, &row)) < 0)
			return rc;
		if (cmp_name(dbuf_col(d, 0, 0), row.col[0]) != 0)
			break;
	}
	d->ready = d->end ? d->n : d->n - 1;
	for (size_t k = 0; k < d->n; k++) {
		for (int i = 0; i < Q_SQL_COLS; i++)
			d->v[k].row.col[i] = dbuf_col(d, k, i);
		d->ord[k] = &d->v[k];
	}
	dbuf_keys(d, d->ready);
	qsort(d->ord, d->ready, sizeof(*d->ord), cmp_row);
	return 1;
}

/* The next row: the iterator's, or with q_render_sort_dates() the next of its date's order. */
static int pull(struct q_render *r, struct q_row *row)
{
	struct dbuf *d = &r->d;
	int rc;

	if (!r->sort_dates)
		return r->next(r->ctx, row);
	if (d->next == d->ready && (rc = dbuf_fill(r)) <= 0)
		return rc;
	*row = d->ord[d->next++]->row;
	return 1;
}

/* Reads one row and renders it (and a finished date's Other rows). 0 at the end. */
static int step(struct q_render *r)
{
	struct q_row row = { .clients_len = 0 };
	const struct query *q = r->q;
	int rc = pull(r, &row);
	int cdet = (q->details & Q_DETAIL_COUNTRY) != 0;
	int64_t num[3];
	hll_t h;
	const char *s[7];
	char hex[HLL_HEX_MAX];
	const char *date;
	int bin, card;
	int64_t ncard = 0;

	if (rc <= 0)
		return rc;
	for (int i = 0; i < 3; i++)
		if (parse_i64(row.col[7 + i], &num[i]) < 0)
			return ES_EFORMAT;
	/* A stored count (query.h, column 12) stands for a set the SQL did not fetch. */
	card = !row.col[10] && row.col[12];
	if (card && (parse_i64(row.col[12], &ncard) < 0 || ncard < 0))
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
		if ((rc = flush_others(r)) < 0) {
			hll_fini(&h);
			return rc;
		}
		snprintf(r->date, sizeof(r->date), "%s", date);
	}
	if (r->folds && row.col[1] && row.col[2]
	    && !q_policy_visible(r->p, row.col[1], row.col[2], q->endpoint == Q_RESTRICTED,
	                         r->groups, r->ngroups)) {
		/* The SQL fetches the set of every row the same policy folds. */
		rc = card ? ES_EINTERNAL : fold(r, cdet ? row.col[6] : NULL, num, &h, 0);
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
	emit(r, s, num, card ? (uint64_t)ncard : hll_cardinality(&h), hex);
	hll_fini(&h);
	return 1;
}

/* Appends n bytes (and a NUL when text) to the packs' text, or reserves them when v is NULL; their offset, or NO_COL (ES_ELIMIT / -ENOMEM in *rc). */
static size_t pt_add(struct q_render *r, const void *v, size_t n, int text, int *rc)
{
	size_t off = r->ptlen, need = n + (text != 0);

	if (r->ptlen + need > PACK_LIMIT) {
		*rc = ES_ELIMIT;
		return NO_COL;
	}
	if (r->ptlen + need > r->ptcap) {
		size_t nc = r->ptcap ? r->ptcap : 65536;
		char *nt;

		while (nc < r->ptlen + need)
			nc *= 2;
		if (!(nt = realloc(r->pt, nc))) {
			*rc = -ENOMEM;
			return NO_COL;
		}
		r->pt = nt;
		r->ptcap = nc;
	}
	if (v)
		memcpy(r->pt + off, v, n);
	if (text)
		r->pt[off + n] = '\0';
	r->ptlen += need;
	return off;
}

/* Copies a pack's network or country (NULL: NULL) into buf as a string. */
static const char *pack_str(char *buf, const char *v, size_t n)
{
	if (!v)
		return NULL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

/* Adds (a, b) to the lists x, y unless there already. */
static int keys_add(char ***x, char ***y, size_t *n, size_t *cap, const char *a, const char *b)
{
	char *ca, *cb;

	for (size_t i = *n; i-- > 0;)
		if (strcmp((*y)[i], b) == 0 && strcmp((*x)[i], a) == 0)
			return 0;
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 64;
		char **nx = realloc(*x, nc * sizeof(*nx)), **ny;

		if (!nx)
			return -ENOMEM;
		*x = nx;
		if (!(ny = realloc(*y, nc * sizeof(*ny))))
			return -ENOMEM;
		*y = ny;
		*cap = nc;
	}
	ca = strdup(a);
	cb = strdup(b);
	if (!ca || !cb) {
		free(ca);
		free(cb);
		return -ENOMEM;
	}
	(*x)[*n] = ca;
	(*y)[(*n)++] = cb;
	return 0;
}

/*
 * 1 when the renderer folds the row of (node, net) (either NULL: never).
 * The last answer is kept: a pack's rows come by network.
 */
static int folded(struct q_render *r, const char *node, const char *net)
{
	size_t n;

	if (!r->folds || !node || !net)
		return 0;
	n = strlen(net);
	if (r->fnode != node || r->fnetlen != n || memcmp(r->fnet, net, n) != 0) {
		r->fnode = node;
		snprintf(r->fnet, sizeof(r->fnet), "%s", net);
		r->fnetlen = strlen(r->fnet);
		r->fres = !q_policy_visible(r->p, node, net, r->q->endpoint == Q_RESTRICTED, r->groups,
		                            r->ngroups);
	}
	return r->fres;
}

int q_render_pack_load(struct q_render *r)
{
	struct q_row row = { .clients_len = 0 };
	int rc = 0;

	r->packs = 1;
	for (;;) {
		struct pk *k;
		const char *v;
		size_t n;

		if ((rc = r->next(r->ctx, &row)) <= 0)
			break;
		if (!row.col[0] || !row.col[10])
			return ES_EFORMAT;
		if (r->npk == r->cappk) {
			size_t nc = r->cappk ? 2 * r->cappk : 256;
			struct pk *x = realloc(r->pk, nc * sizeof(*x));

			if (!x)
				return -ENOMEM;
			r->pk = x;
			r->cappk = nc;
		}
		k = &r->pk[r->npk];
		k->date = pt_add(r, row.col[0], strlen(row.col[0]), 1, &rc);
		k->node = row.col[1] ? pt_add(r, row.col[1], strlen(row.col[1]), 1, &rc) : NO_COL;
		v = row.col[10];
		n = row.clients_len;
		if (n == 0) {
			/* Text result format: "\x" and hex. */
			size_t l = strlen(v);

			if (l < 2 || v[0] != '\\' || v[1] != 'x' || l % 2)
				return ES_EFORMAT;
			n = (l - 2) / 2;
			k->pack = pt_add(r, NULL, n, 0, &rc);
			if (k->pack != NO_COL && hex_decode(r->pt + k->pack, v + 2, n) < 0)
				return ES_EFORMAT;
		} else {
			k->pack = pt_add(r, v, n, 0, &rc);
		}
		if (rc < 0)
			return rc;
		k->len = n;
		r->npk++;
	}
	if (rc < 0 || !r->folds)
		return rc;
	for (size_t i = 0; i < r->npk; i++) {
		struct pk *k = &r->pk[i];
		const char *node = k->node == NO_COL ? NULL : r->pt + k->node;
		const uint8_t *pack = (const uint8_t *)r->pt + k->pack;
		struct q_pack_row pr;
		size_t pos = 0, nfold = 0, nrows = 0;

		/* Whole when every row is folded: its sets then come by country. */
		while ((rc = q_pack_next(pack, k->len, &pos, &pr)) > 0) {
			const char *net = pack_str(r->net, pr.net, pr.netlen);

			nrows++;
			nfold += folded(r, node, net);
		}
		if (rc < 0)
			return rc;
		k->whole = nrows > 0 && nfold == nrows;
		if (k->whole && (rc = keys_add(&r->fk.wnode, &r->fk.wmonth, &r->fk.nwhole, &r->fk.capwhole,
		                                node, r->pt + k->date)) < 0)
			return rc;
		if (k->whole || nfold == 0)
			continue;
		pos = 0;
		{
			char last[256] = "";
			int have = 0;

			while ((rc = q_pack_next(pack, k->len, &pos, &pr)) > 0) {
				const char *net = pack_str(r->net, pr.net, pr.netlen);

				/* A pack's rows come by network: one test per network. */
				if (!net || (have && strcmp(net, last) == 0))
					continue;
				snprintf(last, sizeof(last), "%s", net);
				have = 1;
				if (folded(r, node, net)
				    && (rc = keys_add(&r->fk.pnode, &r->fk.pnet, &r->fk.npairs, &r->fk.cappairs,
				                      node, net)) < 0)
					return rc;
			}
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct q_fold_keys *q_render_fold_keys(const struct q_render *r)
{
	return r->fk.npairs || r->fk.nwhole ? &r->fk : NULL;
}

int q_render_fold_add(struct q_render *r, const struct q_row *row)
{
	const char *date = row->col[0], *country = row->col[1], *v = row->col[2];
	size_t lo = 0, hi = r->nfs;
	struct fset *f = NULL;
	hll_t h;
	int rc;

	if (!date || strlen(date) >= sizeof(f->date) || !v || !row->col[3])
		return ES_EFORMAT;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->fs[mid].date, date);

		if (!c)
			c = cmp_name(r->fs[mid].country, country);
		if (!c) {
			f = &r->fs[mid];
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	hll_init(&h);
	if (!row->clients_len && (rc = hll_parse_hex(&h, v, strlen(v), NULL)) < 0) {
		hll_fini(&h);
		return rc;
	}
	if (!f) {
		rc = 0;
		if (r->nfs >= MAX_FSETS)
			rc = ES_ELIMIT;
		if (!rc && r->nfs == r->capfs) {
			size_t nc = r->capfs ? 2 * r->capfs : 64;
			struct fset *x = realloc(r->fs, nc * sizeof(*x));

			if (x) {
				r->fs = x;
				r->capfs = nc;
			} else {
				rc = -ENOMEM;
			}
		}
		if (rc < 0) {
			hll_fini(&h);
			return rc;
		}
		/* Kept in (date, country) order: lo is the place. */
		memmove(&r->fs[lo + 1], &r->fs[lo], (r->nfs - lo) * sizeof(*r->fs));
		f = &r->fs[lo];
		memset(f, 0, sizeof(*f));
		hll_init(&f->h);
		snprintf(f->date, sizeof(f->date), "%s", date);
		r->nfs++;
		if (country && !(f->country = strdup(country))) {
			hll_fini(&h);
			return -ENOMEM;
		}
	}
	rc = row->clients_len ? hll_union_stored(&f->h, (const uint8_t *)v, row->clients_len, NULL) : 0;
	if (rc < 0) {
		hll_fini(&h);
		return rc;
	}
	hll_union(&f->h, &h);
	if (row->col[3][0] == 't')
		f->nc++;
	else
		f->n++;
	hll_fini(&h);
	return 0;
}

/* Renders the next row of the held packs (and a finished date's Other rows). 0 at the end. */
static int step_pack(struct q_render *r)
{
	struct q_pack_row pr;
	int rc;

	while (r->pki < r->npk) {
		const struct pk *k = &r->pk[r->pki];
		const char *date = r->pt + k->date, *node = k->node == NO_COL ? NULL : r->pt + k->node;
		const char *s[7], *net, *cty;

		if ((rc = q_pack_next((const uint8_t *)r->pt + k->pack, k->len, &r->ppos, &pr)) < 0)
			return rc;
		if (rc == 0) {
			r->pki++;
			r->ppos = 0;
			r->pfirst = 0;
			continue;
		}
		if (pr.card < 0)
			return ES_EFORMAT;
		/* A pack is one date: its first row may start the next one. */
		if (!r->pfirst && strcmp(date, r->date) != 0) {
			if ((rc = flush_others(r)) < 0)
				return rc;
			snprintf(r->date, sizeof(r->date), "%s", date);
		}
		r->pfirst = 1;
		net = pack_str(r->net, pr.net, pr.netlen);
		cty = pack_str(r->cty, pr.cty, pr.ctylen);
		if (folded(r, node, net))
			return (rc = fold(r, cty, pr.num, NULL, k->whole)) < 0 ? rc : 1;
		s[0] = date;
		s[1] = node ? node : "*";
		s[2] = net ? net : "*";
		s[3] = s[4] = s[5] = "*";
		s[6] = cty;
		emit(r, s, pr.num, (uint64_t)pr.card, "");
		return 1;
	}
	return 0;
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
			int rc = r->packs ? step_pack(r) : step(r);

			if (rc < 0) {
				/* Hand over what is ready first; the error comes at the next call. */
				r->err = rc;
				return done ? (ssize_t)done : rc;
			}
			if (rc == 0 && (rc = flush_others(r)) < 0) {
				r->err = rc;
				return done ? (ssize_t)done : rc;
			}
			if (rc == 0)
				r->phase = PH_TAIL;
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
