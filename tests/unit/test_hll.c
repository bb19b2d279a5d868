#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "hex.h"
#include "hll.h"
#include "mem.h"
#include "unit.h"

/* Two doubles equal exactly (estimates are compared as python-hll computes them, never truncated). */
#define ASSERT_DEQ(a, b) do { double a_ = (a), b_ = (b); if (!(a_ == b_))      \
	unit_fail(__FILE__, __LINE__, "%s == %s: %.17g != %.17g", #a, #b, a_, b_); } while (0)

/* ---- helpers ---------------------------------------------------------- */

static cJSON *load_vectors(void)
{
	return unit_json(unit_data("hll-vectors.json"));
}

static int64_t json_int64(const cJSON *n, const char *what)
{
	if (!cJSON_IsNumber(n))
		unit_fail(__FILE__, __LINE__, "%s: not a number", what);
	double d = n->valuedouble;
	/* All vector values are below 2^53 in magnitude, so the double is exact; check it. */
	if (d != floor(d) || fabs(d) > 9007199254740992.0)
		unit_fail(__FILE__, __LINE__, "%s: %.17g is not an exactly representable integer", what, d);
	return (int64_t)d;
}

/* Feeds every raw value of a vector's parts list to fn. */
static void for_each_raw(const cJSON *parts, const char *name, void (*fn)(void *, int64_t), void *ctx)
{
	const cJSON *part;
	cJSON_ArrayForEach(part, parts) {
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(part, "values");
		const cJSON *range = cJSON_GetObjectItemCaseSensitive(part, "mmh3_range");
		if (cJSON_IsArray(values)) {
			const cJSON *v;
			cJSON_ArrayForEach(v, values)
				fn(ctx, json_int64(v, name));
		} else if (cJSON_IsArray(range) && cJSON_GetArraySize(range) == 2) {
			int64_t a = json_int64(cJSON_GetArrayItem(range, 0), name);
			int64_t b = json_int64(cJSON_GetArrayItem(range, 1), name);
			for (int64_t i = a; i < b; i++) {
				char text[32];
				int n = snprintf(text, sizeof text, "%lld", (long long)i);
				fn(ctx, hll_client_raw(text, (size_t)n));
			}
		} else {
			unit_fail(__FILE__, __LINE__, "%s: unknown input part", name);
		}
	}
}

static void add_one(void *ctx, int64_t raw)
{
	hll_add_raw(ctx, raw);
}

static void fold_one(void *ctx, int64_t raw)
{
	hll_t single;
	hll_init(&single);
	hll_add_raw(&single, raw);
	hll_union(ctx, &single);
	hll_fini(&single);
}

static void build(hll_t *h, const cJSON *parts, const char *name)
{
	hll_init(h);
	for_each_raw(parts, name, add_one, h);
}

static const cJSON *field(const cJSON *obj, const char *key, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!f)
		unit_fail(__FILE__, __LINE__, "%s: vector has no field %s", name, key);
	return f;
}

/* Checks h against an "expected" (or a_result/b_result) object of the vector file. */
static void check_expected(const hll_t *h, const cJSON *exp, const char *name, const char *what)
{
	char hex[HLL_HEX_MAX];
	size_t hexlen = hll_to_hex(h, hex);
	const char *want_hex = field(exp, "hex", name)->valuestring;
	if (!want_hex || strcmp(hex, want_hex) != 0)
		unit_fail(__FILE__, __LINE__, "%s (%s): hex %.60s... differs from %.60s...", name, what, hex,
		          want_hex ? want_hex : "(null)");
	if (hexlen != strlen(want_hex))
		unit_fail(__FILE__, __LINE__, "%s (%s): hll_to_hex returned %zu", name, what, hexlen);
	if (hll_size(h) * 2 + 2 != hexlen)
		unit_fail(__FILE__, __LINE__, "%s (%s): hll_size %zu disagrees with the hex", name, what,
		          hll_size(h));
	const cJSON *nbytes = cJSON_GetObjectItemCaseSensitive(exp, "nbytes");
	if (nbytes && (int64_t)hll_size(h) != json_int64(nbytes, name))
		unit_fail(__FILE__, __LINE__, "%s (%s): %zu bytes", name, what, hll_size(h));
	const char *want_type = field(exp, "type", name)->valuestring;
	if (!want_type || strcmp(hll_type_name(h), want_type) != 0)
		unit_fail(__FILE__, __LINE__, "%s (%s): type %s, expected %s", name, what,
		          hll_type_name(h), want_type ? want_type : "(null)");
	int64_t want_card = json_int64(field(exp, "cardinality", name), name);
	if ((int64_t)hll_cardinality(h) != want_card)
		unit_fail(__FILE__, __LINE__, "%s (%s): cardinality %llu, expected %lld", name, what,
		          (unsigned long long)hll_cardinality(h), (long long)want_card);
	const cJSON *est = field(exp, "estimate", name);
	if (!cJSON_IsNumber(est) || hll_estimate(h) != est->valuedouble)
		unit_fail(__FILE__, __LINE__, "%s (%s): estimate %.17g, expected %.17g", name, what,
		          hll_estimate(h), est->valuedouble);
	const cJSON *nz = cJSON_GetObjectItemCaseSensitive(exp, "nonzero_registers");
	if (nz && cJSON_IsNumber(nz) && (int64_t)hll_nonzero_registers(h) != json_int64(nz, name))
		unit_fail(__FILE__, __LINE__, "%s (%s): %u non-zero registers, expected %lld", name, what,
		          hll_nonzero_registers(h), (long long)json_int64(nz, name));
}

