/*
 * netx.h - extender of temporary FDSN network codes (doc/upstream-aggregator.md §6).
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
 * never a refusal: a trace is refused only on a definite answer.  Without a
 * URL the file (and cache) are all there is: a code they do not hold is
 * refused when a file is given, ES_EUNAVAIL when no source is.
 *
 * The service is asked over HTTP(S) with TLS verification, following up to 5
 * redirects; 200 with {"networks":[...]} is an answer (deployments of other
 * codes in it are ignored), 204 or an empty list means "unknown code" (cached
 * like any answer), anything else (other status, malformed JSON, an answer
 * over 1 MiB, a transport error or timeout) is "unreachable", and that code is
 * not asked again for 60 s.  Cache files are cache_dir/XX.json holding the
 * fetch time and the deployments, written to a temporary file, fsync()ed and
 * renamed; a damaged cache file counts as absent.  Problems with the registry
 * file, the service or the cache are also described on stderr.
 *
 * Resolved codes stay in an in-memory table (one slot per possible temporary
 * code), so that after the first lookup netx_extend() does no I/O and no
 * allocation; non-temporary codes never take the lock.  A service query is
 * made with the mutex held: other threads needing a temporary code wait for
 * it (the first query of a code is the only slow one).  libcurl's global
 * initialisation (curl_global_init) belongs to main().
 *
 * Ownership: netx_init() allocates; netx_fini() frees.  A netx_t is safe to
 * use from several threads at once (an internal mutex guards its tables).
 */
#ifndef ES_NETX_H
#define ES_NETX_H

#include <stddef.h>

/* Longest extended code: two characters + four-digit year + NUL. */
#define NETX_CODE_MAX 16

/* The FDSN network registry: the default of networks.url and of `--networks`. */
#define NETX_DEFAULT_URL "https://www.fdsn.org/ws/networks/1/query"

struct es_log;
typedef struct netx netx_t;

typedef struct netx_opts {
	const char *file;       /* Registry file, or NULL. */
	const char *url;        /* Registry query URL, or NULL for none. */
	const char *cache_dir;  /* Directory for cached answers, or NULL. */
	long cache_ttl;         /* Seconds; 0 → 86400. */
	long timeout;           /* Seconds for one HTTP query; 0 → 30. */
	const struct es_log *log;   /* Where problems with the registry are told (log.h); kept. */
} netx_opts_t;

/*
 * Copies the options (strings included), creates cache_dir if it is missing
 * (one level, mode 0755) and loads the registry file, if any.
 * Errors: -errno or ES_EFORMAT (with a message on stderr naming the file and
 * the deployment) for a bad registry file: not JSON, no "networks" array, an
 * element without a string fdsn_code or start_date, a date that is not
 * YYYY-MM-DD, an end_date neither string nor null.  A missing end_date is
 * open-ended like null.  Only temporary codes of the file are kept.
 */
int netx_init(netx_t **out, const netx_opts_t *opts);

/*
 * Extends code (len bytes) for the date text (the first 10 characters of a
 * trace's start; a bare 4-digit year means Jan 1).  On 0, out holds the
 * NUL-terminated code to record.  ES_EREFUSED: no deployment covers the date,
 * the code is unknown, or the date does not parse.  ES_EUNAVAIL: no answer
 * could be had.  ES_ELIMIT: a non-temporary code of NETX_CODE_MAX bytes or
 * more (it cannot be copied to out).  Only the first 10 bytes of date are
 * looked at; they parse like Python's strptime("%Y-%m-%d") (one-digit month
 * and day, a space before a one-digit day, nothing left over, the date must
 * exist), or are exactly four digits (a year: Jan 1).  The date is checked
 * before any lookup, so a bad date of a temporary code is refused at once.
 */
int netx_extend(netx_t *nx, const char *code, size_t len, const char *date, size_t date_len,
                char out[NETX_CODE_MAX]);

/* Returns 1 if code (len bytes) matches ^[0-9XYZ][0-9A-Z]$. */
int netx_is_temporary(const char *code, size_t len);

void netx_fini(netx_t *nx);

#endif
