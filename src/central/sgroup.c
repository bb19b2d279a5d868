#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#include "sgroup.h"

/* A group's key, zero-padded so that memcmp orders it as the strings: "YYYY-MM", network, country. */
#define KEY_LEN (7 + sizeof(((struct submit_row *)0)->network) + 3)

static void make_key(uint8_t *k, const struct submit_row *r)
{
	memset(k, 0, KEY_LEN);
	memcpy(k, r->date, 7);
	memcpy(k + 7, r->network, strlen(r->network));
	memcpy(k + 7 + sizeof r->network, r->country, strlen(r->country));
}

/* FNV-1a: the keys are short and few (months x networks x countries). */
static uint32_t key_hash(const uint8_t *k)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < KEY_LEN; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* Groups under construction: their keys, and an open-addressing table of their indices + 1. */
struct gtab {
	uint8_t (*keys)[KEY_LEN];
	uint32_t *slots;
	size_t mask;
};

static int group_cmp(const void *a, const void *b)
{
	const struct sgroup *x = a, *y = b;
	int c = memcmp(x->month, y->month, 7);

	if (c == 0)
		c = strcmp(x->network, y->network);
	return c != 0 ? c : strcmp(x->country, y->country);
}

void sgroup_init(struct sgroup_set *s)
{
	memset(s, 0, sizeof *s);
}

void sgroup_fini(struct sgroup_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		hll_fini(&s->groups[i].clients);
	free(s->groups);
	free(s->days);
	sgroup_init(s);
}

static int add(int64_t *sum, int64_t v)
{
	if (v > 0 && *sum > INT64_MAX - v)
		return -ERANGE;
	*sum += v;
	return 0;
}

int sgroup_build(struct sgroup_set *s, const struct submit_payload *p)
{
	struct gtab t;
	uint8_t key[KEY_LEN];
	int rc = 0;

	if (p->nrows == 0)
		return 0;
	s->days = es_malloc(p->nrows * sizeof s->days[0]);
	for (size_t i = 0; i < p->nrows; i++)
		if (s->ndays == 0 || strcmp(s->days[s->ndays - 1], p->rows[i].date) != 0)
			memcpy(s->days[s->ndays++], p->rows[i].date, 11);

	/* At most one group per row: a table of twice that many slots never fills. */
	t.mask = 1;
	while (t.mask < 2 * p->nrows)
		t.mask <<= 1;
	t.slots = es_calloc(t.mask, sizeof t.slots[0]);
	t.mask--;
	t.keys = es_malloc(p->nrows * sizeof t.keys[0]);
	s->groups = es_malloc(p->nrows * sizeof s->groups[0]);
	for (size_t i = 0; i < p->nrows && rc == 0; i++) {
		const struct submit_row *r = &p->rows[i];
		struct sgroup *g;
		size_t at;

		make_key(key, r);
		for (at = key_hash(key) & t.mask; t.slots[at]; at = (at + 1) & t.mask)
			if (memcmp(t.keys[t.slots[at] - 1], key, KEY_LEN) == 0)
				break;
		if (!t.slots[at]) {
			memcpy(t.keys[s->n], key, KEY_LEN);
			t.slots[at] = (uint32_t)++s->n;
			g = &s->groups[s->n - 1];
			memcpy(g->month, r->date, 8);
			memcpy(g->month + 8, "01", 3);
			memcpy(g->network, r->network, sizeof g->network);
			memcpy(g->country, r->country, sizeof g->country);
			g->bytes = r->bytes;
			g->nb_reqs = r->nb_reqs;
			g->nb_successful = r->nb_successful;
			g->nb_failed = r->nb_failed;
			hll_init(&g->clients);
			hll_copy(&g->clients, &r->clients);
			continue;
		}
		g = &s->groups[t.slots[at] - 1];
		if ((rc = add(&g->bytes, r->bytes)) < 0 || (rc = add(&g->nb_reqs, r->nb_reqs)) < 0 ||
		    (rc = add(&g->nb_successful, r->nb_successful)) < 0 ||
		    (rc = add(&g->nb_failed, r->nb_failed)) < 0)
			break;
		hll_union(&g->clients, &r->clients);
	}
	free(t.slots);
	free(t.keys);
	if (rc < 0) {
		sgroup_fini(s);
		return rc;
	}
	s->groups = es_realloc(s->groups, s->n * sizeof s->groups[0]);
	qsort(s->groups, s->n, sizeof s->groups[0], group_cmp);
	return 0;
}
