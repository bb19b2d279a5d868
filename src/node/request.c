#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "cal.h"
#include "error.h"
#include "hll.h"
#include "jsonw.h"
#include "mem.h"
#include "request.h"
#include "utf8.h"

/* A number token of the line, in document order (the order of cJSON's number nodes). */
struct req_num {
	uint32_t off;
	uint32_t len;
	int is_int;
};

/*
 * One JSON value as the walks see it (FV_NONE: the key is absent).  Strings
 * are NUL-terminated; numbers are their token (not terminated).
 */
enum fv_type { FV_NONE = 0, FV_STR, FV_NUM, FV_TRUE, FV_FALSE, FV_NULL, FV_OBJ, FV_ARR };

/* One value: strings point into the copy (NUL-terminated), numbers into the line. */
struct fval {
	int type;
	int is_int;
	const char *s;
	size_t len;
};

/* A chunk of the parse-tree arena. */
struct req_chunk {
	struct req_chunk *next;
	size_t cap, used;
	max_align_t data[];
};

struct req_parser {
	cJSON *root;           /* In the arena: never passed to cJSON_Delete(). */
	struct req_chunk *arena;
	const char *text;      /* What cJSON parsed; number offsets are relative to it. */
	struct req_num *nums;
	size_t nnums, cap_nums;
	req_trace_t *traces;
	size_t cap_traces;
	req_event_t ev;
	char msg[REQ_MSG_MAX];
	char *copy;            /* The fast path's copy of the line. */
	size_t cap_copy;
	int reference;         /* req_parser_reference(): always cJSON. */
	int last_fast;         /* The fast path judged the last line. */
};

/*
 * cJSON allocates and frees every value of every line; the tree lives in an
 * arena instead, emptied before the next line.  cJSON's hooks are
 * process-wide: they are installed once and serve the arena of the parser
 * running in the calling thread (req_tl_parser, set only around
 * cJSON_ParseWithLengthOpts()), malloc()/free() otherwise, so other uses of
 * cJSON in the process are unaffected.
 */
#define REQ_ARENA_CHUNK ((size_t)64 << 10)
#define REQ_ARENA_KEEP ((size_t)1 << 20)

static _Thread_local req_parser_t *req_tl_parser;
static pthread_once_t req_hooks_once = PTHREAD_ONCE_INIT;
/* cJSON's parse writes its process-wide error position: one parse at a time
 * (rare since the fast path, so the lock costs nothing measurable). */
static pthread_mutex_t req_cjson_mu = PTHREAD_MUTEX_INITIALIZER;

/* cJSON_ParseWithLengthOpts() into p's arena, serialised. */
static cJSON *req_cjson_parse(req_parser_t *p, const char *s, size_t len, const char **end)
{
	pthread_mutex_lock(&req_cjson_mu);
	req_tl_parser = p;
	cJSON *root = cJSON_ParseWithLengthOpts(s, len, end, 0);
	req_tl_parser = NULL;
	pthread_mutex_unlock(&req_cjson_mu);
	return root;
}

static void *req_arena_malloc(size_t n)
{
	req_parser_t *p = req_tl_parser;
	if (!p)
		return malloc(n);
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct req_chunk *c = p->arena;
	if (!c || c->cap - c->used < n) {
		size_t cap = c ? 2 * c->cap : REQ_ARENA_CHUNK;
		if (cap < n)
			cap = n;
		struct req_chunk *nc = malloc(sizeof *nc + cap);
		if (!nc)
			return NULL;
		nc->next = c;
		nc->cap = cap;
		nc->used = 0;
		p->arena = c = nc;
	}
	void *r = (char *)c->data + c->used;
	c->used += n;
	return r;
}

static void req_arena_free(void *ptr)
{
	req_parser_t *p = req_tl_parser;
	if (p)
		for (struct req_chunk *c = p->arena; c; c = c->next)
			if ((char *)ptr >= (char *)c->data && (char *)ptr < (char *)c->data + c->cap)
				return;
	free(ptr);
}

static void req_hooks_install(void)
{
	cJSON_Hooks h = { req_arena_malloc, req_arena_free };
	cJSON_InitHooks(&h);
}

/* Empties the arena, keeping its newest (largest) chunk unless a huge line grew it. */
static void req_arena_reset(req_parser_t *p)
{
	struct req_chunk *c = p->arena;
	if (!c)
		return;
	struct req_chunk *rest = c->next;
	if (c->cap > REQ_ARENA_KEEP) {
		rest = c;
		p->arena = NULL;
	} else {
		c->next = NULL;
		c->used = 0;
	}
	while (rest) {
		struct req_chunk *n = rest->next;
		free(rest);
		rest = n;
	}
}

req_parser_t *req_parser_new(void)
{
	pthread_once(&req_hooks_once, req_hooks_install);
	req_parser_t *p = es_calloc(1, sizeof *p);
	return p;
}

