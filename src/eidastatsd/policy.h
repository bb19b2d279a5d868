/*
 * policy.h - the delivery policy of eidastatsd as pure functions: what an
 * answer of the central service means, how long to wait after a failed
 * round, and what a Retry-After header asks for.  push.c applies them.
 *
 * Answers (policy_classify()):
 *   2xx                         DELIVERED
 *   409, or 400 whose body says "already exists" (the upstream service's
 *                               word for a payload it has)  DUPLICATE
 *   401, 403                    AUTH: deliveries pause until reload
 *   408, 429, 5xx, 1xx, 3xx, and transfer failures (no answer)  RETRY
 *   any other 4xx               REJECT: kept in spool/rejected/
 *
 * Backoff (policy_backoff_ms()): after the n-th consecutive failed round the
 * base is retry.initial * 2^(n-1), capped at retry.max; the delay is "equal
 * jitter", base/2 plus a random part in [0, base/2], so nodes that failed
 * together do not retry in step; never below POLICY_MIN_DELAY_MS.
 *
 * Retry-After (policy_retry_after()): delay-seconds or an HTTP date; a date
 * in the past means now; obeyed for at most POLICY_MAX_RETRY_AFTER seconds
 * (a broken header must not stall deliveries for years), at least 1 s.
 *
 * No state, no I/O: any thread.  Randomness comes from the caller
 * (policy_rng_next() over a caller-owned state), so tests are deterministic.
 */
#ifndef ESD_POLICY_H
#define ESD_POLICY_H

#include <stdint.h>

#define POLICY_MAX_RETRY_AFTER 86400L   /* Longest Retry-After obeyed, in seconds. */
#define POLICY_MIN_DELAY_MS 100

enum policy_verdict { POLICY_DELIVERED, POLICY_DUPLICATE, POLICY_AUTH, POLICY_REJECT, POLICY_RETRY };

/* The verdict on one attempt: answered is 0 when the transfer failed (no
 * HTTP answer), else http is the status and body the start of the answer
 * (NUL-terminated, may be empty). */
enum policy_verdict policy_classify(int answered, long http, const char *body);
/* A short name of v ("delivered", "duplicate", "auth", "rejected", "retry"). */
const char *policy_verdict_name(enum policy_verdict v);

/* Delay in milliseconds before the next round after failures (>= 1)
 * consecutive failed rounds, with retry.initial and retry.max in seconds
 * (initial <= max) and a random value r. */
uint64_t policy_backoff_ms(long initial_s, long max_s, unsigned failures, uint64_t r);

/* The seconds a Retry-After value asks for (value without the header name,
 * surrounding blanks allowed), now being the current unix time: 1 to
 * POLICY_MAX_RETRY_AFTER, or -1 when the value is neither delay-seconds
 * nor an HTTP date. */
long policy_retry_after(const char *value, int64_t now);

/* Next value of an xorshift64* generator over *state (never 0). */
uint64_t policy_rng_next(uint64_t *state);

#endif
