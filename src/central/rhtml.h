/*
 * rhtml.h - the HTML of the automatic reports (issue 9): a federation, node
 * or network report from its report.json text, and the index page of the
 * report directory from the index JSON.  Both schemas are those of
 * the report contract that eidastats-report (src/report) writes: report.json
 * with "schema": 1 and the index JSON, both described in doc/report.md.
 *
 * A page is one self-contained file: inline CSS (responsive, with a print
 * style), charts as inline SVG (svg.h), no script and no URL outside the
 * report directory, so it reads the same offline, on a phone and printed to
 * PDF.  Every string taken from the JSON is HTML-escaped.
 *
 * The input is validated before anything is written: a text that is not
 * JSON, a missing required key, a value of the wrong type, a count that is
 * not an integer in 0..2^53, a date that does not exist or lies outside the
 * period, gives ES_EFORMAT (or ES_ELIMIT for an input over RHTML_MAX_INPUT
 * or a page over RHTML_MAX_OUTPUT) with a message in err naming the key
 * ("nodes[2].bytes: not a non-negative integer").  Optional keys (previous,
 * year_before, trend, stations, new_networks, last_submission, source) may be
 * absent or null.
 *
 * Ownership: *out is malloc()ed, NUL-terminated, and the caller frees it; on
 * failure *out is NULL and *out_len 0.  err (errcap bytes, may be 0) always
 * receives a NUL-terminated message on failure.  Pure (no I/O, no state):
 * any thread.
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
