/*
 * netx.h - extender of temporary FDSN network codes (upstream-semantics.md §6).
 *
 * A code is temporary iff it matches ^[0-9XYZ][0-9A-Z]$.  It is extended with
 * the start year of the first deployment (in registry order) whose
 * [start_date, end_date] (inclusive; a null end is open) covers the date
 * given, e.g. 7C + 2019-03-02 → 7C2018.  Other codes are returned unchanged.
 *
 * Sources, tried in this order:
 *  - a registry file in the FDSN shape {"networks":[{"fdsn_code","start_date",
 *    "end_date"}]} holding every code of interest (`--networks FILE`);
 *  - an on-disk cache directory of per-code answers, negative ones included,
 *    each valid for cache_ttl seconds;
 *  - the registry web service, queried per code with libcurl as
 *    URL?fdsn_code=XX (HTTP 204 or an empty list = code unknown); answers
 *    are written to the cache atomically.
 * When a code is not in the file and the service cannot be reached, an expired
 * cache entry is still used; with no entry at all the answer is ES_EUNAVAIL,
 * never a refusal: a trace is refused only on a definite answer.
 *
 * Ownership: netx_init() allocates; netx_fini() frees.  A netx_t is safe to
 * use from several threads at once (an internal mutex guards its tables).
 */
#ifndef ES_NETX_H
#define ES_NETX_H

#include <stddef.h>

/* Longest extended code: two characters + four-digit year + NUL. */
#define NETX_CODE_MAX 16

typedef struct netx netx_t;

typedef struct netx_opts {
	const char *file;       /* Registry file, or NULL. */
	const char *url;        /* Registry query URL, or NULL for none. */
	const char *cache_dir;  /* Directory for cached answers, or NULL. */
	long cache_ttl;         /* Seconds; 0 → 86400. */
	long timeout;           /* Seconds for one HTTP query; 0 → 30. */
} netx_opts_t;

/* Errors: -errno or ES_EFORMAT (with a message on stderr naming the file) for a bad registry file. */
int netx_init(netx_t **out, const netx_opts_t *opts);

/*
 * Extends code (len bytes) for the date text (the first 10 characters of a
 * trace's start; a bare 4-digit year means Jan 1).  On 0, out holds the
 * NUL-terminated code to record.  ES_EREFUSED: no deployment covers the date,
 * the code is unknown, or the date does not parse.  ES_EUNAVAIL: no answer
 * could be had.
 */
int netx_extend(netx_t *nx, const char *code, size_t len, const char *date, size_t date_len,
                char out[NETX_CODE_MAX]);

/* Returns 1 if code (len bytes) matches ^[0-9XYZ][0-9A-Z]$. */
int netx_is_temporary(const char *code, size_t len);

void netx_fini(netx_t *nx);

#endif
