#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"

#include "hex.h"
#include "hquery.h"

void hquery_init(struct hquery *q)
{
	q->v = NULL;
	q->n = 0;
}

void hquery_fini(struct hquery *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].name);
		free(q->v[i].value);
	}
	free(q->v);
	hquery_init(q);
}

/* Decodes s[0..len) into a new string; ES_EFORMAT or ES_ELIMIT with err. */
static int decode(const char *s, size_t len, char **out, char *err, size_t errlen)
{
	char *d = es_malloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 1 < len ? hex_digit_any((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit_any((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "invalid percent escape at '%.*s'",
				         (int)(len - i < 3 ? len - i : 3), s + i);
				free(d);
				return ES_EFORMAT;
			}
			c = (char)(hi * 16 + lo);
			if (c == '\0') {
				snprintf(err, errlen, "%%00 (NUL) is not allowed");
				free(d);
				return ES_EFORMAT;
			}
			i += 2;
		}
		d[o++] = c;
	}
	d[o] = '\0';
	if (o > HQUERY_MAX_ITEM) {
		snprintf(err, errlen, "a parameter is longer than %d bytes", HQUERY_MAX_ITEM);
		free(d);
		return ES_ELIMIT;
	}
	*out = d;
	return 0;
}

int hquery_parse(struct hquery *q, const char *text, size_t len, char *err, size_t errlen)
{
	size_t start = 0, cap = 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (len > HQUERY_MAX_LEN) {
		snprintf(err, errlen, "the query string is longer than %d bytes", HQUERY_MAX_LEN);
		return ES_ELIMIT;
	}
	while (start < len) {
		const char *p = text + start;
		const char *amp = memchr(p, '&', len - start);
		size_t plen = amp ? (size_t)(amp - p) : len - start;
		start += plen + 1;
		if (plen == 0)
			continue;
		if (q->n == HQUERY_MAX_PARAMS) {
			snprintf(err, errlen, "more than %d parameters", HQUERY_MAX_PARAMS);
			return ES_ELIMIT;
		}
		const char *eq = memchr(p, '=', plen);
		size_t nlen = eq ? (size_t)(eq - p) : plen;
		struct hquery_param item = { NULL, NULL };
		if ((rc = decode(p, nlen, &item.name, err, errlen)) < 0)
			return rc;
		rc = eq ? decode(eq + 1, plen - nlen - 1, &item.value, err, errlen)
		        : decode("", 0, &item.value, err, errlen);
		if (rc < 0) {
			free(item.name);
			return rc;
		}
		if (q->n == cap) {
			cap = cap ? cap * 2 : 8;
			q->v = es_realloc(q->v, cap * sizeof q->v[0]);
		}
		q->v[q->n++] = item;
	}
	return 0;
}

const char *hquery_get(const struct hquery *q, const char *name, size_t *pos)
{
	for (size_t i = pos ? *pos : 0; i < q->n; i++) {
		if (strcmp(q->v[i].name, name) == 0) {
			if (pos)
				*pos = i + 1;
			return q->v[i].value;
		}
	}
	if (pos)
		*pos = q->n;
	return NULL;
}

size_t hquery_count(const struct hquery *q, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < q->n; i++)
		n += strcmp(q->v[i].name, name) == 0;
	return n;
}
