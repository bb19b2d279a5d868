#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hex.h"
#include "hll.h"
#include "mem.h"

#define HLL_HDR1 0x8B /* (regwidth - 1) << 5 | log2m */
#define HLL_HDR2 0x7F /* sparse on, explicit cutoff "auto" */
#define HLL_REG_MAX 31
#define HLL_EXPLICIT_FIRST 2
#define HLL_SPARSE_FIRST 8
#define HLL_SPARSE_KEEP_MAX ((HLL_MAX_BYTES - 3) / 2)

_Static_assert(HLL_SPARSE_KEEP_MAX == 640, "a kept SPARSE set must fit in HLL_MAX_BYTES");

static unsigned reg_index(int64_t raw)
{
	return (unsigned)((uint64_t)raw & (HLL_M - 1));
}

static unsigned reg_value(int64_t raw)
{
	/* The shift must be logical: a negative raw value would otherwise smear its sign bit. */
	uint64_t w = (uint64_t)raw >> HLL_LOG2M;
	if (w == 0)
		return 0;
	unsigned p = (unsigned)__builtin_ctzll(w) + 1;
	return p > HLL_REG_MAX ? HLL_REG_MAX : p;
}

static size_t elem_size(uint8_t type)
{
	switch (type) {
	case HLL_EXPLICIT: return sizeof(int64_t);
	case HLL_SPARSE: return sizeof(uint16_t);
	case HLL_FULL: return 1;
	default: return 0;
	}
}

/* Grows data to hold at least need elements, doubling from a small first block. */
static void reserve(hll_t *h, size_t need, size_t first, size_t max)
{
	if (need <= h->cap)
		return;
	size_t cap = h->cap ? (size_t)h->cap * 2 : first;
	if (cap < need)
		cap = need;
	if (cap > max)
		cap = max;
	h->data = es_reallocarray(h->data, cap, elem_size(h->type));
	h->cap = (uint16_t)cap;
}

void hll_init(hll_t *h)
{
	h->type = HLL_EMPTY;
	h->n = 0;
	h->cap = 0;
	h->data = NULL;
}

void hll_fini(hll_t *h)
{
	free(h->data);
	hll_init(h);
}

void hll_copy(hll_t *dst, const hll_t *src)
{
	if (dst == src)
		return;
	hll_fini(dst);
	dst->type = src->type;
	dst->n = src->n;
	size_t count = src->type == HLL_FULL ? HLL_M : src->n;
	if (src->type == HLL_EMPTY || count == 0)
		return;
	size_t bytes = count * elem_size(src->type);
	dst->data = es_malloc(bytes);
	memcpy(dst->data, src->data, bytes);
	dst->cap = (uint16_t)count;
}

/* Raises regs[] to the register values that h holds (or, if EXPLICIT, would set). */
static void regs_max_from(const hll_t *h, uint8_t *regs)
{
	switch (h->type) {
	case HLL_EXPLICIT: {
		const int64_t *v = h->data;
		for (size_t i = 0; i < h->n; i++) {
			unsigned j = reg_index(v[i]), p = reg_value(v[i]);
			if (regs[j] < p)
				regs[j] = (uint8_t)p;
		}
		break;
	}
	case HLL_SPARSE: {
		const uint16_t *w = h->data;
		for (size_t i = 0; i < h->n; i++) {
			unsigned j = w[i] >> HLL_REGWIDTH, p = w[i] & HLL_REG_MAX;
			if (regs[j] < p)
				regs[j] = (uint8_t)p;
		}
		break;
	}
	case HLL_FULL: {
		const uint8_t *r = h->data;
		for (size_t j = 0; j < HLL_M; j++)
			if (regs[j] < r[j])
				regs[j] = r[j];
		break;
	}
	}
}

static unsigned count_nonzero(const uint8_t *regs)
{
	unsigned nz = 0;
	for (size_t j = 0; j < HLL_M; j++)
		nz += regs[j] != 0;
	return nz;
}

