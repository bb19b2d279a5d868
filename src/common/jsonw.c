#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonw.h"
#include "utf8.h"
#include "mem.h"

#define JSONW_DEFAULT_LIMIT ((size_t)1 << 30)

void jsonw_init(jsonw_t *w, size_t limit)
{
	w->buf = NULL;
	w->len = 0;
	w->cap = 0;
	w->limit = limit ? limit : JSONW_DEFAULT_LIMIT;
	w->err = 0;
}

void jsonw_fini(jsonw_t *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
	w->err = 0;
}

void jsonw_reset(jsonw_t *w)
{
	w->len = 0;
	if (w->buf)
		w->buf[0] = '\0';
	w->err = 0;
}

/* Makes room for n more bytes plus the NUL, doubling so appends stay amortised O(1). */
static int jsonw_reserve(jsonw_t *w, size_t n)
{
	if (w->err)
		return w->err;
	if (n > w->limit - w->len || w->len + n > w->limit) {
		w->err = ES_ELIMIT;
		return w->err;
	}
	size_t need = w->len + n + 1;
	if (need <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < need)
		cap *= 2;
	w->buf = es_realloc(w->buf, cap);
	w->cap = cap;
	return 0;
}

int jsonw_raw(jsonw_t *w, const char *s, size_t len)
{
	int rc = jsonw_reserve(w, len);
	if (rc)
		return rc;
	memcpy(w->buf + w->len, s, len);
	w->len += len;
	w->buf[w->len] = '\0';
	return 0;
}

int jsonw_lit(jsonw_t *w, const char *s)
{
	return jsonw_raw(w, s, strlen(s));
}

static const char jsonw_hex[] = "0123456789abcdef";

static void jsonw_put_u(char *p, uint32_t u)
{
	p[0] = '\\';
	p[1] = 'u';
	p[2] = jsonw_hex[(u >> 12) & 0xF];
	p[3] = jsonw_hex[(u >> 8) & 0xF];
	p[4] = jsonw_hex[(u >> 4) & 0xF];
	p[5] = jsonw_hex[u & 0xF];
}

int jsonw_str(jsonw_t *w, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	/* The worst case is 12 output bytes (a surrogate pair) per 4 input bytes, 6 per byte. */
	if (len > (w->limit / 6) + 2) {
		if (!w->err)
			w->err = ES_ELIMIT;
		return w->err;
	}
	int rc = jsonw_reserve(w, 6 * len + 2);
	if (rc)
		return rc;
	char *o = w->buf + w->len;
	*o++ = '"';
	size_t i = 0;
	while (i < len) {
		size_t run = i;
		while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			memcpy(o, s + i, run - i);
			o += run - i;
			i = run;
			if (i == len)
				break;
		}
		unsigned char c = s[i];
		if (c < 0x80) {
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\b': *o++ = 'b'; break;
			case '\t': *o++ = 't'; break;
			case '\n': *o++ = 'n'; break;
			case '\f': *o++ = 'f'; break;
			case '\r': *o++ = 'r'; break;
			default:
				o--;
				jsonw_put_u(o, c);
				o += 6;
				break;
			}
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (!n) {
			w->err = ES_EFORMAT;
			w->buf[w->len] = '\0';
			return w->err;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			jsonw_put_u(o, 0xD800 | (cp >> 10));
			jsonw_put_u(o + 6, 0xDC00 | (cp & 0x3FF));
			o += 12;
		} else {
			jsonw_put_u(o, cp);
			o += 6;
		}
		i += n;
	}
	*o++ = '"';
	w->len = (size_t)(o - w->buf);
	w->buf[w->len] = '\0';
	return 0;
}

int jsonw_u64(jsonw_t *w, uint64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof tmp;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return jsonw_raw(w, p, (size_t)(tmp + sizeof tmp - p));
}

int jsonw_i64(jsonw_t *w, int64_t v)
{
	if (v >= 0)
		return jsonw_u64(w, (uint64_t)v);
	int rc = jsonw_raw(w, "-", 1);
	if (rc)
		return rc;
	/* Negating through uint64_t is defined for INT64_MIN too. */
	return jsonw_u64(w, 0 - (uint64_t)v);
}

int jsonw_error(const jsonw_t *w)
{
	return w->err;
}

char *jsonw_take(jsonw_t *w, size_t *len)
{
	if (w->err) {
		*len = 0;
		return NULL;
	}
	if (!w->buf) {
		w->buf = es_malloc(1);
		w->buf[0] = '\0';
	}
	char *out = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return out;
}