void req_parser_free(req_parser_t *p)
{
	if (!p)
		return;
	p->root = NULL;
	req_arena_reset(p);
	free(p->arena);
	free(p->nums);
	free(p->traces);
	free(p->copy);
	free(p);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The date parser mirrors the regular expressions CPython's _strptime builds
 * for "%Y-%m-%dT%H:%M:%S.%f%z" and "%Y-%m-%dT%H:%M:%S%z".  Each field's
 * alternatives are tried in the regex's order, each followed by the check of
 * what must come next; since every field is followed by a non-digit, at most
 * one alternative can succeed, so no deeper backtracking is needed.
 */

/* A field that is one or two digits: returns its width (1 or 2) and value, or 0. */
static int date_field(const char *s, size_t len, size_t pos, const char *const alts[],
                      int (*next_ok)(const char *, size_t, size_t, const void *),
                      const void *arg, int *val)
{
	for (int a = 0; alts[a]; a++) {
		const char *pat = alts[a];
		size_t w = strlen(pat) / 2;  /* Each pattern character is a range "lo hi". */
		if (pos + w > len)
			continue;
		int ok = 1, v = 0;
		for (size_t k = 0; k < w; k++) {
			char c = s[pos + k], lo = pat[2 * k], hi = pat[2 * k + 1];
			if (c < lo || c > hi) {
				ok = 0;
				break;
			}
			if (c != ' ')
				v = v * 10 + (c - '0');
		}
		if (ok && next_ok(s, len, pos + w, arg)) {
			*val = v;
			return (int)w;
		}
	}
	return 0;
}

static int next_is_char(const char *s, size_t len, size_t pos, const void *arg)
{
	const char *set = arg;
	return pos < len && strchr(set, s[pos]) != NULL && s[pos] != '\0';
}

/* Alternatives as pairs of range bounds per character, in the regex's order. */
static const char *const alt_month[] = { "1102", "0019", "19", NULL };
static const char *const alt_day[] = { "3301", "1209", "0019", "19", "  19", NULL };
static const char *const alt_hour[] = { "2203", "0109", "09", NULL };
static const char *const alt_minute[] = { "0509", "09", NULL };
static const char *const alt_second[] = { "6601", "0509", "09", NULL };

static int two_digits(const char *s, size_t len, size_t pos, int max_first)
{
	return pos + 2 <= len && s[pos] >= '0' && s[pos] <= '0' + max_first && is_digit(s[pos + 1]);
}

/* %z: 'Z' or [+-]\d\d:?[0-5]\d(:?[0-5]\d(\.\d{1,6})?)?, then the end of the string. */
static int date_zone(const char *s, size_t len, size_t pos)
{
	if (pos >= len)
		return -1;
	if (s[pos] == 'Z')
		return pos + 1 == len ? 0 : -1;
	if (s[pos] != '+' && s[pos] != '-')
		return -1;
	pos++;
	if (pos + 2 > len || !is_digit(s[pos]) || !is_digit(s[pos + 1]))
		return -1;
	int hours = (s[pos] - '0') * 10 + (s[pos + 1] - '0');
	pos += 2;
	int colon1 = 0;
	if (pos < len && s[pos] == ':') {
		colon1 = 1;
		pos++;
	}
	if (!two_digits(s, len, pos, 5))
		return -1;
	pos += 2;
	/* The optional seconds group is greedy; when it does not match it is absent. */
	size_t g = pos;
	int colon2 = 0, has_seconds = 0;
	if (g < len && s[g] == ':') {
		colon2 = 1;
		g++;
	}
	if (two_digits(s, len, g, 5)) {
		has_seconds = 1;
		pos = g + 2;
		if (pos + 1 < len && s[pos] == '.' && is_digit(s[pos + 1])) {
			size_t f = pos + 1, n = 0;
			while (f < len && is_digit(s[f]) && n < 6) {
				f++;
				n++;
			}
			pos = f;
		}
	}
	if (pos != len)
		return -1;  /* "unconverted data remains" */
	/*
	 * _strptime removes the first ':' only if it is there and then demands the
	 * second; without the first, a second ':' makes int() fail.  Either way
	 * the colons must be consistent.
	 */
	if (has_seconds && colon1 != colon2)
		return -1;
	/* datetime.timezone needs |offset| < 24 h; minutes and seconds are below 60. */
	if (hours > 23)
		return -1;
	return 0;
}

static int next_is_zone_start(const char *s, size_t len, size_t pos, const void *arg)
{
	(void)arg;
	return pos < len && (s[pos] == '+' || s[pos] == '-' || s[pos] == 'Z');
}

static int next_is_dot_or_zone(const char *s, size_t len, size_t pos, const void *arg)
{
	(void)arg;
	return pos < len && (s[pos] == '.' || next_is_zone_start(s, len, pos, NULL));
}

void req_parser_reference(req_parser_t *p, int on)
{
	p->reference = on;
}

int req_parser_last_fast(const req_parser_t *p)
{
	return p->last_fast;
}

static int dd(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/*
 * The common form, YYYY-MM-DD(T|t)hh:mm:ss[.f{1,6}]Z with two digits per field
 * and every field in range, which both formats' expressions take one way only:
 * 1 and the date, or 0 when the full parser must decide.
 */
static int date_common(const char *s, size_t len, int *year, int *month, int *day)
{
	if (len < 20 || len > 27 || s[len - 1] != 'Z' || (len > 20 && (len < 22 || s[19] != '.')))
		return 0;
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	for (size_t k = 0; k < 19; k++) {
		char c = s[k], w = shape[k];
		if (w == 'd' ? !is_digit(c) : w == 'T' ? c != 'T' && c != 't' : c != w)
			return 0;
	}
	for (size_t k = 20; k + 1 < len; k++)
		if (!is_digit(s[k]))
			return 0;
	int y = dd(s) * 100 + dd(s + 2), m = dd(s + 5), d = dd(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > cal_days_in_month(y, m) || dd(s + 11) > 23
	    || dd(s + 14) > 59 || dd(s + 17) > 59)
		return 0;
	*year = y;
	*month = m;
	*day = d;
	return 1;
}

int req_parse_date(const char *s, size_t len, int *year, int *month, int *day)
{
	if (date_common(s, len, year, month, day))
		return 0;
	size_t pos = 0;
	int y = 0, m, d, hh, mi, ss, w;
	if (len < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		if (!is_digit(s[k]))
			return -1;
		y = y * 10 + (s[k] - '0');
	}
	pos = 4;
	if (pos >= len || s[pos] != '-')
		return -1;
	pos++;
	if (!(w = date_field(s, len, pos, alt_month, next_is_char, "-", &m)))
		return -1;
	pos += (size_t)w + 1;
	if (!(w = date_field(s, len, pos, alt_day, next_is_char, "Tt", &d)))
		return -1;
	pos += (size_t)w + 1;
	if (!(w = date_field(s, len, pos, alt_hour, next_is_char, ":", &hh)))
		return -1;
	pos += (size_t)w + 1;
	if (!(w = date_field(s, len, pos, alt_minute, next_is_char, ":", &mi)))
		return -1;
	pos += (size_t)w + 1;
	/* The first format wants '.' and 1-6 digits after the seconds, the second a zone. */
	if (!(w = date_field(s, len, pos, alt_second, next_is_dot_or_zone, NULL, &ss)))
		return -1;
	pos += (size_t)w;
	if (s[pos] == '.') {
		size_t n = 0;
		pos++;
		while (pos < len && is_digit(s[pos])) {
			pos++;
			n++;
		}
		if (n < 1 || n > 6)
			return -1;
	}
	if (date_zone(s, len, pos) != 0)
		return -1;
	(void)hh;
	(void)mi;
	/* datetime() refuses these values although the regular expressions let them through. */
	if (y < 1 || ss > 59 || d > cal_days_in_month(y, m))
		return -1;
	*year = y;
	*month = m;
	*day = d;
	return 0;
}

/* ---- The lexical pass: what cJSON accepts but Python's json refuses. ---- */

static int scan_push_num(req_parser_t *p, size_t off, size_t len, int is_int)
{
	if (p->nnums == p->cap_nums) {
		size_t cap = p->cap_nums ? 2 * p->cap_nums : 64;
		p->nums = es_reallocarray(p->nums, cap, sizeof *p->nums);
		p->cap_nums = cap;
	}
	p->nums[p->nnums].off = (uint32_t)off;
	p->nums[p->nnums].len = (uint32_t)len;
	p->nums[p->nnums].is_int = is_int;
	p->nnums++;
	return 0;
}

/*
 * Index of the first byte at or after i and before n that ends a run of
 * plain string content: '"', '\\' or a control character (below 0x20); n if
 * none.  Eight bytes at a time: in each word, a byte's high bit is set in m
 * when it is below 0x20 or equal to one of the two (borrows only move up, so
 * the lowest flagged byte is exact).
 */
static inline size_t str_stop(const char *s, size_t i, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	while (n - i >= 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
		uint64_t m = ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b);
		m &= highs;
		if (m)
			return i + (size_t)__builtin_ctzll(m) / 8;
		i += 8;
	}
#endif
	while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

/*
 * The end of the number token at s[i] (a '-' or a digit) as Python's json reads
 * it, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?, and whether it is an
 * integer; 0 if it is not one.  What follows is the caller's to check.
 */
static size_t num_token(const char *s, size_t n, size_t i, int *is_int)
{
	*is_int = 1;
	if (s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < n && is_digit(s[i]))
			i++;
	if (i < n && s[i] == '.') {
		*is_int = 0;
		i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		*is_int = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i;
}

/*
 * Checks the lexical rules of Python's json that cJSON does not enforce and
 * records every number token.  Returns NULL if the text passes, else why not.
 * The text is valid UTF-8 already.
 */
static const char *scan_json(req_parser_t *p, const char *s, size_t n)
{
	size_t i = 0, values = 1;
	p->nnums = 0;
	if (n > UINT32_MAX)
		return "the line is too long";
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case ' ': case '\t': case '\n': case '\r':
		case ':': case '}': case ']':
			i++;
			break;
		case '{': case '[': case ',':
			if (++values > REQ_MAX_VALUES)
				return "the line holds too many JSON values";
			i++;
			break;
		case '"':
			i++;
			for (;;) {
				i = str_stop(s, i, n);
				if (i >= n)
					return "unterminated string";
				if (s[i] == '"') {
					i++;
					break;
				}
				if ((unsigned char)s[i] < 0x20)
					return "control character in a string";
				/* A backslash: cJSON checks the escape itself, except that it would cut \u0000. */
				if (i + 1 >= n)
					return "unterminated string";
				if (s[i + 1] == 'u' && i + 6 <= n && memcmp(s + i + 2, "0000", 4) == 0)
					return "a \\u0000 escape (not supported)";
				i += 2;
			}
			break;
		case '-': case '0': case '1': case '2': case '3': case '4':
		case '5': case '6': case '7': case '8': case '9': {
			size_t start = i;
			int is_int;
			if (!(i = num_token(s, n, i, &is_int)))
				return "bad number";
			/* cJSON reads at most 63 characters of a number; refuse longer literals
			 * instead of letting it cut them (doc/upstream-aggregator.md). */
			if (i - start > REQ_MAX_NUMBER)
				return "a number literal longer than 63 characters";
			/* strtod would read on ("01", "1.5.2"); Python stops and then fails. */

			if (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E'
			              || s[i] == '+' || s[i] == '-'))
				return "bad number";
			scan_push_num(p, start, i - start, is_int);
			break;
		}
		default:
			/* Letters of true/false/null are checked by cJSON; nothing else may stand outside strings. */
			if (c >= 'a' && c <= 'z') {
				i++;
				break;
			}
			return "unexpected character";
		}
	}
	return NULL;
}