/* Replaces h's content with the registers regs (nz of them non-zero), encoded as type. */
static void store_registers(hll_t *h, const uint8_t *regs, unsigned nz, uint8_t type)
{
	if (type == HLL_FULL) {
		if (h->type != HLL_FULL) {
			free(h->data);
			h->data = es_malloc(HLL_M);
			h->cap = HLL_M;
		}
		memcpy(h->data, regs, HLL_M);
	} else {
		uint16_t *w = nz ? es_reallocarray(NULL, nz, sizeof *w) : NULL;
		size_t k = 0;
		for (unsigned j = 0; j < HLL_M; j++)
			if (regs[j])
				w[k++] = (uint16_t)(j << HLL_REGWIDTH | regs[j]);
		free(h->data);
		h->data = w;
		h->cap = (uint16_t)nz;
	}
	h->type = type;
	h->n = (uint16_t)nz;
}

/* Re-encodes h (EXPLICIT or SPARSE) as FULL, keeping its registers. */
static void to_full(hll_t *h)
{
	uint8_t regs[HLL_M] = { 0 };
	regs_max_from(h, regs);
	store_registers(h, regs, count_nonzero(regs), HLL_FULL);
}

static void full_set(hll_t *h, unsigned j, unsigned p)
{
	uint8_t *r = h->data;
	if (r[j] < p) {
		if (r[j] == 0)
			h->n++;
		r[j] = (uint8_t)p;
	}
}

/* Sets register j of a SPARSE set to at least p (> 0); a 513th register makes it FULL. */
static void sparse_set(hll_t *h, unsigned j, unsigned p)
{
	uint16_t *w = h->data;
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((unsigned)(w[mid] >> HLL_REGWIDTH) < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && (unsigned)(w[lo] >> HLL_REGWIDTH) == j) {
		if ((w[lo] & HLL_REG_MAX) < p)
			w[lo] = (uint16_t)(j << HLL_REGWIDTH | p);
		return;
	}
	if (h->n >= HLL_SPARSE_MAX) {
		to_full(h);
		full_set(h, j, p);
		return;
	}
	reserve(h, (size_t)h->n + 1, HLL_SPARSE_FIRST, HLL_SPARSE_MAX);
	w = h->data;
	memmove(w + lo + 1, w + lo, (h->n - lo) * sizeof *w);
	w[lo] = (uint16_t)(j << HLL_REGWIDTH | p);
	h->n++;
}

static void reg_set(hll_t *h, unsigned j, unsigned p)
{
	if (h->type == HLL_SPARSE)
		sparse_set(h, j, p);
	else
		full_set(h, j, p);
}

static void explicit_add(hll_t *h, int64_t raw)
{
	int64_t *v = h->data;
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < raw)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && v[lo] == raw)
		return;
	if (h->n == HLL_EXPLICIT_MAX) {
		/* The 161st distinct value: at most 161 registers, so SPARSE always suffices. */
		uint8_t regs[HLL_M] = { 0 };
		regs_max_from(h, regs);
		unsigned j = reg_index(raw), p = reg_value(raw);
		if (regs[j] < p)
			regs[j] = (uint8_t)p;
		store_registers(h, regs, count_nonzero(regs), HLL_SPARSE);
		return;
	}
	reserve(h, (size_t)h->n + 1, HLL_EXPLICIT_FIRST, HLL_EXPLICIT_MAX);
	v = h->data;
	memmove(v + lo + 1, v + lo, (h->n - lo) * sizeof *v);
	v[lo] = raw;
	h->n++;
}

void hll_add_raw(hll_t *h, int64_t raw)
{
	unsigned p;

	switch (h->type) {
	case HLL_EMPTY:
		h->type = HLL_EXPLICIT;
		/* fall through */
	case HLL_EXPLICIT:
		explicit_add(h, raw);
		return;
	case HLL_SPARSE:
		/* A parsed SPARSE set may hold more than 512 registers; any change re-checks. */
		if (h->n > HLL_SPARSE_MAX) {
			to_full(h);
		} else {
			p = reg_value(raw);
			if (p)
				sparse_set(h, reg_index(raw), p);
			return;
		}
		/* fall through */
	case HLL_FULL:
		p = reg_value(raw);
		if (p)
			full_set(h, reg_index(raw), p);
		return;
	}
}

