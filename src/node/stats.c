#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "stats.h"

/* The id of a null country; real string ids are dense from 0. */
#define STR_NULL UINT32_MAX

struct stats_entry {
	uint32_t date;
	uint32_t net, sta, loc, cha, country;  /* String ids. */
	uint32_t hash;
	int64_t bytes;
	uint64_t nb_requests;
	uint64_t nb_successful;
	uint64_t nb_unsuccessful;
	hll_t clients;
};

/* A row's key as another table has it (stats_merge_take()). */
struct stats_mkey {
	uint32_t ids[5];
	uint32_t date, hash;
};

struct stats {
	enum stats_granularity gran;
	size_t max_entries;

	/* Interned strings: bytes + NUL in pool, addressed by dense ids. */
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *str_off, *str_len, *str_hash;
	size_t nstr, cap_str;
	uint32_t *str_slots;  /* Open addressing: id + 1, 0 = free. */
	size_t str_mask;
	uint32_t *map;        /* stats_merge_take(): this table's string ids → dst's, */
	size_t cap_map;
	struct stats_mkey *keys;  /* and its rows' keys in dst. */
	size_t cap_keys;

	/* Rows in first-occurrence order and their hash index. */
	struct stats_entry *ent;
	size_t nent, cap_ent;
	uint32_t *slots;      /* Open addressing: row index + 1, 0 = free. */
	size_t mask;
};

stats_t *stats_new(enum stats_granularity g, size_t max_entries)
{
	stats_t *st = es_calloc(1, sizeof *st);
	st->gran = g;
	st->max_entries = (max_entries == 0 || max_entries > STATS_HARD_MAX) ? STATS_HARD_MAX
	                                                                      : max_entries;
	st->str_mask = 255;
	st->str_slots = es_calloc(st->str_mask + 1, sizeof *st->str_slots);
	st->mask = 1023;
	st->slots = es_calloc(st->mask + 1, sizeof *st->slots);
	return st;
}

void stats_free(stats_t *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nent; i++)
		hll_fini(&st->ent[i].clients);
	free(st->ent);
	free(st->slots);
	free(st->pool);
	free(st->str_off);
	free(st->str_len);
	free(st->str_hash);
	free(st->str_slots);
	free(st->map);
	free(st->keys);
	free(st);
}

void stats_clear(stats_t *st)
{
	for (size_t i = 0; i < st->nent; i++)
		hll_fini(&st->ent[i].clients);
	st->nent = 0;
	memset(st->slots, 0, (st->mask + 1) * sizeof *st->slots);
	st->nstr = 0;
	st->pool_len = 0;
	memset(st->str_slots, 0, (st->str_mask + 1) * sizeof *st->str_slots);
}

size_t stats_string_bytes(const stats_t *st)
{
	return st->pool_len;
}

size_t stats_max_entries(const stats_t *st)
{
	return st->max_entries;
}

enum stats_granularity stats_granularity(const stats_t *st)
{
	return st->gran;
}

