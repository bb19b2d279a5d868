/*
 * hquery.h - the query string of a request: "a=1&b=x+y&a=%C3%A9".
 *
 * Parameters are split on '&' (empty pieces skipped), names from values on
 * the first '='; both are percent-decoded with '+' as a space.  Repeated
 * names are kept, in their order.  Refused: an invalid escape ('%' not
 * followed by two hex digits) or one decoding to NUL (ES_EFORMAT), more than
 * HQUERY_MAX_PARAMS parameters, a query longer than HQUERY_MAX_LEN or a
 * decoded name or value longer than HQUERY_MAX_ITEM (ES_ELIMIT); err then
 * says which, for a 400 answer.  Values are not checked for UTF-8 here.
 *
 * Ownership: an hquery owns its strings; hquery_fini() frees them.  No
 * shared state: one hquery per thread.
 */
#ifndef ES_INGEST_HQUERY_H
#define ES_INGEST_HQUERY_H

#include <stddef.h>

#define HQUERY_MAX_LEN 8192
#define HQUERY_MAX_PARAMS 128
#define HQUERY_MAX_ITEM 2048

struct hquery_param {
	char *name;
	char *value;     /* "" when the parameter had no '='. */
};

struct hquery {
	struct hquery_param *v;
	size_t n;
};

void hquery_init(struct hquery *q);
void hquery_fini(struct hquery *q);
/* Parses text[0..len) (without the '?') into q (initialised, empty). 0, ES_EFORMAT or ES_ELIMIT. */
int hquery_parse(struct hquery *q, const char *text, size_t len, char *err, size_t errlen);
/*
 * The value of the first parameter called name at index *pos or after
 * (pos NULL: from the start); *pos is left just after it, so repeated calls
 * walk every repeat.  NULL when there is none.
 */
const char *hquery_get(const struct hquery *q, const char *name, size_t *pos);
/* How many parameters are called name. */
size_t hquery_count(const struct hquery *q, const char *name);

#endif
