#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "bytes.h"
#include "cal.h"
#include "error.h"
#include "hex.h"
#include "mem.h"
#include "submit.h"
#include "utf8.h"

/* Deeper nesting only happens in unknown values, which are skipped. */
#define JSON_MAX_DEPTH 64

struct jp {
	const char *start;
	const char *p;
	const char *end;
	char *err;
	size_t errlen;
	int depth;
};

struct jstr {
	size_t len;      /* Bytes stored (or that would have been). */
	size_t nchars;   /* Code points. */
	bool truncated;  /* Did not fit the buffer. */
	bool has_nul;    /* Contains U+0000, which PostgreSQL text cannot hold. */
};

enum jnum { JNUM_INT, JNUM_FRACTION, JNUM_RANGE };

static int fail(struct jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct jp *j, const char *fmt, ...)
{
	if (j->errlen > 0 && j->err[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(j->err, j->errlen, fmt, ap);
		va_end(ap);
	}
	return ES_EFORMAT;
}

static int syntax(struct jp *j, const char *what)
{
	return fail(j, "invalid JSON at byte %zu: %s", (size_t)(j->p - j->start), what);
}

static void ws(struct jp *j)
{
	while (j->p < j->end && (unsigned char)*j->p <= ' ' &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int peek(struct jp *j)
{
	if (j->p < j->end && (unsigned char)*j->p > ' ')
		return (unsigned char)*j->p;
	ws(j);
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static int expect(struct jp *j, char c, const char *what)
{
	if (peek(j) != (unsigned char)c)
		return syntax(j, what);
	j->p++;
	return 0;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit_any((unsigned char)s[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* Decodes one UTF-8 sequence at j->p (strict: see utf8.h). */
static int utf8(struct jp *j, uint32_t *cp)
{
	size_t n = utf8_decode((const unsigned char *)j->p, (size_t)(j->end - j->p), cp);

	if (n == 0)
		return syntax(j, "invalid UTF-8");
	j->p += n;
	return 0;
}

/* A byte that stands for itself in a string: printable ASCII but the quote and the backslash. */
static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The high bit of each byte of x that is zero (exact: no carry crosses bytes). */
static uint64_t zero_bytes(uint64_t x)
{
	return ~(((x & ~HIGHS) + ~HIGHS) | x) & HIGHS;
}

/* The high bit of each of the 8 bytes of w that is not a plain_byte(). */
static uint64_t special_bytes(uint64_t w)
{
	return (w & HIGHS) | zero_bytes(w & (ONES * 0xE0)) | zero_bytes(w ^ (ONES * '"')) |
	       zero_bytes(w ^ (ONES * '\\'));
}

/* Length of the run of plain bytes at p (before end), 8 bytes at a time. */
static size_t plain_run(const char *p, const char *end)
{
	const char *q = p;

	while (end - q >= 8) {
		uint64_t w, m;
		memcpy(&w, q, 8);
		if ((m = special_bytes(w)) != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return (size_t)(q - p) + (size_t)__builtin_ctzll(m) / 8;
#else
			break;
#endif
		}
		q += 8;
	}
	while (q < end && plain_byte((unsigned char)*q))
		q++;
	return (size_t)(q - p);
}

/*
 * Reads a string (j->p at its opening quote) into buf[0..cap) as UTF-8 with
 * a NUL; buf may be NULL to only validate it.  What does not fit is counted
 * but not stored.
 */
static int jstring(struct jp *j, char *buf, size_t cap, struct jstr *s)
{
	memset(s, 0, sizeof *s);
	j->p++;
	for (;;) {
		uint32_t cp = 0;
		unsigned char c;

		if (j->p >= j->end)
			return syntax(j, "unterminated string");
		c = (unsigned char)*j->p;
		if (plain_byte(c)) {
			/* A run of plain bytes is copied whole (a truncated text is never read). */
			size_t run = plain_run(j->p, j->end);
			if (buf && !s->truncated && s->len + run < cap)
				memcpy(buf + s->len, j->p, run);
			else
				s->truncated = true;
			s->len += run;
			s->nchars += run;
			j->p += run;
			continue;
		}
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20)
			return syntax(j, "control character inside a string");
		if (c == '\\') {
			if (j->end - j->p < 2)
				return syntax(j, "unterminated string");
			c = (unsigned char)j->p[1];
			j->p += 2;
			switch (c) {
			case '"': case '\\': case '/': cp = c; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (j->end - j->p < 4 || hex4(j->p, &cp) < 0)
					return syntax(j, "invalid \\u escape");
				j->p += 4;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return syntax(j, "unpaired UTF-16 surrogate");
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					uint32_t lo;
					if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
					    hex4(j->p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
						return syntax(j, "unpaired UTF-16 surrogate");
					j->p += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				}
				break;
			default:
				j->p--;
				return syntax(j, "invalid escape");
			}
		} else if (c < 0x80) {
			cp = c;
			j->p++;
		} else {
			int rc = utf8(j, &cp);
			if (rc < 0)
				return rc;
		}
		if (cp == 0)
			s->has_nul = true;
		char enc[4];
		size_t n = utf8_encode(cp, enc);
		if (buf && !s->truncated && s->len + n < cap)
			memcpy(buf + s->len, enc, n);
		else
			s->truncated = true;
		s->len += n;
		s->nchars++;
	}
	if (buf && cap > 0)
		buf[s->truncated ? 0 : s->len] = '\0';
	return 0;
}

/* Reads a JSON number; *v is meaningful only for JNUM_INT. */
static int jnumber(struct jp *j, int64_t *v, enum jnum *kind)
{
	bool neg = false, digits = false;
	uint64_t mag = 0;

	*kind = JNUM_INT;
	if (j->p < j->end && *j->p == '-') {
		neg = true;
		j->p++;
	}
	if (j->p < j->end && *j->p == '0') {
		j->p++;
		digits = true;
	} else {
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
			unsigned d = (unsigned)(*j->p - '0');
			if (mag > (UINT64_MAX - d) / 10)
				*kind = JNUM_RANGE;
			else
				mag = mag * 10 + d;
			j->p++;
			digits = true;
		}
	}
	if (!digits)
		return syntax(j, "invalid number");
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return syntax(j, "invalid number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		*kind = JNUM_FRACTION;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return syntax(j, "invalid number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		*kind = JNUM_FRACTION;
	}
	if (*kind == JNUM_INT) {
		if (!neg && mag > (uint64_t)INT64_MAX)
			*kind = JNUM_RANGE;
		else if (neg && mag > (uint64_t)INT64_MAX + 1)
			*kind = JNUM_RANGE;
		else
			*v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	}
	return 0;
}

static int jliteral(struct jp *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return syntax(j, "invalid literal");
	j->p += n;
	return 0;
}

static int skip_value(struct jp *j);

static int skip_container(struct jp *j, char open, char close)
{
	int rc;
	bool first = true;

	if (++j->depth > JSON_MAX_DEPTH)
		return syntax(j, "nesting too deep");
	j->p++;
	for (;;) {
		int c = peek(j);
		if (c == close && first) {
			j->p++;
			break;
		}
		if (open == '{') {
			struct jstr s;
			if (c != '"')
				return syntax(j, "expected a key");
			if ((rc = jstring(j, NULL, 0, &s)) < 0)
				return rc;
			if ((rc = expect(j, ':', "expected ':'")) < 0)
				return rc;
		}
		if ((rc = skip_value(j)) < 0)
			return rc;
		first = false;
		c = peek(j);
		if (c == ',') {
			j->p++;
			continue;
		}
		if (c == close) {
			j->p++;
			break;
		}
		return syntax(j, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	j->depth--;
	return 0;
}

static int skip_value(struct jp *j)
{
	struct jstr s;
	int64_t v;
	enum jnum k;

	switch (peek(j)) {
	case '{': return skip_container(j, '{', '}');
	case '[': return skip_container(j, '[', ']');
	case '"': return jstring(j, NULL, 0, &s);
	case 't': return jliteral(j, "true");
	case 'f': return jliteral(j, "false");
	case 'n': return jliteral(j, "null");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return jnumber(j, &v, &k);
	case -1: return syntax(j, "unexpected end of input");
	default: return syntax(j, "unexpected character");
	}
}

/*
 * Steps through an object whose '{' was consumed: reads the next key and its
 * ':' (returns 1, the key in key/s), or the closing '}' (returns 0).  *first
 * is true before the first member.  The member loops of the payload and of a
 * stat are built on it.
 */
static int obj_key(struct jp *j, bool *first, char *key, size_t cap, struct jstr *s)
{
	int c = peek(j), rc;

	if (c == '}' || !*first) {
		if (c == '}') {
			j->p++;
			return 0;
		}
		if (c != ',')
			return syntax(j, "expected ',' or '}'");
		j->p++;
		c = peek(j);
	}
	*first = false;
	if (c != '"')
		return syntax(j, "expected a key");
	if ((rc = jstring(j, key, cap, s)) < 0)
		return rc;
	rc = expect(j, ':', "expected ':'");
	return rc < 0 ? rc : 1;
}

/* Steps through an array whose '[' was consumed: 1 when an element follows, 0 at the ']'. */
static int arr_next(struct jp *j, bool *first)
{
	int c = peek(j);

	if (c == ']') {
		j->p++;
		return 0;
	}
	if (!*first) {
		if (c != ',')
			return syntax(j, "expected ',' or ']'");
		j->p++;
	}
	*first = false;
	return 1;
}

static bool is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool valid_date(const char *s, size_t len)
{
	return cal_parse_ymd(s, len, NULL, NULL, NULL) == 0;
}

/* YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}][Z|±HH[:MM]|±HHMM] */
static bool valid_timestamp(const char *s, size_t len)
{
	size_t i = 19;

	if (len < 19 || !valid_date(s, 10) || (s[10] != ' ' && s[10] != 'T') ||
	    s[13] != ':' || s[16] != ':' || !is_digits(s + 11, 2) ||
	    !is_digits(s + 14, 2) || !is_digits(s + 17, 2))
		return false;
	if (num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 59)
		return false;
	if (i < len && s[i] == '.') {
		size_t f = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f || i - f > 9)
			return false;
	}
	if (i == len)
		return true;
	if (s[i] == 'Z')
		return i + 1 == len;
	if (s[i] != '+' && s[i] != '-')
		return false;
	i++;
	if (len - i == 2 && is_digits(s + i, 2))
		return num(s + i, 2) <= 15;
	if (len - i == 4 && is_digits(s + i, 4))
		return num(s + i, 2) <= 15 && num(s + i + 2, 2) <= 59;
	if (len - i == 5 && s[i + 2] == ':' && is_digits(s + i, 2) && is_digits(s + i + 3, 2))
		return num(s + i, 2) <= 15 && num(s + i + 3, 2) <= 59;
	return false;
}

/* Stat fields, as bits of the "seen" mask. */
enum {
	F_MONTH = 1 << 0, F_NETWORK = 1 << 1, F_STATION = 1 << 2, F_LOCATION = 1 << 3,
	F_CHANNEL = 1 << 4, F_COUNTRY = 1 << 5, F_BYTES = 1 << 6, F_NBREQ = 1 << 7,
	F_NBOK = 1 << 8, F_NBFAIL = 1 << 9, F_CLIENTS = 1 << 10
};

#define STAT_FIELD(name, bit) { name, sizeof name - 1, bit }

static const struct stat_field {
	const char *name;
	size_t len;
	unsigned bit;
} stat_fields[] = {
	STAT_FIELD("month", F_MONTH), STAT_FIELD("network", F_NETWORK),
	STAT_FIELD("station", F_STATION), STAT_FIELD("location", F_LOCATION),
	STAT_FIELD("channel", F_CHANNEL), STAT_FIELD("country", F_COUNTRY),
	STAT_FIELD("bytes", F_BYTES), STAT_FIELD("nb_requests", F_NBREQ),
	STAT_FIELD("nb_successful_requests", F_NBOK),
	STAT_FIELD("nb_unsuccessful_requests", F_NBFAIL), STAT_FIELD("clients", F_CLIENTS),
};

#define N_STAT_FIELDS (sizeof stat_fields / sizeof stat_fields[0])
#define REQUIRED_FIELDS (F_MONTH | F_NETWORK | F_STATION | F_LOCATION | F_CHANNEL | \
                         F_BYTES | F_NBOK | F_CLIENTS)

/* Whether c can begin a JSON value (else skip_value() reports the syntax error). */
static bool starts_value(int c)
{
	return c > 0 && strchr("{[\"tfn-0123456789", c) != NULL;
}

static const char *type_name(int c)
{
	switch (c) {
	case '{': return "an object";
	case '[': return "an array";
	case '"': return "a string";
	case 't': case 'f': return "a boolean";
	case 'n': return "null";
	default: return "a number";
	}
}

static int code_field(struct jp *j, size_t idx, const char *name, char *dst, size_t cap,
                      size_t maxchars)
{
	struct jstr s;
	int rc, c = peek(j);

	if (c != '"') {
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "stats[%zu].%s: %s, not a string", idx, name, type_name(c));
	}
	if ((rc = jstring(j, dst, cap, &s)) < 0)
		return rc;
	if (s.nchars > maxchars)
		return fail(j, "stats[%zu].%s: longer than %zu characters", idx, name, maxchars);
	if (s.has_nul)
		return fail(j, "stats[%zu].%s: contains a NUL character", idx, name);
	return 0;
}

/* Reads an integer counter; null is allowed when nullable (*present is then false). */
static int counter_field(struct jp *j, size_t idx, const char *name, int64_t max,
                         bool nullable, int64_t *out, bool *present)
{
	enum jnum kind;
	int rc, c = peek(j);

	*present = false;
	if (c == 'n' && nullable) {
		return jliteral(j, "null");
	}
	if (c != '-' && !(c >= '0' && c <= '9')) {
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "stats[%zu].%s: %s, not an integer", idx, name, type_name(c));
	}
	if ((rc = jnumber(j, out, &kind)) < 0)
		return rc;
	if (kind == JNUM_FRACTION)
		return fail(j, "stats[%zu].%s: not an integer", idx, name);
	if (kind == JNUM_RANGE || *out > max)
		return fail(j, "stats[%zu].%s: larger than %lld", idx, name, (long long)max);
	if (*out < 0)
		return fail(j, "stats[%zu].%s: negative", idx, name);
	*present = true;
	return 0;
}

static int parse_stat(struct jp *j, size_t idx, struct submit_row *r)
{
	/* Room for the largest hll as text, with a little slack to detect longer ones. */
	char text[HLL_HEX_MAX + 8], key[32];
	bool first = true;
	unsigned seen = 0;
	size_t next = 0;
	int64_t bytes = 0, nbreq = 0, nbok = 0, nbfail = 0;
	bool has_nbreq = false, has_nbfail = false, present;
	struct jstr s;
	int rc, c;

	memset(r, 0, sizeof *r);
	hll_init(&r->clients);
	if (peek(j) != '{') {
		c = peek(j);
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "stats[%zu]: %s, not an object", idx, type_name(c));
	}
	if (++j->depth > JSON_MAX_DEPTH)
		return syntax(j, "nesting too deep");
	j->p++;
	while ((rc = obj_key(j, &first, key, sizeof key, &s)) > 0) {
		const struct stat_field *f = NULL;

		/*
		 * The key ends at its first NUL (a \u0000 inside cuts it), as it always
		 * has.  The search starts after the last field found: stats usually list
		 * their fields in one order.
		 */
		size_t klen = s.has_nul ? strlen(key) : s.len;
		for (size_t n = 0, i = next; !s.truncated && n < N_STAT_FIELDS; n++, i = (i + 1) % N_STAT_FIELDS)
			if (klen == stat_fields[i].len && memcmp(key, stat_fields[i].name, klen) == 0) {
				f = &stat_fields[i];
				next = (i + 1) % N_STAT_FIELDS;
				break;
			}
		if (f && (seen & f->bit))
			return fail(j, "stats[%zu].%s: given twice", idx, f->name);
		if (f)
			seen |= f->bit;
		switch (f ? f->bit : 0) {
		case F_MONTH:
			c = peek(j);
			if (c != '"') {
				if (!starts_value(c))
					return skip_value(j);
				return fail(j, "stats[%zu].month: %s, not a string", idx, type_name(c));
			}
			if ((rc = jstring(j, text, sizeof text, &s)) < 0)
				return rc;
			if (s.truncated || !valid_date(text, s.len))
				return fail(j, "stats[%zu].month: not a date YYYY-MM-DD", idx);
			memcpy(r->date, text, 11);
			break;
		case F_NETWORK:
			rc = code_field(j, idx, "network", r->network, sizeof r->network, SUBMIT_NETWORK_MAX);
			break;
		case F_STATION:
			rc = code_field(j, idx, "station", r->station, sizeof r->station, SUBMIT_STATION_MAX);
			break;
		case F_LOCATION:
			rc = code_field(j, idx, "location", r->location, sizeof r->location, SUBMIT_LOCATION_MAX);
			break;
		case F_CHANNEL:
			rc = code_field(j, idx, "channel", r->channel, sizeof r->channel, SUBMIT_CHANNEL_MAX);
			break;
		case F_COUNTRY:
			/* As upstream: anything but a two-character code becomes "". */
			c = peek(j);
			if (c == 'n') {
				rc = jliteral(j, "null");
			} else if (c == '"') {
				if ((rc = jstring(j, text, 8, &s)) < 0)
					return rc;
				if (!s.truncated && s.len == 2 &&
				    ((text[0] >= 'A' && text[0] <= 'Z') || (text[0] >= 'a' && text[0] <= 'z') ||
				     (text[0] >= '0' && text[0] <= '9')) &&
				    ((text[1] >= 'A' && text[1] <= 'Z') || (text[1] >= 'a' && text[1] <= 'z') ||
				     (text[1] >= '0' && text[1] <= '9')))
					memcpy(r->country, text, 3);
			} else if (c == -1) {
				return syntax(j, "unexpected end of input");
			} else {
				return fail(j, "stats[%zu].country: %s, not a string or null", idx, type_name(c));
			}
			break;
		case F_BYTES:
			rc = counter_field(j, idx, "bytes", INT64_MAX, false, &bytes, &present);
			break;
		case F_NBREQ:
			rc = counter_field(j, idx, "nb_requests", INT32_MAX, true, &nbreq, &has_nbreq);
			break;
		case F_NBOK:
			rc = counter_field(j, idx, "nb_successful_requests", INT32_MAX, false, &nbok, &present);
			break;
		case F_NBFAIL:
			rc = counter_field(j, idx, "nb_unsuccessful_requests", INT32_MAX, true, &nbfail, &has_nbfail);
			break;
		case F_CLIENTS: {
			const char *why = NULL;
			c = peek(j);
			if (c != '"') {
				if (!starts_value(c))
					return skip_value(j);
				return fail(j, "stats[%zu].clients: %s, not a string", idx, type_name(c));
			}
			if ((rc = jstring(j, text, sizeof text, &s)) < 0)
				return rc;
			if (s.truncated)
				return fail(j, "stats[%zu].clients: longer than the largest hll(11,5)", idx);
			if (s.len < 2 || text[0] != '\\' || text[1] != 'x')
				return fail(j, "stats[%zu].clients: not \\x followed by hex digits", idx);
			rc = hll_parse_hex_digits(&r->clients, text + 2, s.len - 2, &why);
			if (rc < 0)
				return fail(j, "stats[%zu].clients: not valid hll(11,5) bytes: %s", idx,
				            why ? why : es_strerror(rc));
			break;
		}
		default:
			rc = skip_value(j);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	j->depth--;
	if ((seen & REQUIRED_FIELDS) != REQUIRED_FIELDS) {
		for (size_t i = 0; i < N_STAT_FIELDS; i++)
			if ((REQUIRED_FIELDS & stat_fields[i].bit) && !(seen & stat_fields[i].bit))
				return fail(j, "stats[%zu].%s: missing", idx, stat_fields[i].name);
	}
	if (!has_nbfail)
		nbfail = 0;
	if (!has_nbreq) {
		nbreq = nbok + nbfail;
		if (nbreq > INT32_MAX)
			return fail(j, "stats[%zu].nb_requests: successful + unsuccessful is larger than %d",
			            idx, INT32_MAX);
	}
	r->bytes = bytes;
	r->nb_reqs = (int32_t)nbreq;
	r->nb_successful = (int32_t)nbok;
	r->nb_failed = (int32_t)nbfail;
	return 0;
}

static int key_cmp(const struct submit_row *x, const struct submit_row *y)
{
	int c;

	if ((c = strcmp(x->date, y->date)) != 0)
		return c;
	if ((c = strcmp(x->network, y->network)) != 0)
		return c;
	if ((c = strcmp(x->station, y->station)) != 0)
		return c;
	if ((c = strcmp(x->location, y->location)) != 0)
		return c;
	if ((c = strcmp(x->channel, y->channel)) != 0)
		return c;
	return strcmp(x->country, y->country);
}

static int day_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 10);
}

/*
 * Sorting moves small keys, not rows: the first SORT_KEY_BYTES of a row's key
 * as big-endian words (the date packed in 3 bytes, then each code and the
 * country with its NUL, zero-padded), which order as key_cmp() does because
 * the codes hold no NUL.  Rows whose words tie are told apart by key_cmp(),
 * then by payload order.
 */
#define SORT_KEY_WORDS 3
#define SORT_KEY_BYTES (8 * SORT_KEY_WORDS)

struct sort_key {
	uint64_t w[SORT_KEY_WORDS];
	size_t row;  /* Index in p->rows, which is the stat's index. */
};

static void make_sort_key(const struct submit_row *r, size_t row, struct sort_key *k)
{
	const char *fields[] = { r->network, r->station, r->location, r->channel, r->country };
	uint8_t b[SORT_KEY_BYTES] = { 0 };
	const char *d = r->date;
	/* YYYY-MM-DD, validated: the numbers order as the text does. */
	uint32_t y = (uint32_t)((d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0'));
	uint32_t m = (uint32_t)((d[5] - '0') * 10 + (d[6] - '0'));
	uint32_t v = y << 9 | m << 5 | (uint32_t)((d[8] - '0') * 10 + (d[9] - '0'));
	size_t n = 3;

	b[0] = (uint8_t)(v >> 16);
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)v;
	for (size_t f = 0; f < sizeof fields / sizeof fields[0] && n < SORT_KEY_BYTES; f++)
		for (const char *c = fields[f]; n < SORT_KEY_BYTES; c++) {
			b[n++] = (uint8_t)*c;
			if (*c == '\0')
				break;
		}
	for (size_t i = 0; i < SORT_KEY_WORDS; i++)
		k->w[i] = bytes_get_be64(b + 8 * i);
	k->row = row;
}

/* key_cmp() of the two keys' rows, the words first. */
static int sort_key_cmp(const struct sort_key *x, const struct sort_key *y, const struct submit_row *rows)
{
	for (size_t i = 0; i < SORT_KEY_WORDS; i++)
		if (x->w[i] != y->w[i])
			return x->w[i] < y->w[i] ? -1 : 1;
	return key_cmp(&rows[x->row], &rows[y->row]);
}

static bool sort_key_less(const struct sort_key *x, const struct sort_key *y, const struct submit_row *rows)
{
	int c = sort_key_cmp(x, y, rows);
	return c < 0 || (c == 0 && x->row < y->row);
}

/* A merge sort (stable; the order is total anyway), which also skips merging halves already in order. */
static void sort_keys(struct sort_key *a, struct sort_key *tmp, size_t n, const struct submit_row *rows)
{
	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			struct sort_key k = a[i];
			size_t at = i;
			for (; at > 0 && sort_key_less(&k, &a[at - 1], rows); at--)
				a[at] = a[at - 1];
			a[at] = k;
		}
		return;
	}
	size_t h = n / 2, l = 0, r = h, o = 0;
	sort_keys(a, tmp, h, rows);
	sort_keys(a + h, tmp, n - h, rows);
	if (!sort_key_less(&a[h], &a[h - 1], rows))
		return;
	memcpy(tmp, a, h * sizeof a[0]);
	while (l < h && r < n)
		a[o++] = sort_key_less(&a[r], &tmp[l], rows) ? a[r++] : tmp[l++];
	memcpy(a + o, tmp + l, (h - l) * sizeof a[0]);
}

static int merge_rows(struct jp *j, struct submit_payload *p)
{
	struct submit_row *rows = p->rows;
	size_t n = p->nrows, out = 0;
	struct sort_key *keys, *tmp;
	bool sorted = true;

	if (n <= 1)
		return 0;
	keys = es_reallocarray(NULL, n, sizeof keys[0]);
	for (size_t i = 0; i < n; i++) {
		make_sort_key(&rows[i], i, &keys[i]);
		if (sorted && i > 0 && sort_key_cmp(&keys[i - 1], &keys[i], rows) >= 0)
			sorted = false;
	}
	/* Already strictly ascending: nothing to sort or merge. */
	if (sorted) {
		free(keys);
		return 0;
	}
	tmp = es_reallocarray(NULL, n / 2 + 1, sizeof tmp[0]);
	sort_keys(keys, tmp, n, rows);
	free(tmp);

	/* Rows are put in key order in place, one cycle of the permutation at a time. */
	for (size_t i = 0; i < n; i++) {
		if (keys[i].row == i)
			continue;
		struct submit_row t = rows[i];
		size_t at = i;
		while (keys[at].row != i) {
			size_t from = keys[at].row;
			rows[at] = rows[from];
			keys[at].row = at;
			at = from;
		}
		rows[at] = t;
		keys[at].row = at;
	}

	/* Each slot keeps one owner of its HLL (moved-from and merged slots are left EMPTY). */
	for (size_t i = 1; i < n; i++) {
		struct submit_row *dst = &rows[out], *src = &rows[i];
		if (sort_key_cmp(&keys[i - 1], &keys[i], rows) != 0) {
			if (++out != i) {
				rows[out] = *src;
				hll_init(&src->clients);
			}
			continue;
		}
		if (dst->bytes > INT64_MAX - src->bytes ||
		    (int64_t)dst->nb_reqs + src->nb_reqs > INT32_MAX ||
		    (int64_t)dst->nb_successful + src->nb_successful > INT32_MAX ||
		    (int64_t)dst->nb_failed + src->nb_failed > INT32_MAX) {
			free(keys);
			return fail(j, "stats[%zu]: the counters of the stats that share its key (stats[%zu]) overflow",
			            src->stat_index, dst->stat_index);
		}
		dst->bytes += src->bytes;
		dst->nb_reqs += src->nb_reqs;
		dst->nb_successful += src->nb_successful;
		dst->nb_failed += src->nb_failed;
		hll_union(&dst->clients, &src->clients);
		hll_fini(&src->clients);
	}
	free(keys);
	p->nrows = out + 1;
	return 0;
}

/* Bytes one row adds to the digest at most: its text fields, 5 numbers and its HLL. */
#define DIGEST_ROW_MAX (sizeof(struct submit_row) + 5 * 8 + HLL_MAX_BYTES)

/* Appends the NUL-terminated s with its NUL; returns the end. */
static uint8_t *put_text(uint8_t *o, const char *s)
{
	size_t n = strlen(s) + 1;
	memcpy(o, s, n);
	return o + n;
}

static uint8_t *put_be64(uint8_t *o, uint64_t v)
{
	bytes_put_be64(o, v);
	return o + 8;
}

static int digest(struct submit_payload *p)
{
	static const char tag[] = "eidastats-submit-1";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* Rows are hashed in batches: the same bytes as one update per field, fewer calls. */
	uint8_t *buf = es_malloc(64 * DIGEST_ROW_MAX), *o = buf;
	uint8_t num8[8];
	unsigned int dlen = 0;
	int ok;

	if (!ctx) {
		free(buf);
		return -ENOMEM;
	}
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	ok = ok && EVP_DigestUpdate(ctx, tag, sizeof tag);
	bytes_put_be64(num8, p->ndays);
	ok = ok && EVP_DigestUpdate(ctx, num8, 8);
	for (size_t i = 0; ok && i < p->ndays; i++)
		ok = EVP_DigestUpdate(ctx, p->days[i], 10);
	bytes_put_be64(num8, p->nrows);
	ok = ok && EVP_DigestUpdate(ctx, num8, 8);
	for (size_t i = 0; ok && i < p->nrows; i++) {
		const struct submit_row *r = &p->rows[i];
		/* Every text field ends with its NUL, so field boundaries cannot shift. */
		o = put_text(o, r->date);
		o = put_text(o, r->network);
		o = put_text(o, r->station);
		o = put_text(o, r->location);
		o = put_text(o, r->channel);
		o = put_text(o, r->country);
		o = put_be64(o, (uint64_t)r->bytes);
		o = put_be64(o, (uint64_t)r->nb_reqs);
		o = put_be64(o, (uint64_t)r->nb_successful);
		o = put_be64(o, (uint64_t)r->nb_failed);
		size_t n = hll_serialize(&r->clients, o + 8);
		o = put_be64(o, n) + n;
		if ((size_t)(o - buf) > 63 * DIGEST_ROW_MAX) {
			ok = EVP_DigestUpdate(ctx, buf, (size_t)(o - buf));
			o = buf;
		}
	}
	ok = ok && EVP_DigestUpdate(ctx, buf, (size_t)(o - buf));
	ok = ok && EVP_DigestFinal_ex(ctx, p->digest, &dlen);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ok && dlen == SUBMIT_DIGEST_LEN ? 0 : ES_EINTERNAL;
}

static int parse_days(struct jp *j, struct submit_payload *p, const struct submit_limits *lim)
{
	char text[16];
	struct jstr s;
	size_t cap = 0;
	bool first = true;
	int rc, c = peek(j);

	if (c != '[') {
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "days_coverage: %s, not an array", type_name(c));
	}
	j->p++;
	while ((rc = arr_next(j, &first)) > 0) {
		c = peek(j);
		if (c != '"') {
			if (!starts_value(c))
				return skip_value(j);
			return fail(j, "days_coverage[%zu]: %s, not a string", p->ndays, type_name(c));
		}
		if ((rc = jstring(j, text, sizeof text, &s)) < 0)
			return rc;
		if (s.truncated || !valid_date(text, s.len))
			return fail(j, "days_coverage[%zu]: not a date YYYY-MM-DD", p->ndays);
		if (p->ndays >= lim->max_days) {
			fail(j, "days_coverage: more than %zu days", lim->max_days);
			return ES_ELIMIT;
		}
		if (p->ndays == cap) {
			cap = cap ? 2 * cap : 64;
			p->days = es_reallocarray(p->days, cap, sizeof p->days[0]);
		}
		memcpy(p->days[p->ndays++], text, 11);
	}
	if (rc < 0 || p->ndays == 0)
		return rc;
	qsort(p->days, p->ndays, sizeof p->days[0], day_cmp);
	size_t out = 0;
	for (size_t i = 1; i < p->ndays; i++)
		if (memcmp(p->days[out], p->days[i], 10) != 0)
			memcpy(p->days[++out], p->days[i], 11);
	p->ndays = out + 1;
	return 0;
}

