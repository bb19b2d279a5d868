#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hll.h"
#include "stats.h"
#include "unit.h"

static stats_key_t key(uint32_t date, const char *net, const char *sta, const char *loc,
                       const char *cha, const char *country)
{
	stats_key_t k = {
		.date = date,
		.net = net, .net_len = strlen(net),
		.sta = sta, .sta_len = strlen(sta),
		.loc = loc, .loc_len = strlen(loc),
		.cha = cha, .cha_len = strlen(cha),
		.country = country, .country_len = country ? strlen(country) : 0,
	};
	return k;
}

TEST(stats_merges_same_key_and_counts)
{
	stats_t *st = stats_new(STATS_MONTH, 0);
	stats_key_t k = key(20241030, "FR", "CIEL", "00", "HHZ", "FR");
	ASSERT_OK(stats_add(st, &k, 100, 1, 1));
	k.date = 20241001;  /* Same month: same row. */
	ASSERT_OK(stats_add(st, &k, 50, 1, 2));
	stats_key_t f = key(20241015, "", "", "--", "", "FR");
	ASSERT_OK(stats_add(st, &f, 0, 0, 1));
	ASSERT_EQ(stats_count(st), 2);
	stats_row_t r;
	stats_get(st, 0, &r);
	ASSERT_EQ(r.date, 20241001);
	ASSERT_STREQ(r.net, "FR");
	ASSERT_STREQ(r.sta, "CIEL");
	ASSERT_EQ(r.bytes, 150);
	ASSERT_EQ(r.nb_requests, 2);
	ASSERT_EQ(r.nb_successful, 2);
	ASSERT_EQ(r.nb_unsuccessful, 0);
	ASSERT_EQ(hll_cardinality(r.clients), 2);
	stats_get(st, 1, &r);
	ASSERT_STREQ(r.loc, "--");
	ASSERT_EQ(r.bytes, 0);
	ASSERT_EQ(r.nb_requests, 1);
	ASSERT_EQ(r.nb_successful, 0);
	ASSERT_EQ(r.nb_unsuccessful, 1);
	stats_free(st);
}

TEST(stats_day_granularity_keeps_days)
{
	stats_t *st = stats_new(STATS_DAY, 0);
	stats_key_t k = key(20241030, "FR", "CIEL", "00", "HHZ", "FR");
	ASSERT_OK(stats_add(st, &k, 1, 1, 1));
	k.date = 20241031;
	ASSERT_OK(stats_add(st, &k, 1, 1, 1));
	ASSERT_EQ(stats_count(st), 2);
	stats_row_t r;
	stats_get(st, 1, &r);
	ASSERT_EQ(r.date, 20241031);
	ASSERT_EQ(stats_granularity(st), STATS_DAY);
	stats_free(st);
}

TEST(stats_keys_compare_field_by_field)
{
	/* Upstream's joined key "2024-10-01_A_B_C_..." would merge these; we must not. */
	stats_t *st = stats_new(STATS_MONTH, 0);
	stats_key_t a = key(20241001, "A_B", "C", "", "HHZ", "FR");
	stats_key_t b = key(20241001, "A", "B_C", "", "HHZ", "FR");
	stats_key_t c = key(20241001, "A", "B", "_C", "HHZ", "FR");
	ASSERT_OK(stats_add(st, &a, 1, 1, 1));
	ASSERT_OK(stats_add(st, &b, 2, 1, 1));
	ASSERT_OK(stats_add(st, &c, 4, 1, 1));
	ASSERT_EQ(stats_count(st), 3);
	ASSERT_EQ(stats_find(st, &a), 0);
	ASSERT_EQ(stats_find(st, &b), 1);
	ASSERT_EQ(stats_find(st, &c), 2);
	stats_free(st);
}

TEST(stats_null_country_differs_from_empty)
{
	stats_t *st = stats_new(STATS_MONTH, 0);
	stats_key_t n = key(20241001, "FR", "CIEL", "", "HHZ", NULL);
	stats_key_t e = key(20241001, "FR", "CIEL", "", "HHZ", "");
	ASSERT_OK(stats_add(st, &n, 10, 1, 12));
	ASSERT_OK(stats_add(st, &e, 10, 1, 14));
	ASSERT_OK(stats_add(st, &n, 10, 1, 15));
	ASSERT_EQ(stats_count(st), 2);
	stats_row_t r;
	stats_get(st, 0, &r);
	ASSERT(r.country == NULL);
	ASSERT_EQ(r.nb_requests, 2);
	stats_get(st, 1, &r);
	ASSERT_STREQ(r.country, "");
	ASSERT_EQ(r.country_len, 0);
	ASSERT_EQ(stats_find(st, &n), 0);
	ASSERT_EQ(stats_find(st, &e), 1);
	stats_key_t other = key(20241001, "FR", "CIEL", "", "HHZ", "DE");
	ASSERT_EQ(stats_find(st, &other), -1);
	stats_free(st);
}

