/*
 * unit.h - the registry of named unit tests.
 *
 * A test is written as TEST(name) { ... } in any tests/unit/test_*.c file.
 * A constructor adds it to the one registry at start-up, so test files never
 * edit a shared list.  run-tests runs every test (or those named on the
 * command line) in its own child process with a timeout (900 s of wall time, or
 * $ES_UNIT_TIMEOUT seconds: it ends hangs only) and prints TAP, which
 * automake's tap-driver turns into one PASS/FAIL line per test.
 *
 * Assertions print the file, line, the expression and, for error codes, the
 * es_strerror() text, then end the test with a failure.
 */
#ifndef ES_UNIT_H
#define ES_UNIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

typedef void (*unit_fn)(void);

void unit_register(const char *name, unit_fn fn);
/* Fails the running test with a formatted message; never returns. */
void unit_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
/* Path of a file in the bundled test data (tests/data); static buffer per call slot. */
const char *unit_data(const char *rel);
/* A fresh temporary directory for this test, removed by the runner afterwards. */
const char *unit_tmpdir(void);
/* Path of name inside unit_tmpdir() (one of 8 rotating static buffers). */
const char *unit_tmp(const char *name);
/* Writes len bytes to path (created or truncated); fails the test on error. */
void unit_write(const char *path, const void *data, size_t len);
/* The whole file, NUL-terminated, malloc()ed (caller frees); *len if not NULL. Fails the test on error. */
char *unit_slurp(const char *path, size_t *len);
/* The file parsed with cJSON (caller cJSON_Delete()s it); fails the test if it is not JSON. */
struct cJSON *unit_json(const char *path);

#define TEST(name)                                                    \
	static void test_##name(void);                                \
	__attribute__((constructor)) static void reg_##name(void)     \
	{ unit_register(#name, test_##name); }                        \
	static void test_##name(void)

#define ASSERT(cond) do { if (!(cond))                                \
	unit_fail(__FILE__, __LINE__, "assertion failed: %s", #cond); } while (0)

#define ASSERT_OK(expr) do { int rc_ = (expr); if (rc_ != 0)          \
	unit_fail(__FILE__, __LINE__, "%s returned %d (%s)", #expr, rc_, \
	          es_strerror(rc_)); } while (0)

#define ASSERT_ERR(expr, want) do { int rc_ = (expr); if (rc_ != (want)) \
	unit_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s)", \
	          #expr, rc_, es_strerror(rc_), (int)(want), es_strerror(want)); } while (0)

#define ASSERT_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) unit_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
	                        #a, #b, a_, b_); } while (0)

#define ASSERT_STREQ(a, b) do { const char *a_ = (a), *b_ = (b);       \
	if (!a_ || !b_ || strcmp(a_, b_) != 0)                           \
		unit_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", \
		          #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)

#define ASSERT_MEMEQ(a, b, n) do { if (memcmp((a), (b), (n)) != 0)      \
	unit_fail(__FILE__, __LINE__, "%s and %s differ in their first %zu bytes", \
	          #a, #b, (size_t)(n)); } while (0)

#endif