/* Parses the expected hex into a new set; re-serialising must give the same bytes. */
static void parse_expected(hll_t *h, const cJSON *exp, const char *name)
{
	const char *hex = field(exp, "hex", name)->valuestring;
	const char *why = NULL;
	hll_init(h);
	int rc = hll_parse_hex(h, hex, strlen(hex), &why);
	if (rc != 0)
		unit_fail(__FILE__, __LINE__, "%s: parsing %.40s: %s (%s)", name, hex, es_strerror(rc),
		          why ? why : "?");
	check_expected(h, exp, name, "parsed and re-serialised");
}

static unsigned cases_of_kind(const char *kind, void (*fn)(const cJSON *, const char *))
{
	cJSON *root = load_vectors();
	unsigned count = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
		const char *k = field(c, "kind", "?")->valuestring;
		const char *name = field(c, "name", "?")->valuestring;
		if (k && strcmp(k, kind) == 0) {
			fn(c, name);
			count++;
		}
	}
	cJSON_Delete(root);
	return count;
}

/* ---- the vector file ---------------------------------------------------- */

TEST(hll_vectors_cover_every_case)
{
	cJSON *root = load_vectors();
	const cJSON *c;
	int total = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
		const char *k = field(c, "kind", "?")->valuestring;
		ASSERT(k && (strcmp(k, "add") == 0 || strcmp(k, "union") == 0 || strcmp(k, "union_fold") == 0));
		total++;
	}
	ASSERT_EQ(total, 51);
	cJSON_Delete(root);
}

static void run_add_case(const cJSON *c, const char *name)
{
	hll_t h, p, copy;
	build(&h, field(c, "input", name), name);
	const cJSON *exp = field(c, "expected", name);
	check_expected(&h, exp, name, "added");
	hll_init(&copy);
	hll_copy(&copy, &h);
	check_expected(&copy, exp, name, "copied");
	parse_expected(&p, exp, name);
	hll_fini(&h);
	hll_fini(&p);
	hll_fini(&copy);
}

TEST(hll_vectors_add)
{
	ASSERT_EQ(cases_of_kind("add", run_add_case), 25);
}

static void union_both_orders(const hll_t *a, const hll_t *b, const cJSON *exp, const char *name,
                              const char *what)
{
	hll_t ab, ba;
	hll_init(&ab);
	hll_init(&ba);
	hll_copy(&ab, a);
	hll_union(&ab, b);
	hll_copy(&ba, b);
	hll_union(&ba, a);
	check_expected(&ab, exp, name, what);
	check_expected(&ba, exp, name, what);
	hll_fini(&ab);
	hll_fini(&ba);
}

static void run_union_case(const cJSON *c, const char *name)
{
	hll_t a, b, pa, pb;
	const cJSON *exp = field(c, "expected", name);
	build(&a, field(c, "a", name), name);
	build(&b, field(c, "b", name), name);
	check_expected(&a, field(c, "a_result", name), name, "operand a");
	check_expected(&b, field(c, "b_result", name), name, "operand b");
	union_both_orders(&a, &b, exp, name, "union of built operands");
	parse_expected(&pa, field(c, "a_result", name), name);
	parse_expected(&pb, field(c, "b_result", name), name);
	union_both_orders(&pa, &pb, exp, name, "union of parsed operands");
	union_both_orders(&a, &pb, exp, name, "union of built a and parsed b");
	hll_t r;
	parse_expected(&r, exp, name);
	hll_fini(&r);
	hll_fini(&a);
	hll_fini(&b);
	hll_fini(&pa);
	hll_fini(&pb);
}

TEST(hll_vectors_union)
{
	ASSERT_EQ(cases_of_kind("union", run_union_case), 24);
}

static void run_fold_case(const cJSON *c, const char *name)
{
	hll_t acc, direct;
	hll_init(&acc);
	for_each_raw(field(c, "input", name), name, fold_one, &acc);
	check_expected(&acc, field(c, "expected", name), name, "folded");
	/* The fold must equal adding the same values to one set. */
	build(&direct, field(c, "input", name), name);
	check_expected(&direct, field(c, "expected", name), name, "added directly");
	hll_fini(&acc);
	hll_fini(&direct);
}

TEST(hll_vectors_union_fold)
{
	ASSERT_EQ(cases_of_kind("union_fold", run_fold_case), 2);
}

/* The EXPLICIT cases run_explicit_registers() checked (each test runs in a child of its own). */
static unsigned explicit_cases_checked;

static void run_explicit_registers(const cJSON *c, const char *name)
{
	const cJSON *exp = field(c, "expected", name);
	if (strcmp(field(exp, "type", name)->valuestring, "EXPLICIT") != 0)
		return;
	explicit_cases_checked++;
	hll_t h;
	build(&h, field(c, "input", name), name);
	unsigned nz = hll_nonzero_registers(&h);
	/* Values 0..2047 set no register, so adding enough of them promotes without changing any. */
	for (int64_t low = 0; h.type == HLL_EXPLICIT; low++)
		hll_add_raw(&h, low);
	ASSERT_STREQ(hll_type_name(&h), "SPARSE");
	ASSERT_EQ(hll_nonzero_registers(&h), nz);
	hll_fini(&h);
}

