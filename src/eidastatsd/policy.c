#include "config.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

enum policy_verdict policy_classify(int answered, long http, const char *body)
{
	if (!answered)
		return POLICY_RETRY;
	if (http >= 200 && http < 300)
		return POLICY_DELIVERED;
	if (http == 409 || (http == 400 && body && strstr(body, "already exists")))
		return POLICY_DUPLICATE;
	if (http == 401 || http == 403)
		return POLICY_AUTH;
	if (http >= 400 && http < 500 && http != 408 && http != 429)
		return POLICY_REJECT;
	return POLICY_RETRY;
}

const char *policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_DELIVERED: return "delivered";
	case POLICY_DUPLICATE: return "duplicate";
	case POLICY_AUTH: return "auth";
	case POLICY_REJECT: return "rejected";
	default: return "retry";
	}
}

uint64_t policy_backoff_ms(long initial_s, long max_s, unsigned failures, uint64_t r)
{
	uint64_t max = (uint64_t)(max_s > 0 ? max_s : 1) * 1000;
	uint64_t base = (uint64_t)(initial_s > 0 ? initial_s : 1) * 1000, delay;

	for (unsigned i = 1; i < failures && base < max; i++)
		base *= 2;
	if (base > max)
		base = max;
	delay = base / 2 + (base / 2 ? r % (base / 2 + 1) : 0);
	return delay < POLICY_MIN_DELAY_MS ? POLICY_MIN_DELAY_MS : delay;
}

long policy_retry_after(const char *value, int64_t now)
{
	char v[256];
	size_t n;
	long secs;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (n == 0 || n >= sizeof v)
		return -1;
	memcpy(v, value, n);
	v[n] = '\0';
	if (strspn(v, "0123456789") == n) {
		/* Delay-seconds; more digits than a long holds is "very long". */
		secs = n > 9 ? POLICY_MAX_RETRY_AFTER : strtol(v, NULL, 10);
	} else {
		time_t when = curl_getdate(v, NULL);
		if (when <= 0)
			return -1;
		secs = (int64_t)when - now > POLICY_MAX_RETRY_AFTER ? POLICY_MAX_RETRY_AFTER
		                                                   : (long)((int64_t)when - now);
	}
	if (secs < 1)
		return 1;
	return secs > POLICY_MAX_RETRY_AFTER ? POLICY_MAX_RETRY_AFTER : secs;
}

uint64_t policy_rng_next(uint64_t *state)
{
	/* xorshift64*: jitter needs spread, not cryptographic quality. */
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}