static int parse_stats(struct jp *j, struct submit_payload *p, const struct submit_limits *lim)
{
	size_t cap = 0;
	bool first = true;
	int rc, c = peek(j);

	if (c != '[') {
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "stats: %s, not an array", type_name(c));
	}
	j->p++;
	while ((rc = arr_next(j, &first)) > 0) {
		if (p->nrows >= lim->max_stats) {
			fail(j, "stats: more than %zu statistics", lim->max_stats);
			return ES_ELIMIT;
		}
		if (p->nrows == cap) {
			cap = cap ? 2 * cap : 256;
			p->rows = es_reallocarray(p->rows, cap, sizeof p->rows[0]);
		}
		/* Counted before parsing so that submit_fini() frees a half-parsed row's HLL. */
		rc = parse_stat(j, p->nrows, &p->rows[p->nrows]);
		p->rows[p->nrows].stat_index = p->nrows;
		p->nrows++;
		if (rc < 0)
			return rc;
	}
	if (rc < 0 || p->nrows == 0)
		return rc;
	p->nstats = p->nrows;
	return merge_rows(j, p);
}

static int string_field(struct jp *j, const char *name, char *dst, size_t cap, struct jstr *s)
{
	int c = peek(j);

	if (c != '"') {
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "%s: %s, not a string", name, type_name(c));
	}
	return jstring(j, dst, cap, s);
}