TEST(hll_explicit_nonzero_registers_match_promotion)
{
	ASSERT_EQ(cases_of_kind("add", run_explicit_registers), 25);
	/* Not vacuous: the vectors have 7 EXPLICIT add cases, and each was checked. */
	ASSERT_EQ(explicit_cases_checked, 7);
	hll_t h;
	hll_init(&h);
	ASSERT_EQ(hll_nonzero_registers(&h), 0);
	hll_add_raw(&h, 0);          /* w = 0: no register */
	hll_add_raw(&h, 2048);       /* register 0, p = 1 */
	hll_add_raw(&h, 4096);       /* register 0, p = 2 */
	hll_add_raw(&h, 2048 + 1);   /* register 1, p = 1 */
	ASSERT_EQ(hll_cardinality(&h), 4);
	ASSERT_EQ(hll_nonzero_registers(&h), 2);
	hll_fini(&h);
}

/* ---- MurmurHash3 -------------------------------------------------------- */

TEST(hll_murmur3_published_values)
{
	ASSERT_EQ(murmur3_x86_32("", 0, 0), 0);
	ASSERT_EQ(murmur3_x86_32("", 0, 1), 0x514E28B7u);
	ASSERT_EQ(murmur3_x86_32("", 0, 0xFFFFFFFFu), 0x81F16F39u);
	ASSERT_EQ(murmur3_x86_32("\0\0\0\0", 4, 0), 0x2362F9DEu);
	ASSERT_EQ(murmur3_x86_32("aaaa", 4, 0x9747B28Cu), 0x5A97808Au);
	ASSERT_EQ(murmur3_x86_32("aaa", 3, 0x9747B28Cu), 0x283E0130u);
	ASSERT_EQ(murmur3_x86_32("aa", 2, 0x9747B28Cu), 0x5D211726u);
	ASSERT_EQ(murmur3_x86_32("a", 1, 0x9747B28Cu), 0x7FA09EA6u);
	ASSERT_EQ(murmur3_x86_32("abc", 3, 0), 0xB3DD93FAu);
	ASSERT_EQ(murmur3_x86_32("Hello, world!", 13, 0x9747B28Cu), 0x24884CBAu);
	const char *fox = "The quick brown fox jumps over the lazy dog";
	ASSERT_EQ(murmur3_x86_32(fox, strlen(fox), 0x9747B28Cu), 0x2FA826CDu);
	ASSERT_EQ(murmur3_x86_32("foo", 3, 0), 0xF6A5C420u);
}

TEST(hll_client_raw_sign_extends)
{
	ASSERT_EQ(hll_client_raw("foo", 3), -156908512);
	ASSERT_EQ(hll_client_raw("0", 1), -764297089);
	/* The worked example of doc/hll-format.md §5.1: register 1056 = 4, the SPARSE word 0x8404. */
	hll_t h;
	hll_init(&h);
	for (int i = 0; i < 160; i++)
		hll_add_raw(&h, i);
	hll_add_raw(&h, hll_client_raw("foo", 3));
	uint8_t buf[HLL_MAX_BYTES];
	ASSERT_EQ(hll_serialize(&h, buf), 5);
	const uint8_t want[] = { 0x13, 0x8B, 0x7F, 0x84, 0x04 };
	ASSERT_MEMEQ(buf, want, 5);
	hll_fini(&h);
}

/* ---- parsing: refusals -------------------------------------------------- */

static void expect_refused(const uint8_t *buf, size_t len, int err)
{
	hll_t h;
	const char *why = NULL;
	hll_init(&h);
	hll_add_raw(&h, 12345);    /* The set must come back EMPTY after the failure. */
	ASSERT_ERR(hll_parse(&h, buf, len, &why), err);
	ASSERT(why && *why);
	ASSERT_STREQ(hll_type_name(&h), "EMPTY");
	ASSERT_EQ(hll_heap_bytes(&h), 0);
	ASSERT_ERR(hll_parse(&h, buf, len, NULL), err);
	hll_fini(&h);
}

static size_t explicit_payload(uint8_t *buf, const int64_t *v, size_t n)
{
	buf[0] = 0x12;
	buf[1] = 0x8B;
	buf[2] = 0x7F;
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++)
			buf[3 + 8 * i + (size_t)b] = (uint8_t)((uint64_t)v[i] >> (56 - 8 * b));
	return 3 + 8 * n;
}

TEST(hll_parse_refuses_short_header)
{
	const uint8_t b[] = { 0x11, 0x8B, 0x7F };
	expect_refused(b, 0, ES_EFORMAT);
	expect_refused(b, 1, ES_EFORMAT);
	expect_refused(b, 2, ES_EFORMAT);
}

TEST(hll_parse_refuses_wrong_version)
{
	expect_refused((const uint8_t[]){ 0x21, 0x8B, 0x7F }, 3, ES_EFORMAT);
	expect_refused((const uint8_t[]){ 0x01, 0x8B, 0x7F }, 3, ES_EFORMAT);
}

TEST(hll_parse_refuses_wrong_type)
{
	expect_refused((const uint8_t[]){ 0x10, 0x8B, 0x7F }, 3, ES_EFORMAT);
	expect_refused((const uint8_t[]){ 0x15, 0x8B, 0x7F }, 3, ES_EFORMAT);
	expect_refused((const uint8_t[]){ 0x1F, 0x8B, 0x7F }, 3, ES_EFORMAT);
}

