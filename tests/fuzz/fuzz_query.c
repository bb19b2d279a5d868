/*
 * Fuzz target: the query string of the query API (hquery.h hquery_parse()),
 * then its parameters through the query core as both endpoints run them
 * (query.h q_parse(), q_precheck(), and for a valid query q_sql_build()),
 * against a small fixed restriction map.  Every refusal must carry an HTTP
 * status and a body that fits.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "ingestd/hquery.h"
#include "query.h"

static void policy(struct q_policy *p)
{
	q_policy_init(p);
	q_policy_add_node(p, "A", 0, "/op/a");
	q_policy_add_node(p, "B", 1, NULL);
	q_policy_add_node(p, "C", -1, NULL);
	q_policy_add_net(p, "A", "FR", 0, NULL);
	q_policy_add_net(p, "A", "Z3", 1, "/epos/z3");
	q_policy_add_net(p, "B", "FR", 0, "/epos/fr");
	q_policy_add_net(p, "B", "GE", 1, NULL);
	q_policy_add_net(p, "C", "XX", 0, "/epos/xx");
	q_policy_seal(p);
}

static void run(const struct q_pair *pairs, size_t n, const char *raw, const struct q_policy *p,
                enum q_endpoint ep, int op)
{
	static char *const groups[] = { "/epos/fr", "/op/a" };
	struct query q;
	struct q_error e;
	char body[2 * Q_ERR_TEXT + 256];
	int rc;

	q_error_init(&e, q_wants_json(pairs, n));
	rc = q_parse(&q, ep, op, pairs, n, raw, p, &e);
	if (rc == 0) {
		FUZZ_CHECK(e.status == 0);
		rc = q_precheck(&q, p, ep == Q_RESTRICTED ? groups : NULL, ep == Q_RESTRICTED ? 2 : 0, &e);
		if (rc == 0) {
			struct q_sql s;
			(void)q_folds(&q);
			for (int roll = 0; roll < 2; roll++) {
				memset(&s, 0, sizeof s);
				FUZZ_CHECK(q_sql_build(&q, roll, &s) == 0);
				FUZZ_CHECK(s.text != NULL);
				for (size_t i = 0; i < s.nparams; i++)
					FUZZ_CHECK(s.params[i] != NULL);
				q_sql_fini(&s);
			}
		}
	}
	if (rc != 0) {
		size_t len;
		FUZZ_CHECK(e.status >= 400 && e.status < 600);
		len = q_error_body(&e, body, sizeof body);
		FUZZ_CHECK(len < sizeof body && strlen(body) == len);
		FUZZ_CHECK(q_error_content_type(&e) != NULL && q_status_reason(e.status) != NULL);
	}
	q_query_fini(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hquery hq;
	struct q_policy p;
	struct q_pair pairs[HQUERY_MAX_PARAMS];
	char err[256], *raw;
	int rc;

	hquery_init(&hq);
	rc = hquery_parse(&hq, (const char *)data, size, err, sizeof err);
	FUZZ_CHECK(rc == 0 || rc == ES_EFORMAT || rc == ES_ELIMIT);
	if (rc != 0) {
		hquery_fini(&hq);
		return 0;
	}
	FUZZ_CHECK(hq.n <= HQUERY_MAX_PARAMS);
	for (size_t i = 0; i < hq.n; i++) {
		FUZZ_CHECK(hq.v[i].name && hq.v[i].value);
		FUZZ_CHECK(strlen(hq.v[i].name) <= HQUERY_MAX_ITEM && strlen(hq.v[i].value) <= HQUERY_MAX_ITEM);
		pairs[i].name = hq.v[i].name;
		pairs[i].value = hq.v[i].value;
		FUZZ_CHECK(hquery_get(&hq, hq.v[i].name, NULL) != NULL);
	}
	raw = malloc(size + 1);
	if (raw) {
		memcpy(raw, data, size);
		raw[size] = '\0';
		policy(&p);
		run(pairs, hq.n, raw, &p, Q_PUBLIC, 0);
		run(pairs, hq.n, raw, &p, Q_RESTRICTED, 0);
		run(pairs, hq.n, raw, &p, Q_RESTRICTED, 1);
		q_policy_fini(&p);
		free(raw);
	}
	hquery_fini(&hq);
	return 0;
}
