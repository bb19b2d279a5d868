/*
 * agg.h - aggregation of request logs into one collection of statistics and
 * its payload: the engine shared by the CLI and the daemon.
 *
 * A collection (agg_t) holds the statistics table keyed by (date, network,
 * station, location, channel, country) in first-occurrence order, the days
 * covered and the counters of what was read.  agg_file() streams one file
 * through reader → request parser → network extender → table, with the exact
 * rules of doc/upstream-aggregator.md §3-§8, except that input upstream crashes on
 * is a counted, skipped malformed line (a line is used whole or not at all).
 *
 * Threads: an agg_t is used by one thread at a time; run several on
 * different files in parallel.  The netx_t in the options is shared.  Within
 * agg_file() the CPU budget (agg_opts_t.reader_threads) goes to the bzip2
 * decoders for bzip2 input, and for plain and gzip text of at least 4 MiB to
 * parse workers: lines are copied into batches (1 MiB / 8192 lines, a ring
 * of 2 x threads + 1 of them), and each worker parses a batch and folds it
 * into a table of the batch's own (at most 16 384 rows; with its counters,
 * days and warnings), which the calling thread merges into the collection in
 * batch order.  Rows keep their first-occurrence order, an HLL depends only
 * on the set of values added (hll_union() equals adding them one by one),
 * and warnings are replayed in line order, so the payload, counts and
 * warnings are those of one thread.  A batch whose fold failed (an
 * unreachable registry, a batch table full) or whose merge could reach a
 * limit (max_stats, string bytes, a byte sum's range) is parsed again line
 * by line in the calling thread, which fails at the line one thread would.
 * The network extender is asked from the workers (netx_t is thread-safe).
 * warn and progress are called from the calling thread only.  The threads
 * end before agg_file() returns.  agg_write_payload_gz() deflates on the
 * same budget (gz.h threaded mode).
 *
 * Ownership: agg_new() allocates; agg_free() frees the collection, its table
 * and its HLLs.  Options are copied except netx, which is borrowed and must
 * outlive the collection.  Payload text from agg_payload() is malloc()ed and
 * freed by the caller.
 */
#ifndef ES_AGG_H
#define ES_AGG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "netx.h"
#include "stats.h"

/* Per-line warning, as upstream logs it; file is the path given to agg_file(). */
typedef void (*agg_warn_fn)(void *ctx, const char *file, uint64_t lineno, const char *msg);
/* Progress, called about every 64 KiB of compressed input and at the end. */
typedef void (*agg_progress_fn)(void *ctx, const char *file, uint64_t bytes_in,
                                uint64_t file_size, uint64_t lines);

typedef struct agg_opts {
	enum stats_granularity granularity;
	size_t max_line;          /* 0 → READER_DEFAULT_MAX_LINE. */
	unsigned reader_threads;  /* CPU budget per file: bzip2 decoding threads (reader_opts_t.threads),
	                           * parse workers for text, payload deflate threads; 0 → CPUs,
	                           * 1 → everything in the calling thread (and the reader's). */
	netx_t *netx;             /* Borrowed; required. */
	agg_warn_fn warn;         /* NULL: warnings are only counted. */
	agg_progress_fn progress; /* NULL: no progress reports. */
	void *ctx;                /* Passed to warn and progress. */
	size_t max_stats;         /* 0 → no limit; beyond it agg_file() fails with ES_ELIMIT. */
} agg_opts_t;

typedef struct agg_counts {
	uint64_t lines;           /* Every line read, bad ones included (upstream's nbevents). */
	uint64_t malformed;       /* Lines skipped as a whole (json + date + invalid). */
	uint64_t json_errors;     /* Not JSON, or not valid UTF-8, or too long. */
	uint64_t bad_dates;       /* "finished" present but not a parsable date. */
	uint64_t invalid;         /* JSON fine but a field upstream crashes on. */
	uint64_t refused_traces;  /* Traces whose temporary code was refused. */
	uint64_t missing_country; /* userLocation without "country" (counted as ""). */
	uint64_t successes;       /* OK traces recorded. */
	uint64_t failures;        /* Failed requests recorded. */
	uint64_t bytes_in;        /* Compressed bytes read. */
	uint64_t bytes_out;       /* Decompressed bytes read. */
} agg_counts_t;

typedef struct agg agg_t;

agg_t *agg_new(const agg_opts_t *opts);
void agg_free(agg_t *a);

/*
 * Aggregates one file (path; or fd >= 0, which is adopted and closed) into
 * the collection.  digest, when not NULL, receives the SHA-256 of the file's
 * decompressed content (computed only then).  Returns 0, or -errno (unreadable), ES_ECORRUPT,
 * ES_ETRUNC, ES_EUNAVAIL (registry unreachable), ES_ELIMIT.  After an error
 * the collection is unusable for a payload: discard it.
 */
int agg_file(agg_t *a, const char *path, int fd, uint8_t digest[32]);

const agg_counts_t *agg_counts(const agg_t *a);
/* Counts of refused traces per network code, as "CODE=N" joined by ", " (malloc()ed). */
char *agg_refused_summary(const agg_t *a);
size_t agg_nstats(const agg_t *a);
/* Number of statistics whose HLL is of each type (index enum hll_type). */
void agg_hll_types(const agg_t *a, size_t out[5]);
/* First and last day of days_coverage as YYYY-MM-DD; ES_ENOSTATS if none. */
int agg_coverage(const agg_t *a, char first[11], char last[11]);

/*
 * Writes the payload as upstream's exact JSON text (doc/upstream-aggregator.md §7):
 * generated_at formatted from the given UTC time, version as given,
 * days_coverage sorted, aggregation_score = round-half-even(lines / stats),
 * stats in first-occurrence order.  ES_ENOSTATS when there is no statistic.
 */
int agg_payload(const agg_t *a, time_t generated_at, const char *version,
                char **json, size_t *len);

/* The same payload written gzip-compressed to path by payload_write_gz_stats()
 * (streamed: the text is never held whole).  Errors as agg_payload() and
 * payload_write_gz(). */
int agg_write_payload_gz(const agg_t *a, time_t generated_at, const char *version,
                         const char *path);
/* 0 when agg_payload() would make a payload, else its error (ES_ENOSTATS, ...). */
int agg_payload_ready(const agg_t *a);

#endif
