/*
 * rhtml.h - the HTML of the automatic reports (issue 9): a federation, node
 * or network report from its report.json text, and the index page of the
 * report directory from the index JSON, both as eidastats-report (src/report)
 * writes them.
 *
 * report.json ("schema": 1) keys read here; [opt] may be absent or null:
 *   scope "federation"|"node"|"network", period "YYYY-MM"|"YYYY" matching
 *   kind "month"|"year", start and end (inclusive days, 1-366 of them),
 *   node (node and network scope), network (network scope), generated_at [opt],
 *   source [opt] {database, stamp, payloads: each [opt]},
 *   totals {nb_reqs, nb_successful_reqs, nb_failed_reqs [opt], bytes, clients}
 *     (nb_failed_reqs absent: nb_reqs - nb_successful_reqs; the counts need
 *     not add up, as a payload's nb_requests is kept as sent),
 *   previous and year_before [opt] {period, totals},
 *   trend [opt] [{month, the four figures}] (at most 120, oldest first),
 *   nodes [{node, figures, days_expected [opt], days_covered [opt],
 *           missing_days [dates inside the period], last_submission [opt]}],
 *   networks [opt] [{node, network, figures, restricted [opt]}] (federation:
 *     the row with node and network "Other" is the folded restricted networks),
 *   countries [opt] [{country (null: unknown), figures}],
 *   stations [opt] [{network, station, figures}],
 *   new_networks [opt] [{network, restricted, policy_defined}] (node scope).
 * Index JSON: {"schema": 1, "generated_at" [opt], "periods": [{period, kind,
 *   totals, nodes [opt]}]}, newest first; each period links to PERIOD/index.html.
 * Other keys are ignored, so the producer may add some.
 *
 * A page is one self-contained file: inline CSS (responsive, with a print
 * style), charts as inline SVG (svg.h), no script and no URL outside the
 * report directory, so it reads the same offline, on a phone and printed to
 * PDF.  Every string taken from the JSON is HTML-escaped.
 *
 * The input is validated before anything is written: a text that is not
 * JSON (or has more than white space after it), a missing required key, a
 * value of the wrong type, a count that is not an integer, a date that does
 * not exist or lies outside the period, gives
 * ES_EFORMAT; a count above 2^53 (not exact in a double), an input over
 * RHTML_MAX_INPUT, an array of more than 100000 entries or a page over
 * RHTML_MAX_OUTPUT gives ES_ELIMIT.  err then names the key
 * ("nodes[2].bytes: not a non-negative integer").
 *
 * Ownership: *out is malloc()ed, NUL-terminated, and the caller frees it; on
 * failure *out is NULL and *out_len 0.  err (errcap bytes; errcap 0 for no
 * message) receives a NUL-terminated message on failure.  Pure (no I/O, no
 * state): any thread.
 */
#ifndef ES_RHTML_H
#define ES_RHTML_H

#include <stddef.h>

#define RHTML_MAX_INPUT (64u << 20)
#define RHTML_MAX_OUTPUT (64u << 20)

/* HTML of one report (federation, node or network scope) from its report.json text. */
int rhtml_report(const char *json, size_t len, char **out, size_t *out_len, char *err,
                 size_t errcap);
/* HTML of DIR/index.html from the index JSON ({"schema":1,"generated_at":..,"periods":[..]}). */
int rhtml_index(const char *json, size_t len, char **out, size_t *out_len, char *err,
                size_t errcap);

#endif