void hll_union(hll_t *dst, const hll_t *src)
{
	if (dst == src) {
		hll_t tmp;
		hll_init(&tmp);
		hll_copy(&tmp, src);
		hll_union(dst, &tmp);
		hll_fini(&tmp);
		return;
	}
	if (src->type == HLL_EMPTY)
		return;
	if (dst->type == HLL_EMPTY) {
		hll_copy(dst, src);
		return;
	}
	if (src->type == HLL_EXPLICIT) {
		const int64_t *v = src->data;
		if (dst->type == HLL_EXPLICIT) {
			/* Adding b's values one by one is python-hll's rule and gives the closed form. */
			for (size_t i = 0; i < src->n; i++)
				hll_add_raw(dst, v[i]);
			return;
		}
		for (size_t i = 0; i < src->n; i++) {
			unsigned p = reg_value(v[i]);
			if (p)
				reg_set(dst, reg_index(v[i]), p);
		}
		if (dst->type == HLL_SPARSE && dst->n > HLL_SPARSE_MAX)
			to_full(dst);
		return;
	}
	if (dst->type == HLL_FULL && src->type == HLL_SPARSE) {
		/* Register by register: the Other rows of a query unite many sets into one FULL. */
		const uint16_t *w = src->data;
		for (size_t i = 0; i < src->n; i++)
			full_set(dst, w[i] >> HLL_REGWIDTH, w[i] & HLL_REG_MAX);
		return;
	}
	if (dst->type == HLL_FULL && src->type == HLL_FULL) {
		/* In place: FULL stays FULL. */
		uint8_t *d = dst->data;
		const uint8_t *r = src->data;
		unsigned nz = 0;
		for (size_t j = 0; j < HLL_M; j++) {
			d[j] = d[j] < r[j] ? r[j] : d[j];
			nz += d[j] != 0;
		}
		dst->n = (uint16_t)nz;
		return;
	}
	uint8_t regs[HLL_M] = { 0 };
	regs_max_from(dst, regs);
	regs_max_from(src, regs);
	unsigned nz = count_nonzero(regs);
	bool full = dst->type == HLL_FULL || src->type == HLL_FULL || nz > HLL_SPARSE_MAX;
	store_registers(dst, regs, nz, full ? HLL_FULL : HLL_SPARSE);
}

size_t hll_size(const hll_t *h)
{
	switch (h->type) {
	case HLL_EXPLICIT: return 3 + 8 * (size_t)h->n;
	case HLL_SPARSE: return 3 + 2 * (size_t)h->n;
	case HLL_FULL: return HLL_FULL_BYTES;
	default: return 3;
	}
}

size_t hll_serialize(const hll_t *h, uint8_t *out)
{
	out[0] = (uint8_t)(0x10 | h->type);
	out[1] = HLL_HDR1;
	out[2] = HLL_HDR2;
	uint8_t *o = out + 3;
	switch (h->type) {
	case HLL_EXPLICIT: {
		const int64_t *v = h->data;
		for (size_t i = 0; i < h->n; i++) {
			uint64_t u = (uint64_t)v[i];
			for (int b = 7; b >= 0; b--)
				*o++ = (uint8_t)(u >> (8 * b));
		}
		break;
	}
	case HLL_SPARSE: {
		const uint16_t *w = h->data;
		for (size_t i = 0; i < h->n; i++) {
			*o++ = (uint8_t)(w[i] >> 8);
			*o++ = (uint8_t)w[i];
		}
		break;
	}
	case HLL_FULL: {
		/* Eight 5-bit registers make exactly five bytes, most significant bit first. */
		const uint8_t *r = h->data;
		for (size_t g = 0; g < HLL_M; g += 8) {
			uint64_t acc = 0;
			for (size_t k = 0; k < 8; k++)
				acc = acc << HLL_REGWIDTH | r[g + k];
			for (int b = 4; b >= 0; b--)
				*o++ = (uint8_t)(acc >> (8 * b));
		}
		break;
	}
	}
	return (size_t)(o - out);
}

