/* Fuzz target: a submitted payload's JSON text (submit.h submit_parse()). */
#include "config.h"

#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "submit.h"

static void check_row(const struct submit_row *r)
{
	FUZZ_CHECK(strlen(r->date) == 10);
	FUZZ_CHECK(strlen(r->country) == 0 || strlen(r->country) == 2);
	FUZZ_CHECK(r->bytes >= 0 && r->nb_reqs >= 0 && r->nb_successful >= 0 && r->nb_failed >= 0);
	FUZZ_CHECK(hll_size(&r->clients) <= HLL_MAX_BYTES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct submit_payload p;
	struct submit_limits lim = { .max_stats = 4096, .max_days = 4096 };
	char err[256];
	int rc;

	submit_init(&p);
	rc = submit_parse(&p, (const char *)data, size, &lim, err, sizeof err);
	FUZZ_CHECK(rc == 0 || rc == ES_EFORMAT || rc == ES_ELIMIT);
	if (rc == 0) {
		const char *first, *last;
		FUZZ_CHECK(p.nrows <= p.nstats && p.nstats <= lim.max_stats);
		FUZZ_CHECK(p.ndays <= lim.max_days);
		for (size_t i = 0; i < p.nrows; i++)
			check_row(&p.rows[i]);
		for (size_t i = 1; i < p.ndays; i++)
			FUZZ_CHECK(strcmp(p.days[i - 1], p.days[i]) < 0);
		if (submit_span(&p, &first, &last))
			FUZZ_CHECK(strcmp(first, last) <= 0);
	} else {
		FUZZ_CHECK(p.nrows == 0 && p.ndays == 0);
		FUZZ_CHECK(strlen(err) < sizeof err);
	}
	submit_fini(&p);
	return 0;
}