TEST(stats_limit_on_rows)
{
	stats_t *st = stats_new(STATS_MONTH, 3);
	char sta[8];
	for (int i = 0; i < 3; i++) {
		snprintf(sta, sizeof sta, "S%d", i);
		stats_key_t k = key(20241001, "FR", sta, "", "HHZ", "FR");
		ASSERT_OK(stats_add(st, &k, 1, 1, i));
	}
	stats_key_t k4 = key(20241001, "FR", "S9", "", "HHZ", "FR");
	ASSERT_ERR(stats_add(st, &k4, 1, 1, 9), ES_ELIMIT);
	ASSERT_EQ(stats_count(st), 3);
	/* Known keys still fold in. */
	stats_key_t k0 = key(20241001, "FR", "S0", "", "HHZ", "FR");
	ASSERT_OK(stats_add(st, &k0, 1, 1, 5));
	stats_row_t r;
	stats_get(st, 0, &r);
	ASSERT_EQ(r.nb_requests, 2);
	stats_free(st);
}

TEST(stats_bytes_overflow_is_a_limit)
{
	stats_t *st = stats_new(STATS_MONTH, 0);
	stats_key_t k = key(20241001, "FR", "CIEL", "", "HHZ", "FR");
	ASSERT_OK(stats_add(st, &k, INT64_MAX - 1, 1, 1));
	ASSERT_ERR(stats_add(st, &k, 2, 1, 2), ES_ELIMIT);
	stats_row_t r;
	stats_get(st, 0, &r);
	ASSERT_EQ(r.bytes, INT64_MAX - 1);
	ASSERT_EQ(r.nb_requests, 1);
	ASSERT_EQ(hll_cardinality(r.clients), 1);
	stats_free(st);
}

TEST(stats_many_rows_keep_order_and_find)
{
	/* 30 000 rows (more than the 27 756 of synthetic-small) through several index growths. */
	stats_t *st = stats_new(STATS_DAY, 0);
	char sta[16], cha[8];
	const size_t n = 30000;
	for (size_t i = 0; i < n; i++) {
		snprintf(sta, sizeof sta, "S%zu", i % 1000);
		snprintf(cha, sizeof cha, "C%zu", i / 1000);
		stats_key_t k = key(20240101 + (uint32_t)(i % 7), "XX", sta, "", cha,
		                    i % 3 ? "FR" : NULL);
		ASSERT_OK(stats_add(st, &k, (int64_t)i, 1, (int64_t)i));
	}
	ASSERT_EQ(stats_count(st), n);
	for (size_t i = 0; i < n; i += 997) {
		snprintf(sta, sizeof sta, "S%zu", i % 1000);
		snprintf(cha, sizeof cha, "C%zu", i / 1000);
		stats_key_t k = key(20240101 + (uint32_t)(i % 7), "XX", sta, "", cha,
		                    i % 3 ? "FR" : NULL);
		ASSERT_EQ(stats_find(st, &k), (long)i);
		stats_row_t r;
		stats_get(st, i, &r);
		ASSERT_EQ(r.bytes, (int64_t)i);
		ASSERT_STREQ(r.sta, sta);
		ASSERT_STREQ(r.cha, cha);
	}
	stats_free(st);
}

TEST(stats_merge_unions_and_reduces)
{
	stats_t *day = stats_new(STATS_DAY, 0);
	stats_t *all = stats_new(STATS_DAY, 0);
	hll_t want;
	hll_init(&want);
	/* 300 clients over two days: the month row must be SPARSE, like adding them all. */
	for (int i = 0; i < 300; i++) {
		stats_key_t k = key(i < 150 ? 20241030 : 20241031, "FR", "CIEL", "", "HHZ", "FR");
		int64_t raw = hll_client_raw((const char *)&i, sizeof i);
		ASSERT_OK(stats_add(day, &k, 10, 1, raw));
		ASSERT_OK(stats_add(all, &k, 10, 1, raw));
		hll_add_raw(&want, raw);
	}
	stats_key_t f = key(20241101, "", "", "--", "", NULL);
	ASSERT_OK(stats_add(day, &f, 0, 0, 7));
	stats_t *month = stats_new(STATS_MONTH, 0);
	ASSERT_OK(stats_merge(month, day));
	ASSERT_EQ(stats_count(month), 2);
	stats_row_t r;
	stats_get(month, 0, &r);
	ASSERT_EQ(r.date, 20241001);
	ASSERT_EQ(r.bytes, 3000);
	ASSERT_EQ(r.nb_requests, 300);
	ASSERT_EQ(r.nb_successful, 300);
	char a[HLL_HEX_MAX], b[HLL_HEX_MAX];
	hll_to_hex(r.clients, a);
	hll_to_hex(&want, b);
	ASSERT_STREQ(a, b);
	ASSERT_STREQ(hll_type_name(r.clients), "SPARSE");
	stats_get(month, 1, &r);
	ASSERT_EQ(r.date, 20241101);
	ASSERT(r.country == NULL);
	ASSERT_EQ(r.nb_unsuccessful, 1);
	/* Merging again doubles the counters but leaves the HLL as it is. */
	ASSERT_OK(stats_merge(month, all));
	stats_get(month, 0, &r);
	ASSERT_EQ(r.nb_requests, 600);
	hll_to_hex(r.clients, a);
	ASSERT_STREQ(a, b);
	/* A merge over the row limit fails. */
	stats_t *small = stats_new(STATS_DAY, 1);
	ASSERT_ERR(stats_merge(small, day), ES_ELIMIT);
	stats_free(small);
	hll_fini(&want);
	stats_free(month);
	stats_free(all);
	stats_free(day);
}