/* ---- Messages ---- */

/* Appends up to max bytes of v to the message, cut at a character boundary with "...". */
static void msg_value(char *out, size_t outsz, size_t *pos, const char *v, size_t vlen)
{
	size_t room = outsz - *pos - 1;
	size_t max = room > 200 ? 200 : room;
	size_t take = vlen;
	int cut = 0;
	if (take > max) {
		take = max > 3 ? max - 3 : 0;
		while (take > 0 && ((unsigned char)v[take] & 0xC0) == 0x80)
			take--;
		cut = 1;
	}
	memcpy(out + *pos, v, take);
	*pos += take;
	if (cut) {
		size_t dots = room - take >= 3 ? 3 : room - take;
		memcpy(out + *pos, "...", dots);
		*pos += dots;
	}
	out[*pos] = '\0';
}

/* Formats "<before><value><after>" into the parser's message. */
static const char *msg_with(req_parser_t *p, const char *before, const char *v, size_t vlen,
                            const char *after)
{
	size_t pos = 0;
	int n = snprintf(p->msg, sizeof p->msg, "%s", before);
	pos = n < 0 ? 0 : (size_t)n >= sizeof p->msg ? sizeof p->msg - 1 : (size_t)n;
	msg_value(p->msg, sizeof p->msg, &pos, v, vlen);
	size_t alen = strlen(after);
	if (alen > sizeof p->msg - 1 - pos)
		alen = sizeof p->msg - 1 - pos;
	memcpy(p->msg + pos, after, alen);
	p->msg[pos + alen] = '\0';
	return p->msg;
}

