/* Fuzz target: a gzip-encoded submit body (submit.h submit_gunzip()), then its JSON. */
#include "config.h"

#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "submit.h"

/* Small enough that a bomb is refused quickly. */
#define FUZZ_MAX_OUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t outlen = 0;
	int rc = submit_gunzip(data, size, FUZZ_MAX_OUT, &out, &outlen);

	FUZZ_CHECK(rc == 0 || rc == ES_ELIMIT || rc == ES_ECORRUPT || rc == ES_ETRUNC);
	if (rc == 0) {
		struct submit_payload p;
		struct submit_limits lim = { .max_stats = 4096, .max_days = 4096 };
		char err[256];

		FUZZ_CHECK(out != NULL && outlen <= FUZZ_MAX_OUT && out[outlen] == '\0');
		submit_init(&p);
		rc = submit_parse(&p, out, outlen, &lim, err, sizeof err);
		FUZZ_CHECK(rc == 0 || rc == ES_EFORMAT || rc == ES_ELIMIT);
		submit_fini(&p);
	}
	free(out);
	return 0;
}