size_t hll_to_hex(const hll_t *h, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	uint8_t buf[HLL_MAX_BYTES];
	size_t len = hll_serialize(h, buf);
	char *o = out;
	*o++ = '\\';
	*o++ = 'x';
	for (size_t i = 0; i < len; i++) {
		*o++ = digits[buf[i] >> 4];
		*o++ = digits[buf[i] & 15];
	}
	*o = '\0';
	return (size_t)(o - out);
}

/* The payload being parsed: either bytes, or (already validated) hex digits, two per byte. */
struct hll_src {
	const uint8_t *bin;
	const char *hex;
	size_t len;
};

static uint8_t src_byte(const struct hll_src *s, size_t i)
{
	if (s->bin)
		return s->bin[i];
	return (uint8_t)(hex_digit_any(s->hex[2 * i]) << 4 | hex_digit_any(s->hex[2 * i + 1]));
}

static int parse_fail(int err, const char *reason, const char **why)
{
	if (why)
		*why = reason;
	return err;
}

static int parse_src(hll_t *h, const struct hll_src *s, const char **why)
{
	size_t len = s->len;
	hll_fini(h);
	if (len < 3)
		return parse_fail(ES_EFORMAT, "shorter than the 3-byte header", why);
	uint8_t b0 = src_byte(s, 0), b1 = src_byte(s, 1), b2 = src_byte(s, 2);
	if (b0 >> 4 != 1)
		return parse_fail(ES_EFORMAT, "schema version is not 1", why);
	uint8_t type = b0 & 15;
	if (type < HLL_EMPTY || type > HLL_FULL)
		return parse_fail(ES_EFORMAT, "type is not EMPTY, EXPLICIT, SPARSE or FULL", why);
	if (b1 != HLL_HDR1)
		return parse_fail(ES_EPARAM, "log2m and regwidth are not 11 and 5", why);
	if (b2 != HLL_HDR2)
		return parse_fail(ES_EPARAM, "sparse and explicit-threshold settings are not on and auto", why);
	size_t data = len - 3;

	switch (type) {
	case HLL_EMPTY:
		if (data != 0)
			return parse_fail(ES_EFORMAT, "EMPTY set with data bytes", why);
		return 0;
	case HLL_EXPLICIT: {
		if (data % 8 != 0)
			return parse_fail(ES_EFORMAT, "EXPLICIT data is not a multiple of 8 bytes", why);
		size_t count = data / 8;
		int64_t prev = 0;
		h->type = HLL_EXPLICIT;
		if (count <= HLL_EXPLICIT_MAX)
			reserve(h, count, count, HLL_EXPLICIT_MAX);
		for (size_t i = 0; i < count; i++) {
			uint64_t u = 0;
			for (size_t b = 0; b < 8; b++)
				u = u << 8 | src_byte(s, 3 + 8 * i + b);
			int64_t v = (int64_t)u;
			if (i > 0 && v <= prev) {
				hll_fini(h);
				return parse_fail(ES_EFORMAT,
				                  "EXPLICIT values are not strictly ascending (duplicate or out of order)",
				                  why);
			}
			prev = v;
			/* Ascending input makes every insert an append; the 161st value promotes. */
			hll_add_raw(h, v);
		}
		return 0;
	}
	case HLL_SPARSE: {
		if (data % 2 != 0)
			return parse_fail(ES_EFORMAT, "SPARSE data has leftover bits (odd length)", why);
		uint8_t regs[HLL_M] = { 0 };
		for (size_t i = 0; i < data / 2; i++) {
			unsigned w = (unsigned)src_byte(s, 3 + 2 * i) << 8 | src_byte(s, 4 + 2 * i);
			unsigned j = w >> HLL_REGWIDTH, p = w & HLL_REG_MAX;
			if (regs[j] < p)
				regs[j] = (uint8_t)p;
		}
		unsigned nz = count_nonzero(regs);
		h->type = HLL_SPARSE;
		store_registers(h, regs, nz, nz > HLL_SPARSE_KEEP_MAX ? HLL_FULL : HLL_SPARSE);
		return 0;
	}
	case HLL_FULL: {
		if (len != HLL_FULL_BYTES)
			return parse_fail(ES_EFORMAT, "FULL data is not 1280 bytes", why);
		uint8_t regs[HLL_M];
		for (size_t g = 0; g < HLL_M; g += 8) {
			uint64_t acc = 0;
			for (size_t b = 0; b < 5; b++)
				acc = acc << 8 | src_byte(s, 3 + g / 8 * 5 + b);
			for (size_t k = 0; k < 8; k++)
				regs[g + k] = (uint8_t)(acc >> (HLL_REGWIDTH * (7 - k)) & HLL_REG_MAX);
		}
		store_registers(h, regs, count_nonzero(regs), HLL_FULL);
		return 0;
	}
	}
	return parse_fail(ES_EINTERNAL, "unreachable type", why);
}

