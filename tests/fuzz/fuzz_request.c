/* Fuzz target: one request log line (request.h req_parse()), with and without a BOM allowed. */
#include "config.h"

#include <string.h>

#include "cal.h"
#include "fuzz.h"
#include "request.h"

static void check_str(const req_str_t *s)
{
	FUZZ_CHECK(s->s != NULL);
	FUZZ_CHECK(strlen(s->s) == s->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	req_parser_t *p = req_parser_new();

	for (int bom = 0; bom < 2; bom++) {
		const req_event_t *ev = NULL;
		enum req_verdict v = req_parse(p, (const char *)data, size, 1, bom, &ev);

		FUZZ_CHECK(ev != NULL && ev->msg != NULL);
		FUZZ_CHECK(strlen(ev->msg) < REQ_MSG_MAX);
		if (v != REQ_OK)
			continue;
		FUZZ_CHECK(cal_valid_ymd(ev->year, ev->month, ev->day));
		if (ev->country.s)
			check_str(&ev->country);
		FUZZ_CHECK(ev->ntraces == 0 || ev->traces != NULL);
		for (size_t i = 0; i < ev->ntraces; i++) {
			const req_trace_t *t = &ev->traces[i];
			check_str(&t->net);
			check_str(&t->sta);
			check_str(&t->loc);
			check_str(&t->cha);
			FUZZ_CHECK(t->start.s && strlen(t->start.s) >= t->start.len);
		}
		if (ev->client_state != REQ_CLIENT_OK)
			FUZZ_CHECK(ev->client_why != NULL);
	}
	req_parser_free(p);
	return 0;
}
