/* Fuzz target, differential: req_parse()'s fast path against the cJSON
 * reference (req_parser_reference()) on one line, with and without a BOM
 * allowed: the same verdict, message and event, field by field. */
#include "config.h"

#include <stdio.h>

#include "fuzz.h"
#include "req_diff.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	req_parser_t *fast = req_parser_new();
	req_parser_t *ref = req_parser_new();
	req_parser_reference(ref, 1);

	for (int bom = 0; bom < 2; bom++) {
		const req_event_t *a = NULL, *b = NULL;
		enum req_verdict va = req_parse(fast, (const char *)data, size, 7, bom, &a);
		enum req_verdict vb = req_parse(ref, (const char *)data, size, 7, bom, &b);
		const char *d = req_diff(va, a, vb, b);
		if (d)
			fprintf(stderr, "fast path and cJSON differ in %s (verdicts %d, %d)\n", d, (int)va,
			        (int)vb);
		FUZZ_CHECK(d == NULL);
	}
	req_parser_free(fast);
	req_parser_free(ref);
	return 0;
}
