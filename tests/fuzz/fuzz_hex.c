/*
 * Fuzz target: hex text (hex.h hex_decode(), hll.h hll_parse_hex()).  What
 * hex_decode() reads, hex_encode() writes back identically; an HLL that
 * parses from hex re-serializes within HLL_MAX_BYTES.
 */
#include "config.h"

#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "hex.h"
#include "hll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	hll_t h;
	const char *why = NULL;

	if (size / 2 <= 4096) {
		uint8_t bin[4096];
		char back[2 * 4096 + 1];
		size_t n = size / 2;
		if (hex_decode(bin, text, n) == 0) {
			hex_encode(back, bin, n);
			FUZZ_CHECK(memcmp(back, text, 2 * n) == 0 && back[2 * n] == '\0');
		}
	}
	for (size_t i = 0; i < size && i < 64; i++) {
		int v = hex_digit(data[i]), w = hex_digit_any(data[i]);
		FUZZ_CHECK(v >= -1 && v < 16 && w >= -1 && w < 16);
		FUZZ_CHECK(v < 0 || v == w);
		if (v >= 0)
			FUZZ_CHECK(hex_digits[v] == (char)data[i]);
	}

	hll_init(&h);
	if (hll_parse_hex(&h, text, size, &why) == 0) {
		char hex[HLL_HEX_MAX];
		size_t n = hll_to_hex(&h, hex);
		FUZZ_CHECK(n >= 2 + 6 && n < HLL_HEX_MAX && strlen(hex) == n);
	} else {
		FUZZ_CHECK(why != NULL && h.type == HLL_EMPTY);
	}
	hll_fini(&h);
	return 0;
}
