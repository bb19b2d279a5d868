/*
 * Fuzz target: HLL storage bytes (hll.h hll_parse()).  A set that parses is
 * serialized, parsed again and serialized again: the second bytes must equal
 * the first (the written form is a fixed point), and its hex form must parse
 * to the same bytes.  Union with itself must not change the estimate.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "hll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hll_t h, g, u;
	const char *why = NULL;
	uint8_t a[HLL_MAX_BYTES], b[HLL_MAX_BYTES];
	char hex[HLL_HEX_MAX];
	size_t na, nb, nh;
	int rc;

	hll_init(&h);
	hll_init(&g);
	hll_init(&u);
	rc = hll_parse(&h, data, size, &why);
	if (rc != 0) {
		FUZZ_CHECK(rc == ES_EFORMAT || rc == ES_EPARAM);
		FUZZ_CHECK(why != NULL);
		FUZZ_CHECK(h.type == HLL_EMPTY);
		goto out;
	}
	na = hll_size(&h);
	FUZZ_CHECK(na >= 3 && na <= HLL_MAX_BYTES);
	FUZZ_CHECK(hll_serialize(&h, a) == na);
	FUZZ_CHECK(hll_parse(&g, a, na, &why) == 0);
	nb = hll_serialize(&g, b);
	FUZZ_CHECK(nb == na && memcmp(a, b, na) == 0);
	nh = hll_to_hex(&h, hex);
	FUZZ_CHECK(nh == 2 + 2 * na && strlen(hex) == nh);
	hll_fini(&g);
	hll_init(&g);
	FUZZ_CHECK(hll_parse_hex(&g, hex, nh, &why) == 0);
	FUZZ_CHECK(hll_serialize(&g, b) == na && memcmp(a, b, na) == 0);

	(void)hll_cardinality(&h);
	(void)hll_nonzero_registers(&h);
	(void)hll_type_name(&h);
	hll_copy(&u, &h);
	hll_union(&u, &g);
	{
		double e1 = hll_estimate(&h), e2 = hll_estimate(&u);
		FUZZ_CHECK((isnan(e1) && isnan(e2)) || e1 == e2 || h.type == HLL_SPARSE);
	}
	FUZZ_CHECK(hll_size(&u) <= HLL_MAX_BYTES);
out:
	hll_fini(&h);
	hll_fini(&g);
	hll_fini(&u);
	return 0;
}