TEST(hll_parse_refuses_other_parameters)
{
	expect_refused((const uint8_t[]){ 0x11, 0x8C, 0x7F }, 3, ES_EPARAM); /* log2m 12 */
	expect_refused((const uint8_t[]){ 0x11, 0x6B, 0x7F }, 3, ES_EPARAM); /* regwidth 4 */
	expect_refused((const uint8_t[]){ 0x11, 0x8B, 0x3F }, 3, ES_EPARAM); /* sparse off */
	expect_refused((const uint8_t[]){ 0x11, 0x8B, 0x7E }, 3, ES_EPARAM); /* threshold 2^61 */
	expect_refused((const uint8_t[]){ 0x11, 0x8B, 0x40 }, 3, ES_EPARAM); /* explicit off */
	expect_refused((const uint8_t[]){ 0x11, 0x8B, 0xFF }, 3, ES_EPARAM); /* reserved bit */
}

TEST(hll_parse_refuses_wrong_lengths)
{
	uint8_t b[HLL_FULL_BYTES + 1] = { 0x11, 0x8B, 0x7F };
	expect_refused(b, 4, ES_EFORMAT);                  /* EMPTY with data */
	b[0] = 0x12;
	expect_refused(b, 3 + 7, ES_EFORMAT);              /* EXPLICIT, 7 data bytes */
	expect_refused(b, 3 + 9, ES_EFORMAT);
	b[0] = 0x13;
	expect_refused(b, 3 + 1, ES_EFORMAT);              /* SPARSE, 8 leftover bits */
	expect_refused(b, 3 + 33, ES_EFORMAT);
	b[0] = 0x14;
	expect_refused(b, 3, ES_EFORMAT);                  /* FULL without data */
	expect_refused(b, HLL_FULL_BYTES - 1, ES_EFORMAT);
	expect_refused(b, HLL_FULL_BYTES + 1, ES_EFORMAT);
}

TEST(hll_parse_refuses_unsorted_explicit)
{
	uint8_t b[3 + 8 * 3];
	expect_refused(b, explicit_payload(b, (const int64_t[]){ 5, 3 }, 2), ES_EFORMAT);
	expect_refused(b, explicit_payload(b, (const int64_t[]){ 3, 3 }, 2), ES_EFORMAT);
	expect_refused(b, explicit_payload(b, (const int64_t[]){ -1, 7, 7 }, 3), ES_EFORMAT);
	/* Sorted as unsigned (1 before -1) is descending as signed. */
	expect_refused(b, explicit_payload(b, (const int64_t[]){ 1, -1 }, 2), ES_EFORMAT);
	hll_t h;
	hll_init(&h);
	ASSERT_OK(hll_parse(&h, b, explicit_payload(b, (const int64_t[]){ -1, 1 }, 2), NULL));
	ASSERT_EQ(hll_cardinality(&h), 2);
	hll_fini(&h);
}

static void expect_hex_refused(const char *hex, int err)
{
	hll_t h;
	const char *why = NULL;
	hll_init(&h);
	hll_add_raw(&h, 1);
	ASSERT_ERR(hll_parse_hex(&h, hex, strlen(hex), &why), err);
	ASSERT(why && *why);
	ASSERT_STREQ(hll_type_name(&h), "EMPTY");
	hll_fini(&h);
}

TEST(hll_parse_hex_refusals)
{
	expect_hex_refused("", ES_EFORMAT);
	expect_hex_refused("\\x", ES_EFORMAT);
	expect_hex_refused("\\x118B7", ES_EFORMAT);        /* odd digit count */
	expect_hex_refused("\\x118G7F", ES_EFORMAT);       /* not hex */
	expect_hex_refused("\\x11 8B7F", ES_EFORMAT);
	expect_hex_refused("x118B7F", ES_EFORMAT);         /* prefix without backslash */
	expect_hex_refused("\\x\\x118B7F", ES_EFORMAT);
	expect_hex_refused("\\x118C7F", ES_EPARAM);
	expect_hex_refused("\\x148B7F00", ES_EFORMAT);
}

TEST(hll_parse_hex_accepts_prefix_and_case)
{
	const char *forms[] = { "\\x128B7FFFFFFFFFF6A5C420", "128B7FFFFFFFFFF6A5C420",
	                        "\\x128b7ffffffffff6a5c420", "128b7fFFFFFFFFf6a5c420",
	                        "\\X128B7FFFFFFFFFF6A5C420" };
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		hll_t h;
		char hex[HLL_HEX_MAX];
		hll_init(&h);
		ASSERT_OK(hll_parse_hex(&h, forms[i], strlen(forms[i]), NULL));
		hll_to_hex(&h, hex);
		ASSERT_STREQ(hex, "\\x128B7FFFFFFFFFF6A5C420");
		hll_fini(&h);
	}
	/* The length argument bounds the text: trailing junk outside it is not read. */
	hll_t h;
	hll_init(&h);
	ASSERT_OK(hll_parse_hex(&h, "\\x118B7Fzz", 8, NULL));
	ASSERT_STREQ(hll_type_name(&h), "EMPTY");
	hll_fini(&h);
}

