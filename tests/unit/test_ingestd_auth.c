#include "config.h"

#include <errno.h>

#include "ingestd/auth.h"
#include "unit.h"

/* The token auth_bearer() finds in value, as a string ("" when none). */
static const char *bearer(const char *value)
{
	static char out[128];
	const char *tok = NULL;
	size_t n = auth_bearer(value, &tok);

	ASSERT(n < sizeof out);
	memcpy(out, n ? tok : "", n);
	out[n] = '\0';
	return out;
}

TEST(ingestd_auth_bearer)
{
	ASSERT_STREQ(bearer("Bearer abc"), "abc");
	ASSERT_STREQ(bearer("bearer abc"), "abc");
	ASSERT_STREQ(bearer("BEARER\tabc"), "abc");
	ASSERT_STREQ(bearer("  Bearer   abc  "), "abc");
	ASSERT_STREQ(bearer("Bearer abc def"), "abc");
	ASSERT_STREQ(bearer("Bearer"), "");
	ASSERT_STREQ(bearer("Bearer "), "");
	ASSERT_STREQ(bearer("Bearerabc"), "");
	ASSERT_STREQ(bearer("Basic abc"), "");
	ASSERT_STREQ(bearer("abc"), "");
	ASSERT_STREQ(bearer(""), "");
	ASSERT_STREQ(bearer(NULL), "");
}

TEST(ingestd_auth_token_headers)
{
	const char *tok = NULL;
	size_t len = 0;

	/* Upstream's Authentication header, the standard Authorization header, or both. */
	ASSERT_OK(auth_token("Bearer up", NULL, &tok, &len));
	ASSERT(len == 2 && memcmp(tok, "up", 2) == 0);
	ASSERT_OK(auth_token(NULL, "Bearer std", &tok, &len));
	ASSERT(len == 3 && memcmp(tok, "std", 3) == 0);
	ASSERT_OK(auth_token("Bearer up", "Bearer std", &tok, &len));
	ASSERT(len == 2 && memcmp(tok, "up", 2) == 0);
	/* A header without a bearer token gives way to the other one. */
	ASSERT_OK(auth_token("Basic xyz", "Bearer std", &tok, &len));
	ASSERT(len == 3 && memcmp(tok, "std", 3) == 0);
	ASSERT_ERR(auth_token(NULL, NULL, &tok, &len), -EACCES);
	ASSERT_ERR(auth_token("Basic a", "Bearer", &tok, &len), -EACCES);
	ASSERT_EQ(len, 0);
}

TEST(ingestd_auth_no_token_no_database)
{
	struct auth_principal who = { .kind = AUTH_ANONYMOUS };
	char err[128];

	/* Without a token the database is not asked (no pool is needed). */
	ASSERT_ERR(auth_node(NULL, "Basic x", NULL, &who, err, sizeof err), -EACCES);
	ASSERT_EQ(who.kind, AUTH_ANONYMOUS);
}
