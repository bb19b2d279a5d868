/*
 * submit.h - a statistics payload as the central service receives it:
 * decoded, validated, normalised into database rows, and summarised by a
 * canonical digest.
 *
 * The payload schema is the upstream aggregator's (doc/upstream-aggregator.md §7):
 * a JSON object with `generated_at`, `version`, `days_coverage` and `stats`
 * (required; `aggregation_score` and unknown keys are ignored).  Each stat
 * needs `month`, `network`, `station`, `location`, `channel`, `bytes`,
 * `nb_successful_requests` and `clients`.  Everything is checked before the
 * caller writes anything:
 *   - `month` (and every `days_coverage` item) is a real date YYYY-MM-DD; any
 *     day is accepted (eidastats' day granularity), stored as given;
 *   - codes are strings of at most 6 (network), 5 (station), 2 (location) and
 *     3 (channel) characters (code points, as PostgreSQL varchar counts them),
 *     valid UTF-8 without NUL;
 *   - counters are JSON integers: `bytes` 0..2^63-1, the request counts
 *     0..2^31-1 (PostgreSQL integer);
 *   - `clients` is "\x" + hex of valid hll(11,5) storage bytes (hll_parse());
 *   - `version` is a string of at most 32 characters, `generated_at` a time
 *     "YYYY-MM-DD HH:MM:SS" (or with 'T', a fraction and Z or ±HH:MM).
 * The upstream service's normalisations are applied: a `country` that is
 * missing, null, or not two ASCII letters/digits becomes ""; a missing or
 * null `nb_unsuccessful_requests` is 0; a missing or null `nb_requests` is
 * successful + unsuccessful.  Stats that share a key after normalisation are
 * merged (counters summed, HLLs unioned), so the rows are unique by
 * (date, network, station, location, channel, country) and sorted by it
 * (byte order of the UTF-8 text, i.e. code point order).  Stats already
 * strictly in that order cost only a linear check; others are sorted as small
 * keys and the rows moved once (stable: a merged row keeps the index of its
 * first stat in the payload).
 *
 * The digest is SHA-256 over days_coverage (as a sorted set) and the merged,
 * sorted rows with their HLLs re-serialized by python-hll's rules: two
 * payloads with the same coverage and the same statistics in any order have
 * the same digest; generated_at, version and aggregation_score do not count.
 *
 * The text is read by a small streaming JSON reader of this module rather
 * than cJSON: a payload may hold 2 000 000 stats (1 GiB of text) and a cJSON
 * tree of it would take several times that; this reader keeps only the rows,
 * and counts code points and NULs as PostgreSQL's varchar and text need.
 *
 * Ownership: a submit_payload owns its rows (and their HLLs) and its days;
 * submit_fini() frees them.  submit_parse() never keeps a pointer into the
 * input text.  Not thread-safe per object; distinct objects may be used from
 * distinct threads.
 *
 * Errors: ES_EFORMAT with a message naming the first bad stat and field
 * (e.g. "stats[17].station: longer than 5 characters"), ES_ELIMIT when a
 * limit is exceeded (the caller answers 413), ES_ECORRUPT/ES_ETRUNC for a bad
 * gzip body.
 */
#ifndef ES_SUBMIT_H
#define ES_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hll.h"

#define SUBMIT_NETWORK_MAX 6     /* Characters, as in varchar(6). */
#define SUBMIT_STATION_MAX 5
#define SUBMIT_LOCATION_MAX 2
#define SUBMIT_CHANNEL_MAX 3
#define SUBMIT_VERSION_MAX 32
#define SUBMIT_DIGEST_LEN 32     /* SHA-256. */

/* Defaults of the limits (doc/central-payload.md §7). */
#define SUBMIT_DEFAULT_MAX_BODY ((size_t)64 << 20)          /* Compressed. */
#define SUBMIT_DEFAULT_MAX_DECOMPRESSED ((size_t)1 << 30)
#define SUBMIT_DEFAULT_MAX_STATS ((size_t)2000000)
#define SUBMIT_DEFAULT_MAX_DAYS ((size_t)100000)

struct submit_limits {
	size_t max_stats;  /* Statistics in one payload (before merging). */
	size_t max_days;   /* Items of days_coverage. */
};

/* One database row.  Text fields are NUL-terminated UTF-8 (4 bytes per character at most). */
struct submit_row {
	char date[11];                                /* YYYY-MM-DD */
	char network[4 * SUBMIT_NETWORK_MAX + 1];
	char station[4 * SUBMIT_STATION_MAX + 1];
	char location[4 * SUBMIT_LOCATION_MAX + 1];
	char channel[4 * SUBMIT_CHANNEL_MAX + 1];
	char country[3];                              /* "" or two ASCII letters/digits. */
	int64_t bytes;
	int32_t nb_reqs;
	int32_t nb_successful;
	int32_t nb_failed;
	hll_t clients;
	size_t stat_index;                            /* Index in stats[] of its (first) stat. */
};

struct submit_payload {
	char generated_at[40];                        /* As received (validated). */
	char version[4 * SUBMIT_VERSION_MAX + 1];
	char (*days)[11];                             /* days_coverage: sorted, distinct. */
	size_t ndays;
	struct submit_row *rows;                      /* Merged, sorted by key. */
	size_t nrows;
	size_t nstats;                                /* Stats received (before merging). */
	uint8_t digest[SUBMIT_DIGEST_LEN];
};

/* Sets the default limits. */
void submit_limits_default(struct submit_limits *lim);

void submit_init(struct submit_payload *p);
/* Frees what p owns and leaves it initialised (empty). */
void submit_fini(struct submit_payload *p);

/*
 * Parses, validates and normalises the JSON text json[0..len) into p (which
 * must be initialised and empty) and computes p->digest.  On failure p is
 * left empty and err (if errlen > 0) holds a sentence naming what is wrong.
 * Returns 0, ES_EFORMAT or ES_ELIMIT.
 */
int submit_parse(struct submit_payload *p, const char *json, size_t len,
                 const struct submit_limits *lim, char *err, size_t errlen);

/*
 * Decompresses a gzip body in[0..len) (one or more members) into a new
 * buffer *out of *outlen bytes (NUL-terminated for convenience, the NUL not
 * counted), which the caller frees.  Output beyond max_out bytes stops the
 * decoding with ES_ELIMIT (a gzip bomb never allocates more than max_out+1).
 * Returns 0, ES_ELIMIT, ES_ECORRUPT (not gzip, bad data or checksum) or
 * ES_ETRUNC (the stream ends early).
 */
int submit_gunzip(const void *in, size_t len, size_t max_out, char **out, size_t *outlen);

/* The earliest and latest day of the payload (days_coverage, else the rows' dates); false if none. */
bool submit_span(const struct submit_payload *p, const char **first, const char **last);

#endif