static enum req_verdict invalid(req_parser_t *p, uint64_t lineno, const char *what)
{
	snprintf(p->msg, sizeof p->msg, "Line %llu: %s (upstream crashes). Ignoring this line",
	         (unsigned long long)lineno, what);
	p->ev.msg = p->msg;
	return REQ_INVALID;
}

/* ---- The walk over the parsed tree ---- */

/* cJSON's type test, inline (cJSON_Is*() are calls into the shared library). */
static inline int is_type(const cJSON *v, int type)
{
	return v && (v->type & 0xFF) == type;
}

static size_t count_nums(const cJSON *v)
{
	if (is_type(v, cJSON_Number))
		return 1;
	size_t n = 0;
	if (is_type(v, cJSON_Array) || is_type(v, cJSON_Object))
		for (const cJSON *c = v->child; c; c = c->next)
			n += count_nums(c);
	return n;
}

static int key_is(const cJSON *c, const char *key)
{
	return c->string && strcmp(c->string, key) == 0;
}

static req_str_t str_of(const cJSON *v)
{
	req_str_t r = { v->valuestring, strlen(v->valuestring) };
	return r;
}

/* Parses an integer token (JSON grammar, so no '+', no leading zeros) into int64. */
static int num_to_i64(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0;
	if (i < len && s[i] == '-') {
		neg = 1;
		i++;
	}
	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return -1;
	if (neg && v > (uint64_t)INT64_MAX + 1)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Judges "userID" (FV_NONE: absent) into ev's client fields. */
static void judge_client(req_event_t *ev, const struct fval *uid)
{
	ev->client_why = NULL;
	ev->client_state = REQ_CLIENT_OK;
	/* str(userID) as Python prints it: the hash input is that text's UTF-8. */
	switch (uid->type) {
	case FV_NONE:
		ev->client_state = REQ_CLIENT_MISSING;
		ev->client_why = "\"userID\" is missing";
		break;
	case FV_NUM:
		if (!uid->is_int) {
			ev->client_state = REQ_CLIENT_BAD;
			ev->client_why = "\"userID\" is not an integer";
		} else if (uid->len == 2 && uid->s[0] == '-' && uid->s[1] == '0') {
			ev->client_raw = hll_client_raw("0", 1);
		} else {
			ev->client_raw = hll_client_raw(uid->s, uid->len);
		}
		break;
	case FV_STR:
		ev->client_raw = hll_client_raw(uid->s, uid->len);
		break;
	case FV_TRUE:
		ev->client_raw = hll_client_raw("True", 4);
		break;
	case FV_FALSE:
		ev->client_raw = hll_client_raw("False", 5);
		break;
	case FV_NULL:
		ev->client_raw = hll_client_raw("None", 4);
		break;
	default:
		ev->client_state = REQ_CLIENT_BAD;
		ev->client_why = "\"userID\" is an object or an array";
		break;
	}
}

/* A node of cJSON's tree as a struct fval (numidx: its index among the line's numbers). */
static struct fval fval_of(const req_parser_t *p, const cJSON *v, size_t numidx)
{
	struct fval r = { 0 };
	if (!v)
		return r;
	switch (v->type & 0xFF) {
	case cJSON_Number:
		r.type = FV_NUM;
		r.is_int = p->nums[numidx].is_int;
		r.s = p->text + p->nums[numidx].off;
		r.len = p->nums[numidx].len;
		break;
	case cJSON_String:
		r.type = FV_STR;
		r.s = v->valuestring;
		r.len = strlen(v->valuestring);
		break;
	case cJSON_True:
		r.type = FV_TRUE;
		break;
	case cJSON_False:
		r.type = FV_FALSE;
		break;
	case cJSON_NULL:
		r.type = FV_NULL;
		break;
	default:
		r.type = FV_OBJ;
		break;
	}
	return r;
}

/* The first 10 characters (code points, as Python slices) of a UTF-8 string. */
static req_str_t first10(req_str_t s)
{
	if (s.len >= 10) {
		/* Ten ASCII bytes (the common case) are ten characters. */
		uint64_t a;
		uint16_t b;
		memcpy(&a, s.s, 8);
		memcpy(&b, s.s + 8, 2);
		if (!(a & 0x8080808080808080ull) && !(b & 0x8080u)) {
			s.len = 10;
			return s;
		}
	}
	size_t i = 0, chars = 0;
	while (i < s.len && chars < 10) {
		i++;
		while (i < s.len && ((unsigned char)s.s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	s.len = i;
	return s;
}

static enum req_verdict walk_traces(req_parser_t *p, const cJSON *trace, size_t numidx,
                                    uint64_t lineno)
{
	req_event_t *ev = &p->ev;
	size_t n = 0;
	for (const cJSON *t = trace->child; t; t = t->next) {
		if (!is_type(t, cJSON_Object))
			return invalid(p, lineno, "a trace entry is not an object");
		const cJSON *status = NULL, *net = NULL, *sta = NULL, *loc = NULL, *cha = NULL,
		            *start = NULL, *bytes = NULL;
		size_t bytes_idx = 0;
		for (const cJSON *c = t->child; c; c = c->next) {
			/* One comparison per key: dispatch on its first letter. */
			const char *k = c->string;
			switch (k ? k[0] : 0) {
			case 's':
				if (strcmp(k, "status") == 0)
					status = c;
				else if (strcmp(k, "sta") == 0)
					sta = c;
				else if (strcmp(k, "start") == 0)
					start = c;
				break;
			case 'n':
				if (strcmp(k, "net") == 0)
					net = c;
				break;
			case 'l':
				if (strcmp(k, "loc") == 0)
					loc = c;
				break;
			case 'c':
				if (strcmp(k, "cha") == 0)
					cha = c;
				break;
			case 'b':
				if (strcmp(k, "bytes") == 0) {
					bytes = c;
					bytes_idx = numidx;
				}
				break;
			}
			numidx += count_nums(c);
		}
		if (!status)
			return invalid(p, lineno, "a trace has no \"status\"");
		if (!is_type(status, cJSON_String) || strcmp(status->valuestring, "OK") != 0)
			continue;
		if (!net || !sta || !loc || !cha || !start || !bytes)
			return invalid(p, lineno, "an OK trace lacks one of net, sta, loc, cha, start, bytes");
		if (!is_type(net, cJSON_String) || !is_type(sta, cJSON_String) || !is_type(loc, cJSON_String)
		    || !is_type(cha, cJSON_String))
			return invalid(p, lineno, "an OK trace has a net, sta, loc or cha that is not a string");
		if (!is_type(start, cJSON_String))
			return invalid(p, lineno, "an OK trace has a \"start\" that is not a string");
		if (!is_type(bytes, cJSON_Number) || !p->nums[bytes_idx].is_int)
			return invalid(p, lineno, "an OK trace has \"bytes\" that are not an integer");
		int64_t b;
		if (num_to_i64(p->text + p->nums[bytes_idx].off, p->nums[bytes_idx].len, &b) != 0)
			return invalid(p, lineno, "an OK trace has \"bytes\" beyond 64 bits");
		if (n == p->cap_traces) {
			size_t cap = p->cap_traces ? 2 * p->cap_traces : 16;
			p->traces = es_reallocarray(p->traces, cap, sizeof *p->traces);
			p->cap_traces = cap;
		}
		req_trace_t *tr = &p->traces[n++];
		tr->net = str_of(net);
		tr->sta = str_of(sta);
		tr->loc = str_of(loc);
		tr->cha = str_of(cha);
		tr->start = first10(str_of(start));
		tr->bytes = b;
	}
	ev->ntraces = n;
	ev->traces = p->traces;
	return REQ_OK;
}

/* ---- The fast path: the common line in one pass, without a tree ----
 *
 * One pass over the line checks it as scan_json() and cJSON together would
 * (Python's lexical rules, strict UTF-8 inside strings; only ASCII outside)
 * and keeps the values of the fields req_parse() needs, the last of each
 * duplicate key.  It declines (returns -1) whatever is not plain: a
 * backslash or a control character in a string, nesting deeper than
 * REQ_FAST_DEPTH, a value that is not an object, any byte it does not
 * expect, a line long enough to near REQ_MAX_VALUES, a missing "country"
 * (whose message prints cJSON's tree).  The full path then judges the line
 * from scratch, so a declined line costs one wasted pass and nothing else.
 * Strings end in NUL in a copy of the line.
 */
#define REQ_FAST_DEPTH 64

struct fast {
	const char *s;   /* The line. */
	char *buf;       /* Its copy. */
	size_t n, i;
	/* The fields, last duplicate winning. */
	struct fval finished, loc, country, status, trace, uid;
	size_t ntr;           /* OK traces of the last "trace" array. */
	const char *tfail;    /* Its first bad entry's reason, or NULL. */
};

/*
 * Index of the first byte at or after i and before n that ends a run of
 * plain ASCII string content: '"', '\\', a control character or a byte of
 * 0x80 or more; n if none.  SSE2 takes 16 bytes at a time (a signed compare
 * with 0x20 catches both controls and high bytes); the portable fallback
 * takes 8 (as str_stop(), plus the high bits).
 */
static inline size_t fast_str_stop(const char *s, size_t i, size_t n)
{
#if defined(__SSE2__)
	const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
	while (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)),
		                         _mm_cmplt_epi8(v, sp));
		unsigned mask = (unsigned)_mm_movemask_epi8(m);
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	while (n - i >= 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
		uint64_t m = ((v - ones * 0x20) & ~v) | v | ((q - ones) & ~q) | ((b - ones) & ~b);
		m &= highs;
		if (m)
			return i + (size_t)__builtin_ctzll(m) / 8;
		i += 8;
	}
#endif
	while (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80 && s[i] != '"'
	       && s[i] != '\\')
		i++;
	return i;
}

static inline void fast_ws(struct fast *f)
{
	const unsigned char *s = (const unsigned char *)f->s;
	size_t i = f->i, n = f->n;
	/* Most often one space, or none, then a character above ' '. */
	if (i < n && s[i] == ' ')
		i++;
	while (i < n && s[i] <= ' ' && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	f->i = i;
}

static inline int fast_peek(const struct fast *f, char c)
{
	return f->i < f->n && f->s[f->i] == c;
}

/* A string at f->i (its '"'): its first byte's index and length; NUL-ends it in the copy. */
static inline int fast_string(struct fast *f, size_t *start, size_t *len)
{
	size_t i = f->i + 1;
	*start = i;
	for (;;) {
		i = fast_str_stop(f->s, i, f->n);
		if (i >= f->n)
			return -1;
		unsigned char c = (unsigned char)f->s[i];
		if (c == '"')
			break;
		if (c < 0x80)
			return -1;  /* A backslash or a control character: the full path judges. */
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)f->s + i, f->n - i, &cp);
		if (!k)
			return -1;
		i += k;
	}
	f->buf[i] = '\0';
	*len = i - *start;
	f->i = i + 1;
	return 0;
}

/* "key" ws ':' ws at f->i: the key's text (in the line) and length. */
static inline int fast_key(struct fast *f, const char **key, size_t *klen)
{
	size_t start;
	if (!fast_peek(f, '"') || fast_string(f, &start, klen) != 0)
		return -1;
	*key = f->s + start;
	fast_ws(f);
	if (!fast_peek(f, ':'))
		return -1;
	f->i++;
	fast_ws(f);
	return 0;
}

/* After a member: ws, then ',' ws (returns 0) or close (returns 1); -1 for anything else. */
static inline int fast_next(struct fast *f, char close)
{
	fast_ws(f);
	if (f->i >= f->n)
		return -1;
	char c = f->s[f->i++];
	if (c == close)
		return 1;
	if (c != ',')
		return -1;
	fast_ws(f);
	return 0;
}

/* A number token as Python reads it, at most REQ_MAX_NUMBER characters. */
static int fast_number(struct fast *f, struct fval *v)
{
	int is_int;
	size_t end = num_token(f->s, f->n, f->i, &is_int);
	if (!end || end - f->i > REQ_MAX_NUMBER)
		return -1;
	v->type = FV_NUM;
	v->is_int = is_int;
	v->s = f->s + f->i;
	v->len = end - f->i;
	f->i = end;
	return 0;
}

static int fast_word(struct fast *f, const char *w, size_t wl, int type, struct fval *v)
{
	if (f->n - f->i < wl || memcmp(f->s + f->i, w, wl) != 0)
		return -1;
	f->i += wl;
	v->type = type;
	return 0;
}

static int fast_skip(struct fast *f, int depth, char close);

/* Any value at f->i, inside a container of depth depth; containers are checked and skipped. */
static int fast_value(struct fast *f, struct fval *v, int depth)
{
	if (f->i >= f->n)
		return -1;
	size_t start;
	switch (f->s[f->i]) {
	case '"':
		if (fast_string(f, &start, &v->len) != 0)
			return -1;
		v->type = FV_STR;
		v->s = f->buf + start;
		return 0;
	case '{':
		v->type = FV_OBJ;
		return fast_skip(f, depth + 1, '}');
	case '[':
		v->type = FV_ARR;
		return fast_skip(f, depth + 1, ']');
	case 't':
		return fast_word(f, "true", 4, FV_TRUE, v);
	case 'f':
		return fast_word(f, "false", 5, FV_FALSE, v);
	case 'n':
		return fast_word(f, "null", 4, FV_NULL, v);
	default:
		return fast_number(f, v);
	}
}

/* A container at f->i (its '{' or '['), checked and skipped. */
static int fast_skip(struct fast *f, int depth, char close)
{
	if (depth > REQ_FAST_DEPTH)
		return -1;
	f->i++;
	fast_ws(f);
	if (fast_peek(f, close)) {
		f->i++;
		return 0;
	}
	for (;;) {
		const char *k;
		size_t kl;
		struct fval v;
		if ((close == '}' && fast_key(f, &k, &kl) != 0) || fast_value(f, &v, depth) != 0)
			return -1;
		int r = fast_next(f, close);
		if (r != 0)
			return r > 0 ? 0 : -1;
	}
}

/*
 * The members of an object at f->i (its '{'), in a function returning -1 on
 * failure: PICK sees the key (k, kl) and points dst at where its value goes
 * (default: a scratch value), or reads the value itself and sets dst NULL.
 */
#define FAST_OBJECT(f, depth, PICK)                                   \
	do {                                                          \
		(f)->i++;                                             \
		fast_ws(f);                                           \
		if (fast_peek((f), '}')) {                            \
			(f)->i++;                                     \
			break;                                        \
		}                                                     \
		for (;;) {                                            \
			const char *k;                                \
			size_t kl;                                    \
			struct fval skip, *dst = &skip;               \
			if (fast_key((f), &k, &kl) != 0)              \
				return -1;                            \
			PICK                                          \
			if (dst && fast_value((f), dst, (depth)) != 0) \
				return -1;                            \
			int r_ = fast_next((f), '}');                 \
			if (r_ < 0)                                   \
				return -1;                            \
			if (r_)                                       \
				break;                                \
		}                                                     \
	} while (0)

static inline int key_eq(const char *k, size_t kl, const char *lit, size_t ll)
{
	return kl == ll && memcmp(k, lit, ll) == 0;
}

/* One entry of "trace" (an object at f->i): judged as walk_traces() does. */
static int fast_entry(req_parser_t *p, struct fast *f)
{
	struct fval st = { 0 }, net = { 0 }, sta = { 0 }, loc = { 0 }, cha = { 0 }, start = { 0 },
	            bytes = { 0 };
	FAST_OBJECT(f, 3, {
		switch (kl) {
		case 3:
			if (key_eq(k, kl, "net", 3))
				dst = &net;
			else if (key_eq(k, kl, "sta", 3))
				dst = &sta;
			else if (key_eq(k, kl, "loc", 3))
				dst = &loc;
			else if (key_eq(k, kl, "cha", 3))
				dst = &cha;
			break;
		case 5:
			if (key_eq(k, kl, "start", 5))
				dst = &start;
			else if (key_eq(k, kl, "bytes", 5))
				dst = &bytes;
			break;
		case 6:
			if (key_eq(k, kl, "status", 6))
				dst = &st;
			break;
		}
	});
	if (!st.type) {
		f->tfail = "a trace has no \"status\"";
		return 0;
	}
	if (st.type != FV_STR || !key_eq(st.s, st.len, "OK", 2))
		return 0;
	if (!net.type || !sta.type || !loc.type || !cha.type || !start.type || !bytes.type) {
		f->tfail = "an OK trace lacks one of net, sta, loc, cha, start, bytes";
		return 0;
	}
	if (net.type != FV_STR || sta.type != FV_STR || loc.type != FV_STR || cha.type != FV_STR) {
		f->tfail = "an OK trace has a net, sta, loc or cha that is not a string";
		return 0;
	}
	if (start.type != FV_STR) {
		f->tfail = "an OK trace has a \"start\" that is not a string";
		return 0;
	}
	if (bytes.type != FV_NUM || !bytes.is_int) {
		f->tfail = "an OK trace has \"bytes\" that are not an integer";
		return 0;
	}
	int64_t b;
	if (num_to_i64(bytes.s, bytes.len, &b) != 0) {
		f->tfail = "an OK trace has \"bytes\" beyond 64 bits";
		return 0;
	}
	if (f->ntr == p->cap_traces) {
		size_t cap = p->cap_traces ? 2 * p->cap_traces : 16;
		p->traces = es_reallocarray(p->traces, cap, sizeof *p->traces);
		p->cap_traces = cap;
	}
	req_trace_t *tr = &p->traces[f->ntr++];
	tr->net = (req_str_t){ net.s, net.len };
	tr->sta = (req_str_t){ sta.s, sta.len };
	tr->loc = (req_str_t){ loc.s, loc.len };
	tr->cha = (req_str_t){ cha.s, cha.len };
	tr->start = first10((req_str_t){ start.s, start.len });
	tr->bytes = b;
	return 0;
}

/* The "trace" array at f->i (its '['): its OK traces, or the first bad entry. */
static int fast_trace(req_parser_t *p, struct fast *f)
{
	f->ntr = 0;
	f->tfail = NULL;
	f->i++;
	fast_ws(f);
	if (fast_peek(f, ']')) {
		f->i++;
		return 0;
	}
	for (;;) {
		if (!f->tfail && fast_peek(f, '{')) {
			if (fast_entry(p, f) != 0)
				return -1;
		} else {
			struct fval v;
			if (fast_value(f, &v, 2) != 0)
				return -1;
			if (!f->tfail && v.type != FV_OBJ)
				f->tfail = "a trace entry is not an object";
		}
		int r = fast_next(f, ']');
		if (r != 0)
			return r > 0 ? 0 : -1;
	}
}

static int fast_location(struct fast *f)
{
	f->country.type = FV_NONE;
	FAST_OBJECT(f, 2, {
		if (key_eq(k, kl, "country", 7))
			dst = &f->country;
	});
	return 0;
}

/* The whole line (f->i at its first byte): 0 when every field is kept, -1 to decline. */
static int fast_line(req_parser_t *p, struct fast *f)
{
	fast_ws(f);
	if (!fast_peek(f, '{'))
		return -1;
	FAST_OBJECT(f, 1, {
		switch (kl) {
		case 5:
			if (key_eq(k, kl, "trace", 5)) {
				if (fast_peek(f, '[')) {
					if (fast_trace(p, f) != 0)
						return -1;
					f->trace.type = FV_ARR;
					dst = NULL;
					break;
				}
				dst = &f->trace;
			}
			break;
		case 6:
			if (key_eq(k, kl, "status", 6))
				dst = &f->status;
			else if (key_eq(k, kl, "userID", 6))
				dst = &f->uid;
			break;
		case 8:
			if (key_eq(k, kl, "finished", 8))
				dst = &f->finished;
			break;
		case 12:
			if (key_eq(k, kl, "userLocation", 12)) {
				if (fast_peek(f, '{')) {
					if (fast_location(f) != 0)
						return -1;
					f->loc.type = FV_OBJ;
					dst = NULL;
					break;
				}
				dst = &f->loc;
			}
			break;
		}
	});
	fast_ws(f);
	return f->i == f->n ? 0 : -1;
}

/* req_parse()'s judgement of a line fast_line() kept, in the same order: the verdict, or -1. */
static int fast_judge(req_parser_t *p, const struct fast *f, uint64_t lineno)
{
	req_event_t *ev = &p->ev;
	if (!f->finished.type)
		return invalid(p, lineno, "\"finished\" is missing");
	if (f->finished.type != FV_STR)
		return invalid(p, lineno, "\"finished\" is not a string");
	if (req_parse_date(f->finished.s, f->finished.len, &ev->year, &ev->month, &ev->day) != 0) {
		ev->msg = msg_with(p, "Could not parse date ", f->finished.s, f->finished.len, "");
		return REQ_DATE;
	}
	if (!f->loc.type)
		return invalid(p, lineno, "\"userLocation\" is missing");
	if (f->loc.type != FV_OBJ)
		return invalid(p, lineno, "\"userLocation\" is not an object");
	if (f->country.type == FV_STR)
		ev->country = (req_str_t){ f->country.s, f->country.len };
	else if (f->country.type == FV_NULL)
		ev->country = (req_str_t){ NULL, 0 };
	else if (f->country.type)
		return invalid(p, lineno, "\"country\" is neither a string nor null");
	else
		return -1;  /* The message prints userLocation as cJSON does: the full path. */
	if (!f->status.type)
		return invalid(p, lineno, "\"status\" is missing");
	ev->ok = f->status.type == FV_STR && key_eq(f->status.s, f->status.len, "OK", 2);
	if (ev->ok) {
		if (!f->trace.type)
			return invalid(p, lineno, "an OK request has no \"trace\"");
		if (f->trace.type != FV_ARR)
			return invalid(p, lineno, "\"trace\" is not a list");
		if (f->tfail)
			return invalid(p, lineno, f->tfail);
		ev->ntraces = f->ntr;
		ev->traces = p->traces;
	}
	judge_client(ev, &f->uid);
	ev->msg = "";
	return REQ_OK;
}

enum req_verdict req_parse(req_parser_t *p, const char *line, size_t len, uint64_t lineno,
                           int allow_bom, const req_event_t **evp)
{
	req_event_t *ev = &p->ev;
	memset(ev, 0, sizeof *ev);
	ev->traces = p->traces;
	*evp = ev;
	p->root = NULL;
	p->last_fast = 0;
	req_arena_reset(p);

	if (!p->reference && len < REQ_MAX_VALUES) {
		const char *l = line;
		size_t n = len;
		if (allow_bom && n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
			l += 3;
			n -= 3;
		}
		if (n + 1 > p->cap_copy) {
			free(p->copy);
			p->cap_copy = n + 1 > 4096 ? n + 1 : 4096;
			p->copy = es_malloc(p->cap_copy);
		}
		memcpy(p->copy, l, n);
		struct fast f;
		memset(&f, 0, sizeof f);
		f.s = l;
		f.buf = p->copy;
		f.n = n;
		if (fast_line(p, &f) == 0) {
			int v = fast_judge(p, &f, lineno);
			if (v >= 0) {
				p->last_fast = 1;
				return (enum req_verdict)v;
			}
		}
		/* Declined: the full path judges the line from scratch. */
		memset(ev, 0, sizeof *ev);
		ev->traces = p->traces;
	}
	if (!utf8_valid(line, len)) {
		snprintf(p->msg, sizeof p->msg, "Line %llu is not valid UTF-8. Ignoring",
		         (unsigned long long)lineno);
		ev->msg = p->msg;
		return REQ_JSON;
	}
	if (allow_bom && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	const char *why = scan_json(p, line, len);
	if (!why) {
		const char *end = NULL;
		p->root = req_cjson_parse(p, line, len, &end);
		if (!p->root)
			why = "cJSON";
		else
			/* cJSON stops after the value; Python refuses anything but whitespace after it. */
			for (const char *q = end; q < line + len; q++)
				if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
					why = "extra data";
					break;
				}
	}
	if (why) {
		snprintf(p->msg, sizeof p->msg, "Line %llu could not be parsed as JSON. Ignoring",
		         (unsigned long long)lineno);
		ev->msg = p->msg;
		return REQ_JSON;
	}
	p->text = line;
	if (!is_type(p->root, cJSON_Object))
		return invalid(p, lineno, "the JSON value is not an object");

	const cJSON *finished = NULL, *loc = NULL, *status = NULL, *trace = NULL, *uid = NULL;
	size_t numidx = 0, trace_idx = 0, uid_idx = 0;
	for (const cJSON *c = p->root->child; c; c = c->next) {
		const char *k = c->string;
		switch (k[0]) {
		case 'f':
			if (strcmp(k, "finished") == 0)
				finished = c;
			break;
		case 'u':
			if (strcmp(k, "userLocation") == 0)
				loc = c;
			else if (strcmp(k, "userID") == 0) {
				uid = c;
				uid_idx = numidx;
			}
			break;
		case 's':
			if (strcmp(k, "status") == 0)
				status = c;
			break;
		case 't':
			if (strcmp(k, "trace") == 0) {
				trace = c;
				trace_idx = numidx;
			}
			break;
		}
		numidx += count_nums(c);
	}

	if (!finished)
		return invalid(p, lineno, "\"finished\" is missing");
	if (!is_type(finished, cJSON_String))
		return invalid(p, lineno, "\"finished\" is not a string");
	size_t flen = strlen(finished->valuestring);
	if (req_parse_date(finished->valuestring, flen, &ev->year, &ev->month, &ev->day) != 0) {
		ev->msg = msg_with(p, "Could not parse date ", finished->valuestring, flen, "");
		return REQ_DATE;
	}

	if (!loc)
		return invalid(p, lineno, "\"userLocation\" is missing");
	if (!is_type(loc, cJSON_Object))
		return invalid(p, lineno, "\"userLocation\" is not an object");
	const cJSON *country = NULL;
	for (const cJSON *c = loc->child; c; c = c->next)
		if (key_is(c, "country"))
			country = c;
	if (!country) {
		ev->country.s = "";
		ev->country.len = 0;
		ev->country_missing = 1;
	} else if (is_type(country, cJSON_String)) {
		ev->country = str_of(country);
	} else if (is_type(country, cJSON_NULL)) {
		ev->country.s = NULL;
		ev->country.len = 0;
	} else {
		return invalid(p, lineno, "\"country\" is neither a string nor null");
	}

	if (!status)
		return invalid(p, lineno, "\"status\" is missing");
	ev->ok = is_type(status, cJSON_String) && strcmp(status->valuestring, "OK") == 0;
	if (ev->ok) {
		if (!trace)
			return invalid(p, lineno, "an OK request has no \"trace\"");
		if (!is_type(trace, cJSON_Array))
			return invalid(p, lineno, "\"trace\" is not a list");
		enum req_verdict v = walk_traces(p, trace, trace_idx, lineno);
		if (v != REQ_OK)
			return v;
	}
	struct fval uidv = fval_of(p, uid, uid_idx);
	judge_client(ev, &uidv);

	if (ev->country_missing) {
		char *text = cJSON_PrintUnformatted(loc);
		const char *t = text ? text : "{}";
		ev->msg = msg_with(p, "No country code found in ", t, strlen(t),
		                   ", default to empty string");
		cJSON_free(text);
	} else {
		ev->msg = "";
	}
	return REQ_OK;
}