/* Digits only; and text longer than any set a reader accepts is judged as the bytes would be. */
TEST(hll_parse_hex_digits_and_long_text)
{
	const char *why = NULL;
	hll_t h, b;
	hll_init(&h);
	hll_init(&b);
	ASSERT_OK(hll_parse_hex_digits(&h, "128b7FFFFFFFFFF6A5C420", 22, NULL));
	ASSERT_EQ(hll_cardinality(&h), 1);
	ASSERT_ERR(hll_parse_hex_digits(&h, "\\x128B7FFFFFFFFFF6A5C420", 24, &why), ES_EFORMAT);
	ASSERT_STREQ(why, "not a hex digit");
	ASSERT_ERR(hll_parse_hex_digits(&h, "128B7", 5, &why), ES_EFORMAT);
	ASSERT_STREQ(why, "odd number of hex digits");
	/* A SPARSE body of 2049 words (past the 4099-byte decoding buffer) and of 2048. */
	for (size_t words = 2048; words <= 2049; words++) {
		size_t n = 3 + 2 * words;
		uint8_t *bin = es_malloc(n);
		char *hex = es_malloc(2 * n + 1);
		const char *why_bin = NULL, *why_hex = NULL;
		bin[0] = 0x13;
		bin[1] = 0x8B;
		bin[2] = 0x7F;
		for (size_t i = 0; i < words; i++) {
			bin[3 + 2 * i] = (uint8_t)((i % 2048) >> 3);
			bin[4 + 2 * i] = (uint8_t)(((i % 2048) & 7) << 5 | 1);
		}
		hex_encode(hex, bin, n);
		int rb = hll_parse(&b, bin, n, &why_bin), rh = hll_parse_hex_digits(&h, hex, 2 * n, &why_hex);
		ASSERT_EQ(rh, rb);
		if (rb == 0)
			ASSERT_EQ(hll_cardinality(&h), hll_cardinality(&b));
		else
			ASSERT_STREQ(why_hex, why_bin);
		free(bin);
		free(hex);
	}
	hll_fini(&h);
	hll_fini(&b);
}

/* ---- parsing: what is accepted and normalised ----------------------------- */

static size_t sparse_payload(uint8_t *buf, const uint16_t *w, size_t n)
{
	buf[0] = 0x13;
	buf[1] = 0x8B;
	buf[2] = 0x7F;
	for (size_t i = 0; i < n; i++) {
		buf[3 + 2 * i] = (uint8_t)(w[i] >> 8);
		buf[4 + 2 * i] = (uint8_t)w[i];
	}
	return 3 + 2 * n;
}

#define W(j, p) ((uint16_t)((j) << 5 | (p)))

TEST(hll_parse_sparse_any_order_max_and_zero)
{
	uint8_t buf[64], out[HLL_MAX_BYTES];
	hll_t h;
	hll_init(&h);
	/* Out of order, index 5 three times (max 7 wins), index 9 with value 0 (ignored). */
	const uint16_t words[] = { W(2047, 1), W(5, 3), W(9, 0), W(5, 7), W(0, 21), W(5, 2) };
	ASSERT_OK(hll_parse(&h, buf, sparse_payload(buf, words, 6), NULL));
	ASSERT_STREQ(hll_type_name(&h), "SPARSE");
	ASSERT_EQ(hll_nonzero_registers(&h), 3);
	const uint16_t sorted[] = { W(0, 21), W(5, 7), W(2047, 1) };
	uint8_t want[64];
	size_t wlen = sparse_payload(want, sorted, 3);
	ASSERT_EQ(hll_serialize(&h, out), wlen);
	ASSERT_MEMEQ(out, want, wlen);

	/* Only zero values: a legal SPARSE set with no register. */
	const uint16_t zeros[] = { W(1, 0), W(3, 0) };
	ASSERT_OK(hll_parse(&h, buf, sparse_payload(buf, zeros, 2), NULL));
	ASSERT_STREQ(hll_type_name(&h), "SPARSE");
	ASSERT_EQ(hll_serialize(&h, out), 3);
	ASSERT_EQ(hll_cardinality(&h), 0);
	hll_fini(&h);
}

/* A SPARSE payload with n registers 0..n-1 all set to 1, as PostgreSQL writes up to 639. */
static size_t sparse_ones(uint8_t *buf, size_t n)
{
	buf[0] = 0x13;
	buf[1] = 0x8B;
	buf[2] = 0x7F;
	for (size_t j = 0; j < n; j++) {
		uint16_t w = W(j, 1);
		buf[3 + 2 * j] = (uint8_t)(w >> 8);
		buf[4 + 2 * j] = (uint8_t)w;
	}
	return 3 + 2 * n;
}

TEST(hll_parse_large_sparse_kept_until_changed)
{
	uint8_t buf[3 + 2 * HLL_M], out[HLL_MAX_BYTES];
	size_t len = sparse_ones(buf, 600);
	hll_t h, e, copy;
	hll_init(&h);
	hll_init(&e);
	hll_init(&copy);
	ASSERT_OK(hll_parse(&h, buf, len, NULL));
	ASSERT_STREQ(hll_type_name(&h), "SPARSE");
	ASSERT_EQ(hll_serialize(&h, out), len);
	ASSERT_MEMEQ(out, buf, len);

	/* Union with EMPTY changes nothing, in either order. */
	hll_union(&h, &e);
	ASSERT_STREQ(hll_type_name(&h), "SPARSE");
	hll_union(&e, &h);
	ASSERT_STREQ(hll_type_name(&e), "SPARSE");
	ASSERT_EQ(hll_serialize(&e, out), len);

	/* Union with any non-empty set re-checks the threshold, in either order. */
	hll_t one;
	hll_init(&one);
	hll_add_raw(&one, 2048 * 3 + 5);     /* register 5 = 2, already non-zero */
	hll_copy(&copy, &h);
	hll_union(&copy, &one);
	ASSERT_STREQ(hll_type_name(&copy), "FULL");
	ASSERT_EQ(hll_nonzero_registers(&copy), 600);
	hll_union(&one, &h);
	ASSERT_STREQ(hll_type_name(&one), "FULL");
	ASSERT_EQ(hll_nonzero_registers(&one), 600);
	/* The same registers give the same double, bit for bit (as python-hll computes it). */
	ASSERT_DEQ(hll_estimate(&one), hll_estimate(&copy));

	/* Adding a value that sets no register still promotes. */
	double before = hll_estimate(&h);
	hll_add_raw(&h, 7);
	ASSERT_STREQ(hll_type_name(&h), "FULL");
	ASSERT_EQ(hll_nonzero_registers(&h), 600);
	ASSERT_DEQ(hll_estimate(&h), before);
	hll_fini(&h);
	hll_fini(&e);
	hll_fini(&copy);
	hll_fini(&one);
}