static int parse_top(struct jp *j, struct submit_payload *p, const struct submit_limits *lim)
{
	enum { T_GEN = 1, T_VERSION = 2, T_DAYS = 4, T_STATS = 8 };
	char key[32];
	bool first = true;
	unsigned seen = 0;
	struct jstr s;
	int rc, c;

	c = peek(j);
	if (c != '{') {
		if (c == -1)
			return fail(j, "the body is empty");
		if (!starts_value(c))
			return skip_value(j);
		return fail(j, "the payload is %s, not an object", type_name(c));
	}
	j->p++;
	while ((rc = obj_key(j, &first, key, sizeof key, &s)) > 0) {
		unsigned bit = 0;

		if (!s.truncated) {
			if (strcmp(key, "generated_at") == 0)
				bit = T_GEN;
			else if (strcmp(key, "version") == 0)
				bit = T_VERSION;
			else if (strcmp(key, "days_coverage") == 0)
				bit = T_DAYS;
			else if (strcmp(key, "stats") == 0)
				bit = T_STATS;
		}
		if (bit & seen)
			return fail(j, "%s: given twice", key);
		seen |= bit;
		switch (bit) {
		case T_GEN:
			if ((rc = string_field(j, "generated_at", p->generated_at, sizeof p->generated_at, &s)) < 0)
				return rc;
			if (s.truncated || !valid_timestamp(p->generated_at, s.len))
				return fail(j, "generated_at: not a time YYYY-MM-DD HH:MM:SS");
			break;
		case T_VERSION:
			if ((rc = string_field(j, "version", p->version, sizeof p->version, &s)) < 0)
				return rc;
			if (s.truncated || s.nchars > SUBMIT_VERSION_MAX)
				return fail(j, "version: longer than %d characters", SUBMIT_VERSION_MAX);
			if (s.has_nul)
				return fail(j, "version: contains a NUL character");
			break;
		case T_DAYS:
			rc = parse_days(j, p, lim);
			break;
		case T_STATS:
			rc = parse_stats(j, p, lim);
			break;
		default:
			rc = skip_value(j);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (peek(j) != -1)
		return syntax(j, "text after the payload");
	if (!(seen & T_GEN))
		return fail(j, "generated_at: missing");
	if (!(seen & T_VERSION))
		return fail(j, "version: missing");
	if (!(seen & T_DAYS))
		return fail(j, "days_coverage: missing");
	if (!(seen & T_STATS))
		return fail(j, "stats: missing");
	return 0;
}

void submit_limits_default(struct submit_limits *lim)
{
	lim->max_stats = SUBMIT_DEFAULT_MAX_STATS;
	lim->max_days = SUBMIT_DEFAULT_MAX_DAYS;
}

void submit_init(struct submit_payload *p)
{
	memset(p, 0, sizeof *p);
}

void submit_fini(struct submit_payload *p)
{
	for (size_t i = 0; i < p->nrows; i++)
		hll_fini(&p->rows[i].clients);
	free(p->rows);
	free(p->days);
	submit_init(p);
}

int submit_parse(struct submit_payload *p, const char *json, size_t len,
                 const struct submit_limits *lim, char *err, size_t errlen)
{
	struct submit_limits def;
	struct jp j = { .start = json, .p = json, .end = json + len, .err = err, .errlen = errlen };
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (!lim) {
		submit_limits_default(&def);
		lim = &def;
	}
	/* A UTF-8 byte order mark is not JSON; Python's json.loads refuses it too. */
	rc = parse_top(&j, p, lim);
	if (rc == 0)
		rc = digest(p);
	if (rc < 0) {
		if (errlen > 0 && err[0] == '\0')
			snprintf(err, errlen, "%s", es_strerror(rc));
		submit_fini(p);
	}
	return rc;
}

bool submit_span(const struct submit_payload *p, const char **first, const char **last)
{
	if (p->ndays > 0) {
		*first = p->days[0];
		*last = p->days[p->ndays - 1];
		return true;
	}
	if (p->nrows > 0) {
		/* Rows are sorted by date first. */
		*first = p->rows[0].date;
		*last = p->rows[p->nrows - 1].date;
		return true;
	}
	return false;
}

int submit_gunzip(const void *in, size_t len, size_t max_out, char **out, size_t *outlen)
{
	z_stream zs;
	size_t cap, used = 0;
	char *buf;
	int zrc, rc = 0;

	*out = NULL;
	*outlen = 0;
	if (len == 0)
		return ES_ETRUNC;
	memset(&zs, 0, sizeof zs);
	/* 16 + MAX_WBITS: gzip framing only, with its CRC and length checked. */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	cap = len < max_out / 4 ? len * 4 : max_out;
	if (cap < 4096)
		cap = 4096;
	if (cap > max_out + 1)
		cap = max_out + 1;
	buf = es_malloc(cap + 1);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = 0;
	size_t in_left = len;
	for (;;) {
		if (zs.avail_in == 0 && in_left > 0) {
			uInt chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
			zs.avail_in = chunk;
			in_left -= chunk;
		}
		if (used == cap) {
			if (cap > max_out) {
				rc = ES_ELIMIT;
				break;
			}
			cap = cap > max_out / 2 ? max_out + 1 : cap * 2;
			buf = es_realloc(buf, cap + 1);
		}
		size_t room = cap - used;
		zs.next_out = (Bytef *)buf + used;
		zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
		uInt before = zs.avail_out;
		zrc = inflate(&zs, Z_NO_FLUSH);
		used += before - zs.avail_out;
		if (used > max_out) {
			rc = ES_ELIMIT;
			break;
		}
		if (zrc == Z_STREAM_END) {
			if (zs.avail_in == 0 && in_left == 0)
				break;
			/* Another gzip member follows (as `cat a.gz b.gz` makes). */
			if (inflateReset(&zs) != Z_OK) {
				rc = ES_ECORRUPT;
				break;
			}
			continue;
		}
		if (zrc == Z_BUF_ERROR) {
			if (zs.avail_in == 0 && in_left == 0) {
				rc = ES_ETRUNC;
				break;
			}
			continue;
		}
		if (zrc != Z_OK) {
			rc = zrc == Z_MEM_ERROR ? -ENOMEM : ES_ECORRUPT;
			break;
		}
		if (zs.avail_in == 0 && in_left == 0 && zs.avail_out != 0) {
			rc = ES_ETRUNC;
			break;
		}
	}
	inflateEnd(&zs);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[used] = '\0';
	*out = buf;
	*outlen = used;
	return 0;
}
