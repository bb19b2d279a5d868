/*
 * payload.h - the upstream aggregator's payload: its exact JSON text
 * (doc/upstream-aggregator.md §7) and its gzip file.
 *
 * The text is what Python's json.dumps() writes for upstream's dict: keys in
 * the order generated_at, version, days_coverage, aggregation_score, stats;
 * separators ", " and ": "; no newline; each stat's keys month, network,
 * station, location, channel, country (null for a null country), bytes,
 * nb_requests, nb_successful_requests, nb_unsuccessful_requests, clients
 * ("\\x" + upper-case hex of the HLL bytes); strings escaped as jsonw.h says.
 *
 * Ownership: payload_json() returns a malloc()ed NUL-terminated text that the
 * caller frees with free().  payload_write_gz() and payload_write_gz_stats()
 * only borrow their arguments.  gzip is src/common/gz.h's writer.
 */
#ifndef ES_PAYLOAD_H
#define ES_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "stats.h"

/* Largest payload text payload_json() writes (ES_ELIMIT beyond). */
#define PAYLOAD_MAX_TEXT ((size_t)1 << 30)

typedef struct payload_meta {
	time_t generated_at;        /* Formatted in UTC as "YYYY-MM-DD HH:MM:SS". */
	const char *version;        /* Written as a JSON string. */
	const uint32_t *days;       /* days_coverage as YYYYMMDD, ascending and distinct. */
	size_t ndays;
	uint64_t aggregation_score;
} payload_meta_t;

/*
 * Python's round(lines / nstats) with round-half-to-even, in exact integer
 * arithmetic (2.5 → 2, 3.5 → 4).  nstats must not be 0.
 */
uint64_t payload_score(uint64_t lines, uint64_t nstats);

/*
 * Writes the payload of st's rows (in their order) with meta.  Dates of rows
 * are written as they are in the table (the first of the month for a
 * STATS_MONTH table).  Returns 0 with the text in *json and its length in
 * *len, ES_ENOSTATS when st has no row, ES_ELIMIT beyond PAYLOAD_MAX_TEXT,
 * ES_EFORMAT for a string that is not valid UTF-8.
 */
int payload_json(const stats_t *st, const payload_meta_t *meta, char **json, size_t *len);

/*
 * Writes json (len bytes) gzip-compressed at level PAYLOAD_GZ_LEVEL to path, atomically: a
 * temporary file in the same directory is written, fsync()ed and renamed
 * over path (an existing file is replaced), then the directory is fsync()ed.
 * The gzip header carries the current time.  The file gets mode 0644.
 * Returns 0 or -errno (nothing is left behind on error), ES_EINTERNAL if
 * zlib fails.
 */
int payload_write_gz(const char *path, const char *json, size_t len);

/*
 * payload_write_gz() of payload_json(st, meta) without holding the text: the
 * rows are cut into pieces of about 1 MiB of text.  threads <= 1: the pieces
 * are made and deflated one after the other in the caller's thread into one
 * zlib member (memory: about 1 MiB + zlib's state).  threads > 1: gz.h's
 * threaded mode, where each of that many threads both makes a piece's text
 * (reading st and meta, which must not change meanwhile) and deflates it
 * with libdeflate into a member of its own, the members written in order
 * (the same decompressed text; about 3 MiB more per thread in use).  The same
 * header as payload_write_gz() on the first member; ES_ENOSTATS, ES_ELIMIT,
 * ES_EFORMAT as payload_json(), else as payload_write_gz().
 */
int payload_write_gz_stats(const char *path, const stats_t *st, const payload_meta_t *meta,
                           unsigned threads);
/* payload_write_gz_stats() with pieces of about piece bytes of text (0: 1 MiB),
 * for tests of the pieces' boundaries. */
int payload_write_gz_pieces(const char *path, const stats_t *st, const payload_meta_t *meta,
                            unsigned threads, size_t piece);

/* zlib's default level (libdeflate's level 6 in threaded mode): upstream writes 9,
 * which costs 5x the time for 10% less. */
#define PAYLOAD_GZ_LEVEL 6

/* Formats YYYYMMDD as "YYYY-MM-DD" into out (11 bytes). */
void payload_date_text(uint32_t date, char out[11]);

#endif