TEST(hll_parse_sparse_beyond_full_size_becomes_full)
{
	uint8_t buf[3 + 2 * HLL_M], out[HLL_MAX_BYTES];
	hll_t h;
	hll_init(&h);
	ASSERT_OK(hll_parse(&h, buf, sparse_ones(buf, 640), NULL));
	ASSERT_STREQ(hll_type_name(&h), "SPARSE");
	ASSERT_EQ(hll_size(&h), HLL_MAX_BYTES);
	ASSERT_OK(hll_parse(&h, buf, sparse_ones(buf, 641), NULL));
	ASSERT_STREQ(hll_type_name(&h), "FULL");
	ASSERT_EQ(hll_nonzero_registers(&h), 641);
	ASSERT_OK(hll_parse(&h, buf, sparse_ones(buf, HLL_M), NULL));
	ASSERT_STREQ(hll_type_name(&h), "FULL");
	/* All 2048 registers 1: the §7 example without small-range correction. */
	ASSERT_EQ(hll_cardinality(&h), 2953);
	ASSERT_EQ(hll_serialize(&h, out), HLL_FULL_BYTES);
	const uint8_t ones[] = { 0x08, 0x42, 0x10, 0x84, 0x21 };
	for (size_t i = 3; i < HLL_FULL_BYTES; i += 5)
		ASSERT_MEMEQ(out + i, ones, 5);
	hll_fini(&h);
}

TEST(hll_parse_explicit_over_160_is_promoted)
{
	/* 200 mmh3 values, sorted signed, as one EXPLICIT payload. */
	int64_t v[200];
	for (int i = 0; i < 200; i++) {
		char t[16];
		v[i] = hll_client_raw(t, (size_t)snprintf(t, sizeof t, "%d", i));
	}
	for (int i = 1; i < 200; i++)
		for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
			int64_t x = v[k];
			v[k] = v[k - 1];
			v[k - 1] = x;
		}
	uint8_t *buf = es_malloc(3 + 8 * 200);
	hll_t parsed, added;
	hll_init(&parsed);
	hll_init(&added);
	ASSERT_OK(hll_parse(&parsed, buf, explicit_payload(buf, v, 200), NULL));
	for (int i = 0; i < 200; i++)
		hll_add_raw(&added, v[i]);
	ASSERT_STREQ(hll_type_name(&parsed), "SPARSE");
	uint8_t a[HLL_MAX_BYTES], b[HLL_MAX_BYTES];
	size_t la = hll_serialize(&parsed, a);
	ASSERT_EQ(hll_serialize(&added, b), la);
	ASSERT_MEMEQ(a, b, la);
	free(buf);
	hll_fini(&parsed);
	hll_fini(&added);
}

TEST(hll_parse_explicit_without_values)
{
	const uint8_t b[] = { 0x12, 0x8B, 0x7F };
	uint8_t out[HLL_MAX_BYTES];
	hll_t h;
	hll_init(&h);
	ASSERT_OK(hll_parse(&h, b, 3, NULL));
	ASSERT_STREQ(hll_type_name(&h), "EXPLICIT");
	ASSERT_EQ(hll_cardinality(&h), 0);
	ASSERT_EQ(hll_serialize(&h, out), 3);
	ASSERT_MEMEQ(out, b, 3);
	hll_add_raw(&h, -5);
	ASSERT_EQ(hll_cardinality(&h), 1);
	hll_fini(&h);
}

/* ---- behaviour ------------------------------------------------------------ */

TEST(hll_union_with_itself)
{
	hll_t h;
	hll_init(&h);
	for (int i = 0; i < 300; i++)
		hll_add_raw(&h, hll_client_raw((const char *)&i, sizeof i));
	uint8_t before[HLL_MAX_BYTES], after[HLL_MAX_BYTES];
	size_t n = hll_serialize(&h, before);
	hll_union(&h, &h);
	ASSERT_EQ(hll_serialize(&h, after), n);
	ASSERT_MEMEQ(before, after, n);
	hll_fini(&h);
}

TEST(hll_estimate_beyond_large_range)
{
	/* Every register 31 needs 64-bit raws; python-hll answers 0, PostgreSQL NaN. */
	hll_t h;
	hll_init(&h);
	for (int64_t j = 0; j < HLL_M; j++)
		hll_add_raw(&h, ((int64_t)1 << 41) | j);
	ASSERT_STREQ(hll_type_name(&h), "FULL");
	ASSERT(isnan(hll_estimate(&h)));
	ASSERT_EQ(hll_cardinality(&h), 0);
	hll_fini(&h);
}

