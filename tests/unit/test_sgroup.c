#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"
#include "mem.h"
#include "sgroup.h"
#include "submit.h"
#include "unit.h"

static int row_key_cmp(const void *a, const void *b)
{
	const struct submit_row *x = a, *y = b;
	int c;

	if ((c = strcmp(x->date, y->date)) || (c = strcmp(x->network, y->network)) ||
	    (c = strcmp(x->station, y->station)) || (c = strcmp(x->location, y->location)) ||
	    (c = strcmp(x->channel, y->channel)))
		return c;
	return strcmp(x->country, y->country);
}

/* n random rows over few months, networks and countries (so groups repeat), sorted and unique by key. */
static void random_payload(struct submit_payload *p, size_t n, unsigned seed)
{
	static const char *nets[] = { "GE", "FR", "Z3", "YB2013", "é1" };
	static const char *countries[] = { "", "DE", "FR", "IT" };

	srand(seed);
	submit_init(p);
	p->rows = es_calloc(n, sizeof p->rows[0]);
	for (size_t i = 0; i < n; i++) {
		struct submit_row *r = &p->rows[p->nrows];
		static const char *months[] = { "2024-01", "2024-02", "2024-11", "2025-12" };
		snprintf(r->date, sizeof r->date, "%s-%02u", months[rand() % 4], 1 + (unsigned)rand() % 28u);
		strcpy(r->network, nets[rand() % 5]);
		snprintf(r->station, sizeof r->station, "S%d", (int)(i % 97));
		strcpy(r->location, "00");
		snprintf(r->channel, sizeof r->channel, "H%c", 'A' + (int)(i % 26));
		strcpy(r->country, countries[rand() % 4]);
		r->bytes = (int64_t)rand() * 1000;
		r->nb_successful = rand() % 1000;
		r->nb_failed = rand() % 10;
		r->nb_reqs = r->nb_successful + r->nb_failed;
		hll_init(&r->clients);
		/* From EXPLICIT to FULL: the unions cross every promotion. */
		for (int k = rand() % 3 == 0 ? 400 : rand() % 40; k > 0; k--)
			hll_add_raw(&r->clients, (int64_t)rand() * 65536 + rand());
		p->nrows++;
	}
	qsort(p->rows, p->nrows, sizeof p->rows[0], row_key_cmp);
	for (size_t i = 1, out = 0; i <= p->nrows; i++) {
		if (i == p->nrows) {
			p->nrows = out + 1;
			break;
		}
		if (row_key_cmp(&p->rows[out], &p->rows[i]) == 0)
			hll_fini(&p->rows[i].clients);
		else
			p->rows[++out] = p->rows[i];
	}
}

static bool same_group(const struct sgroup *g, const struct submit_row *r)
{
	return memcmp(g->month, r->date, 8) == 0 && strcmp(g->network, r->network) == 0 &&
	       strcmp(g->country, r->country) == 0;
}

/* Every group against a fold of the rows it names, in row order; every row in exactly one group. */
TEST(sgroup_equals_naive_fold)
{
	for (unsigned seed = 1; seed <= 4; seed++) {
		struct submit_payload p;
		struct sgroup_set s;
		size_t covered = 0;
		uint8_t want[HLL_MAX_BYTES], got[HLL_MAX_BYTES];

		random_payload(&p, seed == 1 ? 1 : 600 * seed, seed);
		sgroup_init(&s);
		ASSERT_OK(sgroup_build(&s, &p));
		ASSERT(s.n > 0 && s.n <= p.nrows);
		for (size_t i = 0; i < s.n; i++) {
			const struct sgroup *g = &s.groups[i];
			int64_t b = 0, q = 0, ok = 0, f = 0;
			size_t rows = 0;
			hll_t h;

			ASSERT(strlen(g->month) == 10 && strcmp(g->month + 7, "-01") == 0);
			if (i > 0) {
				const struct sgroup *o = &s.groups[i - 1];
				int c = strcmp(o->month, g->month);
				if (c == 0)
					c = strcmp(o->network, g->network);
				if (c == 0)
					c = strcmp(o->country, g->country);
				ASSERT(c < 0);
			}
			hll_init(&h);
			for (size_t k = 0; k < p.nrows; k++) {
				const struct submit_row *r = &p.rows[k];
				if (!same_group(g, r))
					continue;
				b += r->bytes;
				q += r->nb_reqs;
				ok += r->nb_successful;
				f += r->nb_failed;
				hll_union(&h, &r->clients);
				rows++;
			}
			ASSERT(rows > 0);
			covered += rows;
			ASSERT_EQ(g->bytes, b);
			ASSERT_EQ(g->nb_reqs, q);
			ASSERT_EQ(g->nb_successful, ok);
			ASSERT_EQ(g->nb_failed, f);
			ASSERT_EQ(hll_size(&g->clients), hll_size(&h));
			ASSERT(hll_serialize(&h, want) == hll_serialize(&g->clients, got) &&
			       memcmp(want, got, hll_size(&h)) == 0);
			hll_fini(&h);
		}
		ASSERT_EQ(covered, p.nrows);
		/* The days: distinct, ascending, each a row's date, every row's date among them. */
		for (size_t i = 0; i < s.ndays; i++)
			ASSERT(i == 0 || strcmp(s.days[i - 1], s.days[i]) < 0);
		for (size_t k = 0; k < p.nrows; k++) {
			bool found = false;
			for (size_t i = 0; i < s.ndays && !found; i++)
				found = strcmp(s.days[i], p.rows[k].date) == 0;
			ASSERT(found);
		}
		sgroup_fini(&s);
		ASSERT(s.n == 0 && s.groups == NULL && s.days == NULL);
		submit_fini(&p);
	}
}

TEST(sgroup_empty_payload)
{
	struct submit_payload p;
	struct sgroup_set s;

	submit_init(&p);
	sgroup_init(&s);
	ASSERT_OK(sgroup_build(&s, &p));
	ASSERT(s.n == 0 && s.ndays == 0);
	sgroup_fini(&s);
}

/* A sum past bigint is refused, as PostgreSQL's sum()::bigint refuses it, and nothing is kept. */
TEST(sgroup_sum_overflow)
{
	struct submit_payload p;
	struct sgroup_set s;

	random_payload(&p, 2, 9);
	strcpy(p.rows[1].date, p.rows[0].date);
	strcpy(p.rows[1].network, p.rows[0].network);
	strcpy(p.rows[1].country, p.rows[0].country);
	strcpy(p.rows[1].station, "ZZZZZ");
	p.rows[0].bytes = INT64_MAX;
	p.rows[1].bytes = 1;
	sgroup_init(&s);
	ASSERT_ERR(sgroup_build(&s, &p), -ERANGE);
	ASSERT(s.n == 0 && s.groups == NULL && s.days == NULL);
	p.rows[1].bytes = 0;
	ASSERT_OK(sgroup_build(&s, &p));
	ASSERT_EQ(s.n, 1);
	ASSERT_EQ(s.groups[0].bytes, INT64_MAX);
	sgroup_fini(&s);
	submit_fini(&p);
}