/* Compares two tables row by row: keys, counters, HLL bytes, order. */
static void same_tables(const stats_t *a, const stats_t *b)
{
	ASSERT_EQ(stats_count(a), stats_count(b));
	for (size_t i = 0; i < stats_count(a); i++) {
		stats_row_t x, y;
		stats_get(a, i, &x);
		stats_get(b, i, &y);
		ASSERT_EQ(x.date, y.date);
		ASSERT_STREQ(x.net, y.net);
		ASSERT_STREQ(x.sta, y.sta);
		ASSERT_STREQ(x.loc, y.loc);
		ASSERT_STREQ(x.cha, y.cha);
		ASSERT((x.country == NULL) == (y.country == NULL));
		if (x.country)
			ASSERT_STREQ(x.country, y.country);
		ASSERT_EQ(x.bytes, y.bytes);
		ASSERT_EQ(x.nb_requests, y.nb_requests);
		ASSERT_EQ(x.nb_successful, y.nb_successful);
		ASSERT_EQ(x.nb_unsuccessful, y.nb_unsuccessful);
		char hx[HLL_HEX_MAX], hy[HLL_HEX_MAX];
		hll_to_hex(x.clients, hx);
		hll_to_hex(y.clients, hy);
		ASSERT_STREQ(hx, hy);
	}
}

/*
 * stats_merge_take() of batch tables (cleared and reused, as agg.c's parse
 * workers do) gives the table of adding every event to one table, and the
 * table stats_merge() gives: many keys, null and empty countries, day dates
 * folded to months, sets crossing the HLL thresholds across batches.
 */
TEST(stats_merge_take_of_batches_equals_one_table)
{
	static const char *const nets[] = { "FR", "G", "XX", "7C2018" };
	static const char *const countries[] = { "FR", "DE", "", NULL };
	stats_t *one = stats_new(STATS_MONTH, 0);
	stats_t *taken = stats_new(STATS_MONTH, 0);
	stats_t *merged = stats_new(STATS_MONTH, 0);
	stats_t *batch = stats_new(STATS_MONTH, 1u << 16);
	uint64_t s = 12345;
	for (int b = 0; b < 40; b++) {
		stats_clear(batch);
		ASSERT_EQ(stats_count(batch), 0);
		ASSERT_EQ(stats_string_bytes(batch), 0);
		for (int e = 0; e < 2000; e++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			unsigned r = (unsigned)(s >> 33);
			char sta[16];
			/* One key takes a quarter of the events (its set becomes FULL), a few are
			 * warm (SPARSE after some batches), many are rare. */
			snprintf(sta, sizeof sta, "S%u", r % 3 ? r % 7 : r % 5000);
			stats_key_t k = key(STATS_DATE(2024, 9 + r % 3, 1 + r % 28), nets[r % 4], sta,
			                    r % 2 ? "00" : "", "HHZ", countries[(r >> 8) % 4]);
			if ((r >> 4) % 4 == 0)
				k = key(20241005, "FR", "HOT", "", "HHZ", "FR");
			int ok = (r >> 12) % 5 != 0;
			int64_t raw = hll_client_raw((const char *)&r, sizeof r);
			ASSERT_OK(stats_add(one, &k, ok ? (int64_t)(r % 1000) : 0, ok, raw));
			ASSERT_OK(stats_add(batch, &k, ok ? (int64_t)(r % 1000) : 0, ok, raw));
		}
		ASSERT_OK(stats_merge(merged, batch));
		ASSERT_OK(stats_merge_take(taken, batch));
	}
	same_tables(taken, one);
	same_tables(merged, one);
	size_t types[5] = { 0 };
	for (size_t i = 0; i < stats_count(taken); i++) {
		stats_row_t r;
		stats_get(taken, i, &r);
		types[r.clients->type]++;
	}
	ASSERT(types[HLL_EXPLICIT] > 0);
	ASSERT(types[HLL_SPARSE] > 0);
	ASSERT(types[HLL_FULL] > 0);
	/* Over the row limit: ES_ELIMIT, as stats_merge(). */
	stats_t *small = stats_new(STATS_MONTH, 3);
	ASSERT_ERR(stats_merge_take(small, batch), ES_ELIMIT);
	ASSERT_EQ(stats_max_entries(small), 3);
	stats_free(small);
	stats_free(batch);
	stats_free(merged);
	stats_free(taken);
	stats_free(one);
}