TEST(hll_memory_fits_the_state)
{
	hll_t h;
	hll_init(&h);
	ASSERT_EQ(hll_heap_bytes(&h), 0);
	hll_add_raw(&h, 42);
	ASSERT(hll_heap_bytes(&h) <= 16);
	for (int i = 0; i < 4; i++)
		hll_add_raw(&h, 1000 + i);
	ASSERT(hll_heap_bytes(&h) <= 64);
	for (int i = 0; i < 155; i++)
		hll_add_raw(&h, 5000 + i);
	ASSERT_EQ(hll_cardinality(&h), 160);
	ASSERT(hll_heap_bytes(&h) <= 160 * 8);
	hll_t copy;
	hll_init(&copy);
	hll_add_raw(&copy, 1);
	hll_copy(&copy, &h);
	ASSERT_EQ(hll_heap_bytes(&copy), 160 * 8);
	hll_fini(&copy);
	hll_fini(&h);
	ASSERT_EQ(hll_heap_bytes(&h), 0);
	ASSERT_STREQ(hll_type_name(&h), "EMPTY");
}

/* Adds clients PREFIX0 .. PREFIX(n-1) to both a and b. */
static void add_clients(hll_t *a, hll_t *b, const char *prefix, int n)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		int64_t raw;
		snprintf(name, sizeof name, "%s%d", prefix, i);
		raw = hll_client_raw(name, strlen(name));
		hll_add_raw(a, raw);
		hll_add_raw(b, raw);
	}
}

/* FULL ∪ SPARSE (register by register) equals adding both sides' values to one set. */
TEST(hll_union_full_with_sparse)
{
	hll_t full, sparse, direct;
	uint8_t a[HLL_MAX_BYTES], b[HLL_MAX_BYTES];

	hll_init(&full);
	hll_init(&sparse);
	hll_init(&direct);
	add_clients(&full, &direct, "f", 3000);
	add_clients(&sparse, &direct, "s", 400);
	ASSERT_STREQ(hll_type_name(&full), "FULL");
	ASSERT_STREQ(hll_type_name(&sparse), "SPARSE");
	hll_union(&full, &sparse);
	ASSERT_STREQ(hll_type_name(&full), "FULL");
	ASSERT_EQ(hll_serialize(&full, a), hll_serialize(&direct, b));
	ASSERT(memcmp(a, b, HLL_FULL_BYTES) == 0);
	ASSERT_EQ(hll_nonzero_registers(&full), hll_nonzero_registers(&direct));
	ASSERT_EQ(hll_cardinality(&full), hll_cardinality(&direct));
	hll_fini(&full);
	hll_fini(&sparse);
	hll_fini(&direct);
}

/* Unites b's stored bytes into a copy of a both ways; the results must be byte-identical. */
static void check_union_stored(const hll_t *a, const hll_t *b)
{
	hll_t x, y;
	uint8_t sb[HLL_MAX_BYTES], ox[HLL_MAX_BYTES], oy[HLL_MAX_BYTES];
	size_t n = hll_serialize(b, sb);

	hll_init(&x);
	hll_init(&y);
	hll_copy(&x, a);
	hll_copy(&y, a);
	ASSERT_OK(hll_union_stored(&x, sb, n, NULL));
	hll_union(&y, b);
	ASSERT_STREQ(hll_type_name(&x), hll_type_name(&y));
	ASSERT_EQ(hll_serialize(&x, ox), hll_serialize(&y, oy));
	ASSERT(memcmp(ox, oy, hll_size(&y)) == 0);
	ASSERT_EQ(hll_nonzero_registers(&x), hll_nonzero_registers(&y));
	ASSERT_EQ(hll_cardinality(&x), hll_cardinality(&y));
	hll_fini(&x);
	hll_fini(&y);
}

/* hll_union_stored() equals hll_parse() and hll_union() for every pair of kinds (FULL targets take the bytes directly). */
TEST(hll_union_stored_equals_parse_and_union)
{
	static const int sizes[] = { 0, 5, 400, 3000 };   /* EMPTY, EXPLICIT, SPARSE, FULL */
	hll_t set[4][2], scratch;

	hll_init(&scratch);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 2; k++) {
			char prefix[8];

			hll_init(&set[i][k]);
			snprintf(prefix, sizeof prefix, "%c%d", 'a' + k, i);
			add_clients(&set[i][k], &scratch, prefix, sizes[i]);
		}
	ASSERT_STREQ(hll_type_name(&set[3][0]), "FULL");
	ASSERT_STREQ(hll_type_name(&set[2][1]), "SPARSE");
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			check_union_stored(&set[i][0], &set[j][1]);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 2; k++)
			hll_fini(&set[i][k]);
	hll_fini(&scratch);
}

