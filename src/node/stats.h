/*
 * stats.h - the statistics table: one row per key (date, network, station,
 * location, channel, country) with the counters and the HLL of clients that
 * doc/upstream-aggregator.md §5 defines, kept in first-occurrence order (the order
 * of upstream's payload).
 *
 * Keys are compared field by field (no joined-string collisions: "A_B"+"C" and
 * "A"+"B_C" are different), and a null country is a different key from "".
 * Strings are interned: each distinct string is stored once, rows hold small
 * ids, so a table of tens of thousands of rows costs a few MB.  Lookups of
 * known keys allocate nothing.
 *
 * Granularity: with STATS_MONTH every date is reduced to the first of its
 * month as it enters the table (upstream's key); STATS_DAY keeps the day.
 *
 * Limits: at most max_entries rows (hard cap STATS_HARD_MAX) and
 * STATS_STRINGS_MAX bytes of distinct strings; beyond them stats_add() and
 * stats_merge() fail with ES_ELIMIT and change nothing.  Counter sums that
 * would overflow 64 bits also fail with ES_ELIMIT.
 *
 * Ownership: stats_new() allocates; stats_free() frees the table, its strings
 * and its HLLs.  A row read with stats_get() points into the table and is
 * valid until the table is next changed.  Not thread-safe.
 */
#ifndef ES_STATS_H
#define ES_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "hll.h"

#define STATS_HARD_MAX ((size_t)1 << 24)
#define STATS_STRINGS_MAX ((size_t)1 << 28)

/* How statistics are dated; the one granularity of the node side (the
 * aggregator's option, the daemon's central.granularity, the table). */
enum stats_granularity {
	STATS_MONTH = 0,  /* On the 1st of the month (upstream). */
	STATS_DAY = 1     /* On the day itself (eidastats-ingestd only). */
};

/* A date as the integer YYYYMMDD (20241030). */
#define STATS_DATE(y, m, d) ((uint32_t)(y) * 10000u + (uint32_t)(m) * 100u + (uint32_t)(d))

/* A key to add or look up; the strings are copied (interned) by the table. */
typedef struct stats_key {
	uint32_t date;           /* YYYYMMDD, reduced to the month by a STATS_MONTH table. */
	const char *net, *sta, *loc, *cha;
	size_t net_len, sta_len, loc_len, cha_len;
	const char *country;     /* NULL stands for JSON null. */
	size_t country_len;
} stats_key_t;

/* A row as read back: strings are NUL-terminated, inside the table. */
typedef struct stats_row {
	uint32_t date;
	const char *net, *sta, *loc, *cha;
	size_t net_len, sta_len, loc_len, cha_len;
	const char *country;     /* NULL for a null country. */
	size_t country_len;
	int64_t bytes;
	uint64_t nb_requests;
	uint64_t nb_successful;
	uint64_t nb_unsuccessful;
	const hll_t *clients;
} stats_row_t;

typedef struct stats stats_t;

/* max_entries 0 (or above STATS_HARD_MAX) means STATS_HARD_MAX. */
stats_t *stats_new(enum stats_granularity g, size_t max_entries);
void stats_free(stats_t *st);

enum stats_granularity stats_granularity(const stats_t *st);
/* Empties the table (rows, HLLs, strings), keeping its allocations for reuse. */
void stats_clear(stats_t *st);
/* Bytes of interned strings (NULs included) counted against STATS_STRINGS_MAX. */
size_t stats_string_bytes(const stats_t *st);
/* The row limit the table was made with (after the STATS_HARD_MAX cap). */
size_t stats_max_entries(const stats_t *st);

/*
 * Folds one event into the row of key (created at the end if new):
 * a success adds bytes, 1 request and 1 successful request; a failure adds
 * 1 request and 1 unsuccessful request (bytes must be 0).  Both add
 * client_raw to the row's HLL.  Returns 0 or ES_ELIMIT.
 */
int stats_add(stats_t *st, const stats_key_t *key, int64_t bytes, int success, int64_t client_raw);

/*
 * Adds every row of src to dst in src's order (counters summed, HLLs
 * united), reducing dates to months if dst is STATS_MONTH.  On ES_ELIMIT dst
 * may hold part of src: discard it.
 */
int stats_merge(stats_t *dst, const stats_t *src);

/*
 * The same result as stats_merge(), faster for a src of many rows: each
 * string of src is looked up once, and a row new to dst takes src's HLL
 * instead of a copy (src's row is left with an EMPTY set; stats_clear() src
 * before using it again).  On ES_ELIMIT dst may hold part of src: discard it.
 */
int stats_merge_take(stats_t *dst, stats_t *src);

size_t stats_count(const stats_t *st);
/* Fills row with the i-th row in first-occurrence order (i < stats_count()). */
void stats_get(const stats_t *st, size_t i, stats_row_t *row);
/* Index of the row of key (after reduction to the table's granularity), or -1. */
long stats_find(const stats_t *st, const stats_key_t *key);

#endif
