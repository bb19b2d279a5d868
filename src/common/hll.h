/*
 * hll.h - HyperLogLog(log2m=11, regwidth=5, expthresh=auto, sparse on), byte
 * compatible with python-hll (what the upstream aggregator writes) and
 * readable by PostgreSQL's hll extension.  doc/hll-format.md states the
 * format and the rules; the constants below are that document's.
 *
 * Ownership: an hll_t is a small value (16 bytes) embedded by its user.  It
 * owns a heap block sized to its state (8 bytes per EXPLICIT value, 2 bytes
 * per SPARSE register, 2048 bytes when FULL), freed by hll_fini().  A freshly
 * hll_init()ed set is EMPTY and owns nothing.  hll_t is not thread-safe;
 * distinct sets may be used from distinct threads.
 *
 * Errors: 0 or a negative code of error.h; parsing reports ES_EFORMAT or
 * ES_EPARAM and, when `why` is not NULL, a static sentence saying what is wrong.
 */
#ifndef ES_HLL_H
#define ES_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_LOG2M 11
#define HLL_REGWIDTH 5
#define HLL_M 2048
#define HLL_EXPLICIT_MAX 160   /* The 161st distinct value promotes to SPARSE. */
#define HLL_SPARSE_MAX 512     /* The 513th non-zero register promotes to FULL. */
#define HLL_FULL_BYTES 1283    /* Header (3) + 2048 * 5 bits. */
#define HLL_MAX_BYTES HLL_FULL_BYTES
/* Room for "\x" + 2 hex digits per byte + NUL of the largest set. */
#define HLL_HEX_MAX (2 + 2 * HLL_MAX_BYTES + 1)

enum hll_type {
	HLL_EMPTY = 1,
	HLL_EXPLICIT = 2,
	HLL_SPARSE = 3,
	HLL_FULL = 4
};

typedef struct hll {
	uint8_t type;   /* enum hll_type */
	uint16_t n;     /* EXPLICIT: values; SPARSE: registers held; FULL: non-zero registers. */
	uint16_t cap;   /* Capacity of data in elements. */
	void *data;     /* int64_t[] sorted signed; uint16_t[] (j<<5|p) sorted by j; or uint8_t[2048]. */
} hll_t;

/* MurmurHash3 x86_32 with the given seed (the aggregator uses seed 0). */
uint32_t murmur3_x86_32(const void *key, size_t len, uint32_t seed);
/* The raw value the aggregator adds for a client: (int64_t)(int32_t)murmur3(text, 0). */
int64_t hll_client_raw(const char *text, size_t len);

void hll_init(hll_t *h);
void hll_fini(hll_t *h);
/* Makes dst an independent copy of src (dst must be initialised; its old content is freed). */
void hll_copy(hll_t *dst, const hll_t *src);

/* Adds one raw value with python-hll's promotion rules (doc/hll-format.md §5). */
void hll_add_raw(hll_t *h, int64_t raw);
/* dst := dst ∪ src, independent of order (doc/hll-format.md §6). */
void hll_union(hll_t *dst, const hll_t *src);

/* Serialized length in bytes (3..1283). */
size_t hll_size(const hll_t *h);
/* Writes hll_size(h) bytes to out; returns that length. */
size_t hll_serialize(const hll_t *h, uint8_t *out);
/* Writes "\x" + upper-case hex + NUL to out (at least HLL_HEX_MAX bytes); returns strlen. */
size_t hll_to_hex(const hll_t *h, char *out);

/*
 * Parses storage-spec v1 bytes for (11,5,auto,sparse): any valid EMPTY,
 * EXPLICIT (strictly ascending signed values; more than 160 are promoted),
 * SPARSE (any order, any count, repeated index keeps the max, zero values
 * ignored; more than 512 registers are kept SPARSE as python-hll does until
 * the next change) or FULL (exactly 1280 data bytes).  h must be initialised;
 * on error it is left EMPTY.  Two normalisations keep every set within
 * HLL_MAX_BYTES: SPARSE data with more than 640 non-zero registers (which
 * neither python-hll nor PostgreSQL writes) becomes FULL, and an EXPLICIT
 * payload with no values (3 bytes) stays an EXPLICIT set of none.
 */
int hll_parse(hll_t *h, const uint8_t *buf, size_t len, const char **why);
/* Same, from hex text with or without a "\x" prefix, either case. */
int hll_parse_hex(hll_t *h, const char *hex, size_t len, const char **why);
/* Same, from exactly the hex digits hex[0..len) (no prefix: "\x" is refused as not hex). */
int hll_parse_hex_digits(hll_t *h, const char *hex, size_t len, const char **why);
/*
 * Unites the set stored in buf[0..len) into dst: the same as hll_parse() of
 * buf and hll_union(), and the same errors (dst unchanged on error), but a
 * FULL dst takes the registers straight from the bytes (no set in between).
 */
int hll_union_stored(hll_t *dst, const uint8_t *buf, size_t len, const char **why);

/*
 * Unrounded estimate as PostgreSQL's hll_cardinality() returns it, bit for
 * bit (doc/hll-format.md §7).  Beyond the large-range correction's domain, which
 * only 64-bit raw values reach, it is NaN or +inf as in PostgreSQL.
 */
double hll_estimate(const hll_t *h);
/* python-hll's cardinality(): ceil(estimate), exact count for EXPLICIT; 0 where the estimate is NaN/inf. */
uint64_t hll_cardinality(const hll_t *h);
/* Number of non-zero registers (EXPLICIT: registers its values would set). */
unsigned hll_nonzero_registers(const hll_t *h);
/* "EMPTY", "EXPLICIT", "SPARSE" or "FULL". */
const char *hll_type_name(const hll_t *h);
/* Bytes of heap that h owns now (its capacity, not its serialized size). */
size_t hll_heap_bytes(const hll_t *h);

#endif
