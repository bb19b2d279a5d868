/*
 * jsonw.h - a growable JSON text buffer that writes strings exactly as
 * Python's json.dumps() does with its defaults (ensure_ascii=True), so that
 * eidastats' payloads are byte-identical to the upstream aggregator's.
 *
 * String escaping (doc/upstream-aggregator.md §7): `"` and `\` as `\"` and `\\`;
 * 0x08 0x09 0x0A 0x0C 0x0D as `\b \t \n \f \r`; every other byte below 0x20
 * and 0x7F as `\u00XX`; every non-ASCII character as `\uXXXX` with lower-case
 * hex digits, and a character above U+FFFF as its UTF-16 surrogate pair
 * (`\ud83d\ude00`).  `/` is not escaped.
 *
 * Ownership: a jsonw_t is embedded by its user; jsonw_init() sets it up with
 * a hard limit on the text length, jsonw_fini() frees the buffer, and
 * jsonw_take() hands the buffer (NUL-terminated) over to the caller, who
 * frees it with free().
 *
 * Errors are sticky: after the first failure (ES_ELIMIT when the text would
 * exceed the limit, ES_EFORMAT for a string that is not valid UTF-8) every
 * later call does nothing and returns that error, so a writer can emit a whole
 * document and check jsonw_error() once at the end.
 */
#ifndef ES_JSONW_H
#define ES_JSONW_H

#include <stddef.h>
#include <stdint.h>

typedef struct jsonw {
	char *buf;     /* NUL-terminated text so far (NULL until the first write). */
	size_t len;    /* Bytes of text, without the NUL. */
	size_t cap;    /* Allocated bytes. */
	size_t limit;  /* Largest text length allowed. */
	int err;       /* First error, or 0. */
} jsonw_t;

/* Sets up an empty writer; limit 0 means 1 GiB. */
void jsonw_init(jsonw_t *w, size_t limit);
/* Frees the text; the writer may be jsonw_init()ed again. */
void jsonw_fini(jsonw_t *w);
/* Forgets the text but keeps the buffer for reuse; clears the error. */
void jsonw_reset(jsonw_t *w);

/* Appends bytes as they are (for punctuation and keys known to be plain). */
int jsonw_raw(jsonw_t *w, const char *s, size_t len);
/* Appends a NUL-terminated literal as it is. */
int jsonw_lit(jsonw_t *w, const char *s);
/* Appends s (len bytes of UTF-8) as a quoted, escaped JSON string. */
int jsonw_str(jsonw_t *w, const char *s, size_t len);
/* Appends a decimal integer. */
int jsonw_i64(jsonw_t *w, int64_t v);
int jsonw_u64(jsonw_t *w, uint64_t v);

/* The first error, or 0. */
int jsonw_error(const jsonw_t *w);
/*
 * On success returns the NUL-terminated text (malloc()ed, the caller frees
 * it) with its length in *len and leaves the writer empty; on a sticky error
 * returns NULL, sets *len to 0 and keeps the error.
 */
char *jsonw_take(jsonw_t *w, size_t *len);

#endif