/* FNV-1a: codes are a few bytes long, so a simple byte hash is fast enough. */
static uint32_t str_hashfn(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t str_find(const stats_t *st, const char *s, size_t len, uint32_t h, size_t *slot)
{
	size_t i = h & st->str_mask;
	for (;;) {
		uint32_t v = st->str_slots[i];
		if (!v) {
			*slot = i;
			return STR_NULL;
		}
		uint32_t id = v - 1;
		if (st->str_hash[id] == h && st->str_len[id] == len
		    && memcmp(st->pool + st->str_off[id], s, len) == 0)
			return id;
		i = (i + 1) & st->str_mask;
	}
}

static void str_grow_index(stats_t *st)
{
	size_t cap = 2 * (st->str_mask + 1);
	uint32_t *slots = es_calloc(cap, sizeof *slots);
	for (size_t id = 0; id < st->nstr; id++) {
		size_t i = st->str_hash[id] & (cap - 1);
		while (slots[i])
			i = (i + 1) & (cap - 1);
		slots[i] = (uint32_t)id + 1;
	}
	free(st->str_slots);
	st->str_slots = slots;
	st->str_mask = cap - 1;
}

/* Returns the id of the string, adding it if new; STR_NULL when the pool is full. */
static uint32_t str_intern(stats_t *st, const char *s, size_t len)
{
	uint32_t h = str_hashfn(s, len);
	size_t slot;
	uint32_t id = str_find(st, s, len, h, &slot);
	if (id != STR_NULL)
		return id;
	if (len + 1 > STATS_STRINGS_MAX - st->pool_len)
		return STR_NULL;
	if (st->pool_len + len + 1 > st->pool_cap) {
		size_t cap = st->pool_cap ? st->pool_cap : 4096;
		while (cap < st->pool_len + len + 1)
			cap *= 2;
		st->pool = es_realloc(st->pool, cap);
		st->pool_cap = cap;
	}
	if (st->nstr == st->cap_str) {
		size_t cap = st->cap_str ? 2 * st->cap_str : 256;
		st->str_off = es_reallocarray(st->str_off, cap, sizeof *st->str_off);
		st->str_len = es_reallocarray(st->str_len, cap, sizeof *st->str_len);
		st->str_hash = es_reallocarray(st->str_hash, cap, sizeof *st->str_hash);
		st->cap_str = cap;
	}
	id = (uint32_t)st->nstr++;
	st->str_off[id] = (uint32_t)st->pool_len;
	st->str_len[id] = (uint32_t)len;
	st->str_hash[id] = h;
	memcpy(st->pool + st->pool_len, s, len);
	st->pool[st->pool_len + len] = '\0';
	st->pool_len += len + 1;
	st->str_slots[slot] = id + 1;
	if (2 * st->nstr > st->str_mask + 1)
		str_grow_index(st);
	return id;
}

static uint32_t key_hashfn(uint32_t date, const uint32_t ids[5])
{
	uint64_t h = date * 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 5; i++) {
		h ^= ids[i];
		h *= 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static uint32_t reduce_date(const stats_t *st, uint32_t date)
{
	return st->gran == STATS_MONTH ? date / 100 * 100 + 1 : date;
}

static int entry_is(const struct stats_entry *e, uint32_t date, const uint32_t ids[5], uint32_t h)
{
	return e->hash == h && e->date == date && e->net == ids[0] && e->sta == ids[1]
	       && e->loc == ids[2] && e->cha == ids[3] && e->country == ids[4];
}

static void grow_index(stats_t *st)
{
	size_t cap = 2 * (st->mask + 1);
	uint32_t *slots = es_calloc(cap, sizeof *slots);
	for (size_t k = 0; k < st->nent; k++) {
		size_t i = st->ent[k].hash & (cap - 1);
		while (slots[i])
			i = (i + 1) & (cap - 1);
		slots[i] = (uint32_t)k + 1;
	}
	free(st->slots);
	st->slots = slots;
	st->mask = cap - 1;
}

/*
 * Finds or creates the row of (date, ids).  Returns the row or NULL when the
 * table is full.
 */
static struct stats_entry *lookup_h(stats_t *st, uint32_t date, const uint32_t ids[5], uint32_t h)
{
	size_t i = h & st->mask;
	for (;;) {
		uint32_t v = st->slots[i];
		if (!v)
			break;
		struct stats_entry *e = &st->ent[v - 1];
		if (entry_is(e, date, ids, h))
			return e;
		i = (i + 1) & st->mask;
	}
	if (st->nent >= st->max_entries)
		return NULL;
	if (st->nent == st->cap_ent) {
		size_t cap = st->cap_ent ? 2 * st->cap_ent : 1024;
		st->ent = es_reallocarray(st->ent, cap, sizeof *st->ent);
		st->cap_ent = cap;
	}
	struct stats_entry *e = &st->ent[st->nent];
	memset(e, 0, sizeof *e);
	e->date = date;
	e->net = ids[0];
	e->sta = ids[1];
	e->loc = ids[2];
	e->cha = ids[3];
	e->country = ids[4];
	e->hash = h;
	hll_init(&e->clients);
	st->slots[i] = (uint32_t)++st->nent;
	if (2 * st->nent > st->mask + 1)
		grow_index(st);
	return e;
}

static struct stats_entry *lookup(stats_t *st, uint32_t date, const uint32_t ids[5])
{
	return lookup_h(st, date, ids, key_hashfn(date, ids));
}

/* Interns the key's strings; returns 0 or ES_ELIMIT. */
static int key_ids(stats_t *st, const stats_key_t *k, uint32_t ids[5])
{
	ids[0] = str_intern(st, k->net, k->net_len);
	ids[1] = str_intern(st, k->sta, k->sta_len);
	ids[2] = str_intern(st, k->loc, k->loc_len);
	ids[3] = str_intern(st, k->cha, k->cha_len);
	ids[4] = k->country ? str_intern(st, k->country, k->country_len) : STR_NULL;
	for (int i = 0; i < 4; i++)
		if (ids[i] == STR_NULL)
			return ES_ELIMIT;
	if (k->country && ids[4] == STR_NULL)
		return ES_ELIMIT;
	return 0;
}

int stats_add(stats_t *st, const stats_key_t *key, int64_t bytes, int success, int64_t client_raw)
{
	uint32_t ids[5];
	int rc = key_ids(st, key, ids);
	if (rc)
		return rc;
	struct stats_entry *e = lookup(st, reduce_date(st, key->date), ids);
	if (!e)
		return ES_ELIMIT;
	int64_t sum;
	if (__builtin_add_overflow(e->bytes, success ? bytes : 0, &sum) || e->nb_requests == UINT64_MAX)
		return ES_ELIMIT;
	e->bytes = sum;
	e->nb_requests++;
	if (success)
		e->nb_successful++;
	else
		e->nb_unsuccessful++;
	hll_add_raw(&e->clients, client_raw);
	return 0;
}

/* Adds the counters and the clients of row s to row e; 0 or ES_ELIMIT (e unchanged). */
static int row_add(struct stats_entry *e, const struct stats_entry *s)
{
	int64_t sum;
	uint64_t nr, ns, nu;
	if (__builtin_add_overflow(e->bytes, s->bytes, &sum)
	    || __builtin_add_overflow(e->nb_requests, s->nb_requests, &nr)
	    || __builtin_add_overflow(e->nb_successful, s->nb_successful, &ns)
	    || __builtin_add_overflow(e->nb_unsuccessful, s->nb_unsuccessful, &nu))
		return ES_ELIMIT;
	e->bytes = sum;
	e->nb_requests = nr;
	e->nb_successful = ns;
	e->nb_unsuccessful = nu;
	hll_union(&e->clients, &s->clients);
	return 0;
}

int stats_merge(stats_t *dst, const stats_t *src)
{
	for (size_t k = 0; k < src->nent; k++) {
		const struct stats_entry *s = &src->ent[k];
		stats_row_t r;
		stats_get(src, k, &r);
		stats_key_t key = {
			.date = s->date,
			.net = r.net, .net_len = r.net_len,
			.sta = r.sta, .sta_len = r.sta_len,
			.loc = r.loc, .loc_len = r.loc_len,
			.cha = r.cha, .cha_len = r.cha_len,
			.country = r.country, .country_len = r.country_len,
		};
		uint32_t ids[5];
		int rc = key_ids(dst, &key, ids);
		if (rc)
			return rc;
		struct stats_entry *e = lookup(dst, reduce_date(dst, s->date), ids);
		if (!e)
			return ES_ELIMIT;
		rc = row_add(e, s);
		if (rc)
			return rc;
	}
	return 0;
}

/* Rows of src whose dst slot is fetched ahead while earlier rows are merged:
 * a large dst is mostly cache misses otherwise. */
#define MERGE_AHEAD 8

int stats_merge_take(stats_t *dst, stats_t *src)
{
	/* Each distinct string of src is interned once, not once per row. */
	if (src->nstr > src->cap_map) {
		free(src->map);
		src->cap_map = src->cap_str;
		src->map = es_reallocarray(NULL, src->cap_map, sizeof *src->map);
	}
	for (size_t id = 0; id < src->nstr; id++) {
		src->map[id] = str_intern(dst, src->pool + src->str_off[id], src->str_len[id]);
		if (src->map[id] == STR_NULL)
			return ES_ELIMIT;
	}
	/* dst's key of every row first (ids, date, hash), then the merge with the
	 * slots of later rows prefetched. */
	if (src->nent > src->cap_keys) {
		free(src->keys);
		src->cap_keys = src->cap_ent;
		src->keys = es_reallocarray(NULL, src->cap_keys, sizeof *src->keys);
	}
	for (size_t k = 0; k < src->nent; k++) {
		const struct stats_entry *s = &src->ent[k];
		struct stats_mkey *m = &src->keys[k];
		m->ids[0] = src->map[s->net];
		m->ids[1] = src->map[s->sta];
		m->ids[2] = src->map[s->loc];
		m->ids[3] = src->map[s->cha];
		m->ids[4] = s->country == STR_NULL ? STR_NULL : src->map[s->country];
		m->date = reduce_date(dst, s->date);
		m->hash = key_hashfn(m->date, m->ids);
	}
	for (size_t k = 0; k < src->nent; k++) {
		if (k + MERGE_AHEAD < src->nent)
			__builtin_prefetch(&dst->slots[src->keys[k + MERGE_AHEAD].hash & dst->mask]);
		if (k + MERGE_AHEAD / 2 < src->nent) {
			uint32_t v = dst->slots[src->keys[k + MERGE_AHEAD / 2].hash & dst->mask];
			if (v)
				__builtin_prefetch(&dst->ent[v - 1]);
		}
		struct stats_entry *s = &src->ent[k];
		const struct stats_mkey *m = &src->keys[k];
		size_t before = dst->nent;
		struct stats_entry *e = lookup_h(dst, m->date, m->ids, m->hash);
		if (!e)
			return ES_ELIMIT;
		if (dst->nent > before) {
			/* A new row: src's counters and set as they are. */
			e->bytes = s->bytes;
			e->nb_requests = s->nb_requests;
			e->nb_successful = s->nb_successful;
			e->nb_unsuccessful = s->nb_unsuccessful;
			hll_fini(&e->clients);
			e->clients = s->clients;
			hll_init(&s->clients);
			continue;
		}
		int rc = row_add(e, s);
		if (rc)
			return rc;
	}
	return 0;
}

size_t stats_count(const stats_t *st)
{
	return st->nent;
}

static const char *str_at(const stats_t *st, uint32_t id, size_t *len)
{
	if (id == STR_NULL) {
		*len = 0;
		return NULL;
	}
	*len = st->str_len[id];
	return st->pool + st->str_off[id];
}

void stats_get(const stats_t *st, size_t i, stats_row_t *r)
{
	const struct stats_entry *e = &st->ent[i];
	r->date = e->date;
	r->net = str_at(st, e->net, &r->net_len);
	r->sta = str_at(st, e->sta, &r->sta_len);
	r->loc = str_at(st, e->loc, &r->loc_len);
	r->cha = str_at(st, e->cha, &r->cha_len);
	r->country = str_at(st, e->country, &r->country_len);
	r->bytes = e->bytes;
	r->nb_requests = e->nb_requests;
	r->nb_successful = e->nb_successful;
	r->nb_unsuccessful = e->nb_unsuccessful;
	r->clients = &e->clients;
}

long stats_find(const stats_t *st, const stats_key_t *k)
{
	uint32_t ids[5];
	const char *s[5] = { k->net, k->sta, k->loc, k->cha, k->country };
	size_t l[5] = { k->net_len, k->sta_len, k->loc_len, k->cha_len, k->country_len };
	for (int f = 0; f < 5; f++) {
		if (!s[f]) {
			if (f < 4)
				return -1;
			ids[f] = STR_NULL;
			continue;
		}
		size_t slot;
		ids[f] = str_find(st, s[f], l[f], str_hashfn(s[f], l[f]), &slot);
		if (ids[f] == STR_NULL)
			return -1;
	}
	uint32_t date = reduce_date(st, k->date);
	uint32_t h = key_hashfn(date, ids);
	for (size_t i = h & st->mask;; i = (i + 1) & st->mask) {
		uint32_t v = st->slots[i];
		if (!v)
			return -1;
		if (entry_is(&st->ent[v - 1], date, ids, h))
			return (long)(v - 1);
	}
}
