/*
 * test_daemon_push.c - the daemon's delivery policy (src/eidastatsd/policy.c):
 * answer classification, backoff bounds, Retry-After.
 */
#include "config.h"

#include "eidastatsd/policy.h"
#include "unit.h"

TEST(daemon_push_classification)
{
	static const struct {
		int answered;
		long http;
		const char *body;
		enum policy_verdict want;
	} cases[] = {
		{ 1, 200, "", POLICY_DELIVERED },
		{ 1, 201, "created", POLICY_DELIVERED },
		{ 1, 204, "", POLICY_DELIVERED },
		{ 1, 299, "", POLICY_DELIVERED },
		{ 1, 409, "", POLICY_DUPLICATE },
		{ 1, 409, "anything at all", POLICY_DUPLICATE },
		{ 1, 400, "Statistics already exists in the database", POLICY_DUPLICATE },
		{ 1, 400, "missing field 'stats'", POLICY_REJECT },
		{ 1, 400, "", POLICY_REJECT },
		{ 1, 401, "", POLICY_AUTH },
		{ 1, 403, "already exists", POLICY_AUTH },
		{ 1, 404, "", POLICY_REJECT },
		{ 1, 413, "too large", POLICY_REJECT },
		{ 1, 422, "", POLICY_REJECT },
		{ 1, 499, "", POLICY_REJECT },
		{ 1, 408, "", POLICY_RETRY },
		{ 1, 429, "", POLICY_RETRY },
		{ 1, 500, "already exists", POLICY_RETRY },
		{ 1, 502, "", POLICY_RETRY },
		{ 1, 503, "", POLICY_RETRY },
		{ 1, 599, "", POLICY_RETRY },
		{ 1, 100, "", POLICY_RETRY },
		{ 1, 302, "", POLICY_RETRY },
		{ 1, 0, "", POLICY_RETRY },
		{ 0, 0, "", POLICY_RETRY },
		{ 0, 200, "", POLICY_RETRY },   /* A transfer that failed after the status line. */
		{ 1, 400, NULL, POLICY_REJECT },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum policy_verdict v = policy_classify(cases[i].answered, cases[i].http, cases[i].body);
		if (v != cases[i].want)
			unit_fail(__FILE__, __LINE__, "case %zu (HTTP %ld, \"%s\"): %s, expected %s", i,
			          cases[i].http, cases[i].body ? cases[i].body : "(null)",
			          policy_verdict_name(v), policy_verdict_name(cases[i].want));
	}
}

TEST(daemon_push_backoff_bounds)
{
	static const long settings[][2] = { { 1, 2 }, { 5, 300 }, { 30, 3600 }, { 7, 7 }, { 1, 86400 } };
	uint64_t rng = 42;

	for (size_t s = 0; s < sizeof settings / sizeof settings[0]; s++) {
		long initial = settings[s][0], max = settings[s][1];
		uint64_t lo_seen = UINT64_MAX, hi_seen = 0;
		for (unsigned failures = 1; failures <= 200; failures++) {
			/* The base doubles from initial and stops at max. */
			uint64_t base = (uint64_t)initial * 1000;
			for (unsigned i = 1; i < failures && base < (uint64_t)max * 1000; i++)
				base *= 2;
			if (base > (uint64_t)max * 1000)
				base = (uint64_t)max * 1000;
			for (int round = 0; round < 50; round++) {
				uint64_t d = policy_backoff_ms(initial, max, failures, policy_rng_next(&rng));
				if (d < base / 2 || d > base || d > (uint64_t)max * 1000)
					unit_fail(__FILE__, __LINE__,
					          "initial %ld max %ld failures %u: %llu ms outside [%llu, %llu]",
					          initial, max, failures, (unsigned long long)d,
					          (unsigned long long)base / 2, (unsigned long long)base);
				if (failures > 40) {
					lo_seen = d < lo_seen ? d : lo_seen;
					hi_seen = d > hi_seen ? d : hi_seen;
				}
			}
		}
		/* Once capped, the jitter spreads over the upper half of retry.max. */
		ASSERT(lo_seen >= (uint64_t)max * 500);
		ASSERT(hi_seen <= (uint64_t)max * 1000);
		ASSERT(hi_seen - lo_seen >= (uint64_t)max * 250);
	}
	/* The first round waits about retry.initial; the extremes of the jitter. */
	ASSERT_EQ(policy_backoff_ms(10, 100, 1, 0), 5000);
	ASSERT_EQ(policy_backoff_ms(10, 100, 1, 5000), 10000);
	ASSERT_EQ(policy_backoff_ms(10, 100, 2, 0), 10000);
	ASSERT_EQ(policy_backoff_ms(10, 100, 4, 0), 40000);
	ASSERT_EQ(policy_backoff_ms(10, 100, 5, 0), 50000);
	ASSERT_EQ(policy_backoff_ms(10, 100, 5, 50000), 100000);
	ASSERT_EQ(policy_backoff_ms(10, 100, UINT32_MAX, 0), 50000);
	/* Never a busy loop, whatever the settings. */
	ASSERT(policy_backoff_ms(0, 0, 1, 0) >= POLICY_MIN_DELAY_MS);
}

TEST(daemon_push_rng_deterministic)
{
	uint64_t a = 7, b = 7, zero = 0;
	int differ = 0;

	for (int i = 0; i < 100; i++) {
		uint64_t x = policy_rng_next(&a);
		ASSERT(x == policy_rng_next(&b));
		differ += x != policy_rng_next(&zero);
	}
	ASSERT(zero != 0);
	ASSERT(differ > 90);
}

TEST(daemon_push_retry_after)
{
	const int64_t now = 1784000000;   /* 2026-07-14T03:33:20Z */

	ASSERT_EQ(policy_retry_after("120", now), 120);
	ASSERT_EQ(policy_retry_after("  30 \r\n", now), 30);
	ASSERT_EQ(policy_retry_after("0", now), 1);
	ASSERT_EQ(policy_retry_after("86400", now), POLICY_MAX_RETRY_AFTER);
	ASSERT_EQ(policy_retry_after("86401", now), POLICY_MAX_RETRY_AFTER);
	ASSERT_EQ(policy_retry_after("99999999999999999999999", now), POLICY_MAX_RETRY_AFTER);
	/* HTTP dates, relative to now. */
	ASSERT_EQ(policy_retry_after("Tue, 14 Jul 2026 03:35:20 GMT", now), 120);
	ASSERT_EQ(policy_retry_after(" Tue, 14 Jul 2026 03:33:21 GMT\r\n", now), 1);
	ASSERT_EQ(policy_retry_after("Tue, 14 Jul 2026 03:00:00 GMT", now), 1);   /* past: now */
	ASSERT_EQ(policy_retry_after("Wed, 15 Jul 2026 03:33:20 GMT", now), 86400);
	ASSERT_EQ(policy_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now), POLICY_MAX_RETRY_AFTER);
	/* Neither: ignored. */
	ASSERT_EQ(policy_retry_after("", now), -1);
	ASSERT_EQ(policy_retry_after("   ", now), -1);
	ASSERT_EQ(policy_retry_after("soon", now), -1);
	ASSERT_EQ(policy_retry_after("-5", now), -1);
	ASSERT_EQ(policy_retry_after("12abc", now), -1);
}