int hll_parse(hll_t *h, const uint8_t *buf, size_t len, const char **why)
{
	struct hll_src s = { .bin = buf, .hex = NULL, .len = len };
	return parse_src(h, &s, why);
}

int hll_union_stored(hll_t *dst, const uint8_t *buf, size_t len, const char **why)
{
	/* A FULL set makes any union FULL: dst becomes FULL first (its registers kept). */
	if (dst->type != HLL_FULL && len == HLL_FULL_BYTES && buf[0] == (0x10 | HLL_FULL)
	    && buf[1] == HLL_HDR1 && buf[2] == HLL_HDR2) {
		if (dst->type == HLL_EMPTY) {
			free(dst->data);
			dst->data = es_calloc(HLL_M, 1);
			dst->cap = HLL_M;
			dst->n = 0;
			dst->type = HLL_FULL;
		} else {
			to_full(dst);
		}
	}
	if (dst->type == HLL_FULL && len >= 3 && buf[0] >> 4 == 1 && buf[1] == HLL_HDR1
	    && buf[2] == HLL_HDR2) {
		uint8_t type = buf[0] & 15;
		size_t data = len - 3;
		uint8_t *d = dst->data;

		if (type == HLL_FULL && len == HLL_FULL_BYTES) {
			unsigned nz = 0;
			for (size_t g = 0; g < HLL_M; g += 8) {
				uint64_t acc = 0;
				for (size_t b = 0; b < 5; b++)
					acc = acc << 8 | buf[3 + g / 8 * 5 + b];
				for (size_t k = 0; k < 8; k++) {
					uint8_t p = (uint8_t)(acc >> (HLL_REGWIDTH * (7 - k)) & HLL_REG_MAX);
					d[g + k] = d[g + k] < p ? p : d[g + k];
					nz += d[g + k] != 0;
				}
			}
			dst->n = (uint16_t)nz;
			return 0;
		}
		if (type == HLL_SPARSE && data % 2 == 0) {
			for (size_t i = 0; i < data / 2; i++) {
				unsigned w = (unsigned)buf[3 + 2 * i] << 8 | buf[4 + 2 * i];
				full_set(dst, w >> HLL_REGWIDTH, w & HLL_REG_MAX);
			}
			return 0;
		}
	}
	/* Anything else (and every error) as hll_parse() and hll_union() do it. */
	hll_t h;
	hll_init(&h);
	int rc = hll_parse(&h, buf, len, why);
	if (rc == 0)
		hll_union(dst, &h);
	hll_fini(&h);
	return rc;
}

int hll_parse_hex(hll_t *h, const char *hex, size_t len, const char **why)
{
	if (len >= 2 && hex[0] == '\\' && (hex[1] == 'x' || hex[1] == 'X')) {
		hex += 2;
		len -= 2;
	}
	return hll_parse_hex_digits(h, hex, len, why);
}

int hll_parse_hex_digits(hll_t *h, const char *hex, size_t len, const char **why)
{
	hll_fini(h);
	if (len % 2 != 0)
		return parse_fail(ES_EFORMAT, "odd number of hex digits", why);
	/* Every set a reader accepts fits (a SPARSE one of 2048 words is the longest): decode once. */
	uint8_t bin[3 + 2 * HLL_M];
	bool fits = len / 2 <= sizeof bin;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit_any(hex[2 * i]), lo = hex_digit_any(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return parse_fail(ES_EFORMAT, "not a hex digit", why);
		if (fits)
			bin[i] = (uint8_t)(hi << 4 | lo);
	}
	struct hll_src s = { .bin = fits ? bin : NULL, .hex = hex, .len = len / 2 };
	return parse_src(h, &s, why);
}

