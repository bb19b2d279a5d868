/*
 * req_diff.h - compares two outcomes of req_parse() field by field: the fast
 * path against the cJSON reference (req_parser_reference()).  Shared by the
 * differential fuzz target (fuzz_request_fast.c) and the unit tests
 * (tests/unit/test_request.c).  Header-only; no state.
 */
#ifndef ES_REQ_DIFF_H
#define ES_REQ_DIFF_H

#include <string.h>

#include "request.h"

static inline int req_diff_str(const req_str_t *a, const req_str_t *b)
{
	if (!a->s || !b->s)
		return a->s != b->s || a->len != b->len;
	return a->len != b->len || memcmp(a->s, b->s, a->len) != 0;
}

/* NULL when the two outcomes are the same, else the name of the first field that differs. */
static inline const char *req_diff(enum req_verdict va, const req_event_t *a, enum req_verdict vb,
                                   const req_event_t *b)
{
	if (va != vb)
		return "verdict";
	if (strcmp(a->msg, b->msg) != 0)
		return "msg";
	if (va != REQ_OK)
		return NULL;
	if (a->year != b->year || a->month != b->month || a->day != b->day)
		return "date";
	if (req_diff_str(&a->country, &b->country) || a->country_missing != b->country_missing)
		return "country";
	if (a->ok != b->ok)
		return "ok";
	if (a->client_state != b->client_state)
		return "client_state";
	if (a->client_state == REQ_CLIENT_OK && a->client_raw != b->client_raw)
		return "client_raw";
	if ((a->client_why == NULL) != (b->client_why == NULL)
	    || (a->client_why && strcmp(a->client_why, b->client_why) != 0))
		return "client_why";
	if (a->ntraces != b->ntraces)
		return "ntraces";
	for (size_t i = 0; i < a->ntraces; i++) {
		const req_trace_t *x = &a->traces[i], *y = &b->traces[i];
		if (req_diff_str(&x->net, &y->net) || req_diff_str(&x->sta, &y->sta)
		    || req_diff_str(&x->loc, &y->loc) || req_diff_str(&x->cha, &y->cha)
		    || req_diff_str(&x->start, &y->start) || x->bytes != y->bytes)
			return "trace";
	}
	return NULL;
}

#endif