/* A bad stored set is refused as hll_parse() refuses it, and the target is left as it was. */
TEST(hll_union_stored_refuses_bad_bytes)
{
	hll_t full, scratch;
	uint8_t before[HLL_MAX_BYTES], after[HLL_MAX_BYTES], bad[HLL_FULL_BYTES];
	size_t n;

	hll_init(&full);
	hll_init(&scratch);
	add_clients(&full, &scratch, "r", 3000);
	n = hll_serialize(&full, before);
	memcpy(bad, before, n);
	ASSERT(hll_union_stored(&full, bad, n - 1, NULL) < 0);     /* FULL of 1279 data bytes */
	bad[0] = 0x20 | HLL_FULL;                                   /* schema version 2 */
	ASSERT(hll_union_stored(&full, bad, n, NULL) < 0);
	bad[0] = 0x10 | HLL_SPARSE;                                 /* SPARSE of an odd length */
	ASSERT(hll_union_stored(&full, bad, 6, NULL) < 0);
	ASSERT(hll_union_stored(&full, bad, 2, NULL) < 0);
	ASSERT_EQ(hll_serialize(&full, after), n);
	ASSERT(memcmp(before, after, n) == 0);
	hll_fini(&full);
	hll_fini(&scratch);
}

/* xorshift64*: a fixed seed makes every run draw the same "random" data. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* A raw value: register j (< 2048) with value p (1..31), or 0 for p = 0 (a
 * value that sets no register), its other bits random, sign included. */
static int64_t raw_at(uint64_t *s, unsigned j, unsigned p)
{
	uint64_t w = p == 0 ? 0 : (rnd(s) | 1) << (p - 1);
	if (p >= 31)
		w = (uint64_t)1 << 30;
	return (int64_t)(w << HLL_LOG2M | j);
}

/*
 * What the parse workers rely on (agg.c): a sequence of values cut into
 * consecutive pieces, each piece added one by one to a set of its own and
 * the sets united in order (or moved into an EMPTY one), gives the bytes of
 * adding the whole sequence one by one, at every promotion threshold: 160 /
 * 161 distinct values (EXPLICIT → SPARSE), 512 / 513 non-zero registers
 * (SPARSE → FULL), with repeats, values that set no register, and pieces
 * that are themselves of any form.
 */
TEST(hll_union_of_pieces_equals_adding_one_by_one)
{
	static const unsigned distinct[] = { 0, 1, 2, 80, 159, 160, 161, 162, 200, 320, 511,
	                                     512, 513, 514, 700, 1500, 4000 };
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	int64_t *seq = es_malloc(3 * 4000 * sizeof *seq);
	for (size_t t = 0; t < sizeof distinct / sizeof distinct[0]; t++) {
		for (int round = 0; round < 12; round++) {
			unsigned nd = distinct[t];
			/* Even rounds: nd distinct registers (p >= 1) around the 512/513 threshold;
			 * odd rounds: nd distinct values, some sharing registers, some of value 0. */
			int64_t *vals = es_malloc((nd ? nd : 1) * sizeof *vals);
			for (unsigned i = 0; i < nd; i++) {
				unsigned j = round % 2 == 0 ? (i * 7u) % HLL_M : (unsigned)(rnd(&seed) % HLL_M);
				unsigned p = round % 2 == 0 ? 1 + (unsigned)(rnd(&seed) % 31)
				                            : (unsigned)(rnd(&seed) % 8);
				vals[i] = raw_at(&seed, j, p);
				for (unsigned k = 0; k < i; k++)
					if (vals[k] == vals[i]) {
						i--;   /* Draw again: nd must be distinct values. */
						break;
					}
			}
			/* The sequence: every value once, then repeats, shuffled. */
			size_t n = nd;
			for (unsigned i = 0; i < nd; i++)
				seq[i] = vals[i];
			if (nd) {
				size_t extra = (size_t)(rnd(&seed) % (2 * nd + 1));
				for (size_t i = 0; i < extra; i++)
					seq[n++] = vals[rnd(&seed) % nd];
			}
			for (size_t i = n; i > 1; i--) {
				size_t k = (size_t)(rnd(&seed) % i);
				int64_t x = seq[i - 1];
				seq[i - 1] = seq[k];
				seq[k] = x;
			}
			hll_t direct, acc;
			hll_init(&direct);
			hll_init(&acc);
			for (size_t i = 0; i < n; i++)
				hll_add_raw(&direct, seq[i]);
			/* Cut into 1..9 consecutive pieces at random places. */
			unsigned npieces = 1 + (unsigned)(rnd(&seed) % 9);
			size_t at = 0;
			for (unsigned pc = 0; pc < npieces; pc++) {
				size_t end = pc + 1 == npieces ? n : at + (size_t)(rnd(&seed) % (n - at + 1));
				hll_t piece;
				hll_init(&piece);
				for (size_t i = at; i < end; i++)
					hll_add_raw(&piece, seq[i]);
				if (acc.type == HLL_EMPTY && round % 3 == 0) {
					/* What stats_merge_take() does for a new row: take the set. */
					hll_fini(&acc);
					acc = piece;
				} else {
					hll_union(&acc, &piece);
					hll_fini(&piece);
				}
				at = end;
			}
			uint8_t a[HLL_MAX_BYTES], b[HLL_MAX_BYTES];
			size_t la = hll_serialize(&acc, a), lb = hll_serialize(&direct, b);
			if (la != lb || memcmp(a, b, la) != 0 || acc.type != direct.type)
				unit_fail(__FILE__, __LINE__, "%u distinct, round %d, %u pieces: %s (%zu bytes) "
				          "!= %s (%zu bytes)", nd, round, npieces, hll_type_name(&acc), la,
				          hll_type_name(&direct), lb);
			ASSERT_EQ(acc.n, direct.n);
			hll_fini(&acc);
			hll_fini(&direct);
			free(vals);
		}
	}
	free(seq);
}