/* 2^-r for every register value r (exact: the ldexp(1.0, -r) of the estimate, without the call). */
static const double pow2_neg[HLL_REG_MAX + 1] = {
	0x1p-0, 0x1p-1, 0x1p-2, 0x1p-3, 0x1p-4, 0x1p-5, 0x1p-6, 0x1p-7,
	0x1p-8, 0x1p-9, 0x1p-10, 0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15,
	0x1p-16, 0x1p-17, 0x1p-18, 0x1p-19, 0x1p-20, 0x1p-21, 0x1p-22, 0x1p-23,
	0x1p-24, 0x1p-25, 0x1p-26, 0x1p-27, 0x1p-28, 0x1p-29, 0x1p-30, 0x1p-31
};

double hll_estimate(const hll_t *h)
{
	if (h->type == HLL_EMPTY)
		return 0.0;
	if (h->type == HLL_EXPLICIT)
		return (double)h->n;

	/* Every term is a power of two no smaller than 2^-31 and the sum is at most 2^11, so it is exact. */
	double sum = 0.0;
	unsigned zeros;
	if (h->type == HLL_SPARSE) {
		const uint16_t *w = h->data;
		zeros = HLL_M - h->n;
		sum = (double)zeros;
		for (size_t i = 0; i < h->n; i++)
			sum += pow2_neg[w[i] & HLL_REG_MAX];
	} else {
		const uint8_t *r = h->data;
		zeros = 0;
		for (size_t j = 0; j < HLL_M; j++) {
			zeros += r[j] == 0;
			sum += pow2_neg[r[j] & HLL_REG_MAX];
		}
	}

	/* The operation order is python-hll's and PostgreSQL's; it fixes every rounding. */
	const double m = HLL_M;
	const double alpha_mm = (0.7213 / (1.0 + 1.079 / m)) * m * m;
	const double two_l = ldexp(1.0, (1 << HLL_REGWIDTH) - 2 + HLL_LOG2M);
	double e = alpha_mm / sum;
	if (zeros > 0 && e < 5.0 * m / 2.0)
		return m * log(m / (double)zeros);
	if (e <= two_l / 30.0)
		return e;
	return -two_l * log(1.0 - e / two_l);
}

uint64_t hll_cardinality(const hll_t *h)
{
	if (h->type == HLL_EMPTY)
		return 0;
	if (h->type == HLL_EXPLICIT)
		return h->n;
	double est = hll_estimate(h);
	/* Beyond the large-range correction's domain python-hll answers 0; so do we. */
	if (!isfinite(est) || !(est > 0.0))
		return 0;
	return (uint64_t)ceil(est);
}

unsigned hll_nonzero_registers(const hll_t *h)
{
	switch (h->type) {
	case HLL_EXPLICIT: {
		uint64_t seen[HLL_M / 64] = { 0 };
		unsigned nz = 0;
		const int64_t *v = h->data;
		for (size_t i = 0; i < h->n; i++) {
			if (!reg_value(v[i]))
				continue;
			unsigned j = reg_index(v[i]);
			if (!(seen[j / 64] >> (j % 64) & 1)) {
				seen[j / 64] |= (uint64_t)1 << (j % 64);
				nz++;
			}
		}
		return nz;
	}
	case HLL_SPARSE:
	case HLL_FULL:
		return h->n;
	default:
		return 0;
	}
}

const char *hll_type_name(const hll_t *h)
{
	switch (h->type) {
	case HLL_EMPTY: return "EMPTY";
	case HLL_EXPLICIT: return "EXPLICIT";
	case HLL_SPARSE: return "SPARSE";
	case HLL_FULL: return "FULL";
	default: return "UNDEFINED";
	}
}

size_t hll_heap_bytes(const hll_t *h)
{
	return (size_t)h->cap * elem_size(h->type);
}
