/*
 * yamlx.h - the one strict YAML settings loader (libyaml), and the size and
 * duration syntax every settings file of eidastats shares.
 *
 * A settings document is one mapping.  Its keys are checked against the
 * caller's table of dotted names ("central.retry.max"); a name marked as a
 * section takes a mapping of further keys, every other name one scalar.
 * Refused, with "FILE:LINE: ..." messages: unknown keys, a key given twice,
 * a scalar where a mapping belongs (or the reverse), anchors and aliases,
 * more than one document, values with a NUL byte or longer than
 * YAMLX_MAX_STRING, files larger than the caller's limit.  Each scalar is
 * handed to the caller's set callback, which checks and stores it; the
 * loader adds "FILE:LINE: " and the key (spelt by the schema's key_fmt) in
 * front of the callback's reason.
 *
 * Ownership: the loader keeps nothing; the callback copies what it keeps.
 * No state: any thread may call any function.
 */
#ifndef ES_YAMLX_H
#define ES_YAMLX_H

#include <stddef.h>
#include <stdint.h>

#define YAMLX_MAX_STRING 4096
#define YAMLX_MAX_DEPTH 4

struct yamlx_key {
	const char *name;   /* Full dotted name. */
	int section;        /* Non-zero: the value is a mapping of keys "name.x". */
};

/*
 * Stores the scalar value (len bytes, NUL-terminated, no NUL inside, at most
 * YAMLX_MAX_STRING bytes, possibly empty) of key number k.  Returns 0, or
 * ES_ECONFIG with a reason in why (without the key: the loader adds it).
 */
typedef int (*yamlx_set_fn)(void *ctx, size_t k, const char *value, size_t len,
                            char *why, size_t whylen);

/* The document is flat: a mapping or list as a value is refused as
 * "'KEY': nested mappings are not settings" / "'KEY': a list is not a
 * setting" (naming the value's line), before the key is looked up. */
#define YAMLX_FLAT 1u

struct yamlx_schema {
	const struct yamlx_key *keys;
	size_t nkeys;
	yamlx_set_fn set;
	void *ctx;
	const char *key_fmt;    /* How errors name a key: "key '%s': " or "%s: " (one %s). */
	const char *empty_msg;  /* An empty document is refused with "FILE: empty_msg"; NULL accepts it. */
	unsigned flags;         /* YAMLX_FLAT or 0. */
	unsigned long *lines;   /* nkeys entries the loader fills: the 1-based line of each
	                           key given, 0 for keys not given.  Required. */
};

/*
 * Loads the document in data[0..len) (name is the file name used in
 * messages).  0, ES_ECONFIG (err says why) or -ENOMEM.  On error some keys may
 * already have been set: the caller drops what it filled.
 */
int yamlx_load_buffer(const struct yamlx_schema *s, const char *name, const char *data,
                      size_t len, char *err, size_t errlen);
/*
 * Reads path (a regular file of at most max_file bytes) and loads it.
 * -errno when it cannot be opened or read ("cannot open PATH: REASON"),
 * ES_ECONFIG otherwise, err set.
 */
int yamlx_load_file(const struct yamlx_schema *s, const char *path, size_t max_file,
                    char *err, size_t errlen);

/*
 * Writes "FILE:LINE: " (or "FILE: " when line is 0), the key spelt by s's
 * key_fmt, then the formatted reason, into err; returns ES_ECONFIG.  For the
 * caller's checks across keys after loading.
 */
int yamlx_key_error(const struct yamlx_schema *s, const char *file, unsigned long line,
                    const char *key, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/*
 * Sizes: plain bytes or a number followed by K, M, G or T (binary, any case:
 * 1K = 1024), optionally followed by "B" or "iB" ("65536", "64KiB", "64M",
 * "1GiB"), or "B" alone.  0; ES_EFORMAT when malformed or overflowing;
 * ES_ELIMIT when above max.
 */
int yamlx_parse_size(const char *text, uint64_t max, uint64_t *bytes);
/*
 * Durations: plain seconds or a number followed by one unit s, m, h or d
 * ("30", "30s", "5m", "6h", "1d").  0; ES_EFORMAT when malformed, negative or
 * overflowing; ES_ELIMIT when above max_seconds (every duration of a settings
 * file has an upper bound, so that later arithmetic in milliseconds cannot
 * overflow).
 */
int yamlx_parse_duration(const char *text, long max_seconds, long *seconds);
/* Booleans: true/yes/on or false/no/off, any case.  0 with *out 1 or 0, or ES_EFORMAT. */
int yamlx_parse_bool(const char *text, int *out);
/* Quotes untrusted text for a message: printable ASCII only, at most 60 bytes then "...". */
void yamlx_show(const char *value, char *out, size_t outlen);

#endif
