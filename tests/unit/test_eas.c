/*
 * Tests of eas.h: the token parser, and verification against a real GnuPG
 * keyring that the test makes with gpg in its temporary directory.
 */
#include "unit.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eas.h"
#include "query.h"

static int64_t now_us(void)
{
	return (int64_t)time(NULL) * 1000000;
}

static int parse(struct eas_token *t, const char *s)
{
	const char *why;
	int rc = eas_token_parse(t, s, strlen(s), &why);

	if (rc < 0)
		ASSERT(why != NULL);
	return rc;
}

TEST(eas_parse_fields)
{
	struct eas_token t;

	ASSERT_OK(parse(&t, "{\"valid_until\": \"2019-04-20T12:33:43.663076Z\", \"cn\": \"Jo\", "
	                    "\"memberof\": \"/epos/alparray;/epos;;/\", \"sn\": \"X\", "
	                    "\"issued\": \"2019-03-20\", \"mail\": \"jo@example.org\", "
	                    "\"givenName\": \"J\", \"expiration\": \"1m\", \"extra\": 5}\n"));
	ASSERT_EQ(t.valid_until, 1555763623663076LL);
	ASSERT_EQ(t.ngroups, 3);
	ASSERT_STREQ(t.groups[0], "/epos/alparray");
	ASSERT_STREQ(t.groups[1], "/epos");
	ASSERT_STREQ(t.groups[2], "/");
	ASSERT_STREQ(t.cn, "Jo");
	ASSERT_STREQ(t.mail, "jo@example.org");
	ASSERT_STREQ(t.given_name, "J");
	ASSERT_STREQ(t.expiration, "1m");
	eas_token_fini(&t);
	/* Missing memberof: no groups. */
	ASSERT_OK(parse(&t, "{\"valid_until\": \"2019-04-20T12:33:43.6Z\"}"));
	ASSERT_EQ(t.ngroups, 0);
	ASSERT_EQ(t.valid_until, 1555763623600000LL);
	ASSERT(t.cn == NULL);
	eas_token_fini(&t);
}

TEST(eas_parse_malformed)
{
	static const char *const bad[] = {
		"", "not json", "[1]", "{}", "{\"memberof\": \"/a\"}",
		"{\"valid_until\": 5}",
		"{\"valid_until\": \"2019-04-20T12:33:43Z\"}",
		"{\"valid_until\": \"2019-04-20T12:33:43.1234567Z\"}",
		"{\"valid_until\": \"2019-04-20T12:33:43.1\"}",
		"{\"valid_until\": \"2019-04-20 12:33:43.1Z\"}",
		"{\"valid_until\": \"2019-02-30T12:33:43.1Z\"}",
		"{\"valid_until\": \"2019-04-20T25:33:43.1Z\"}",
		"{\"valid_until\": \"2019-04-20T12:33:43.1Z\", \"memberof\": [\"/a\"]}",
		"{\"valid_until\": \"2019-04-20T12:33:43.1Z\"} {\"memberof\": \"/x\"}",
		"{\"valid_until\": \"2019-04-20T12:33:43.1Z\"}, \"memberof\": \"/x\"}",
	};
	struct eas_token t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(&t, bad[i]) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
		eas_token_fini(&t);
	}
	/* An embedded NUL. */
	ASSERT_ERR(eas_token_parse(&t, "{\"valid_until\": \"2019-04-20T12:33:43.1Z\"}\0x", 43, NULL),
	           ES_EFORMAT);
	eas_token_fini(&t);
}

TEST(eas_expiry_utc)
{
	struct eas_token t;
	int64_t us;

	ASSERT_OK(eas_parse_time("1970-01-01T00:00:01.000001Z", &us));
	ASSERT_EQ(us, 1000001);
	ASSERT_OK(parse(&t, "{\"valid_until\": \"2019-04-20T12:33:43.5Z\"}"));
	ASSERT_EQ(eas_token_expired(&t, t.valid_until), 0);
	ASSERT_EQ(eas_token_expired(&t, t.valid_until + 1), 1);
	ASSERT_EQ(eas_token_expired(&t, t.valid_until - 1), 0);
	eas_token_fini(&t);
}

TEST(eas_status_texts)
{
	const char *m;

	ASSERT_EQ(eas_status_http(EAS_OK, &m), 200);
	ASSERT(m == NULL);
	ASSERT_EQ(eas_status_http(EAS_INVALID, &m), 401);
	ASSERT_STREQ(m, "Invalid token or no token file provided");
	ASSERT_EQ(eas_status_http(EAS_EXPIRED, &m), 401);
	ASSERT_STREQ(m, "Token has expired!");
	ASSERT_EQ(eas_status_http(EAS_MALFORMED, &m), 401);
	ASSERT_STREQ(m, "Malformed token file provided");
	ASSERT_EQ(eas_status_http(EAS_ERROR, &m), 500);
	/* No keyring configured, or no body. */
	{
		struct eas_token t;

		ASSERT_EQ(eas_check(NULL, "x", 1, 0, &t), EAS_INVALID);
		eas_token_fini(&t);
	}
}

/* ---- with GnuPG ---- */

/* Runs a shell command; fails the test when it does not exit 0. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		unit_fail(__FILE__, __LINE__, "command failed (%d): %s", rc, cmd);
}

struct gpgenv {
	char eas[512], other[512], old[512], ring[512], priv[512], priv2[512];
};

/* Three GnuPG homes: the EAS key, an unknown key and a key that expired in 2020. */
static void gpg_setup(struct gpgenv *g)
{
	if (system("gpg --version >/dev/null 2>&1") != 0)
		unit_fail(__FILE__, __LINE__, "gpg not installed (Debian package gnupg)");
	snprintf(g->eas, sizeof(g->eas), "%s", unit_tmp("eas"));
	snprintf(g->other, sizeof(g->other), "%s", unit_tmp("other"));
	snprintf(g->old, sizeof(g->old), "%s", unit_tmp("old"));
	snprintf(g->ring, sizeof(g->ring), "%s", unit_tmp("ring"));
	snprintf(g->priv, sizeof(g->priv), "%s", unit_tmp("priv"));
	snprintf(g->priv2, sizeof(g->priv2), "%s", unit_tmp("priv2"));
	sh("mkdir -m 700 '%s' '%s' '%s' '%s'", g->eas, g->other, g->old, g->ring);
	sh("gpg --homedir '%s' --batch -q --passphrase '' --quick-gen-key 'EAS Test <eas@example.org>' "
	   "ed25519 sign 1y 2>/dev/null", g->eas);
	sh("gpg --homedir '%s' --batch -q --passphrase '' --quick-gen-key 'Other <o@example.org>' "
	   "ed25519 sign 1y 2>/dev/null", g->other);
	sh("gpg --homedir '%s' --batch -q --faked-system-time 20200101T000000! --passphrase '' "
	   "--quick-gen-key 'Old <old@example.org>' ed25519 sign 1d 2>/dev/null", g->old);
	/* A keyring directory of exported keys (the EAS key and the expired one). */
	sh("gpg --homedir '%s' --batch -q --armor --export > '%s/eas.asc'", g->eas, g->ring);
	sh("gpg --homedir '%s' --batch -q --armor --export > '%s/old.asc'", g->old, g->ring);
}

static void gpg_teardown(const struct gpgenv *g)
{
	const char *homes[] = { g->eas, g->other, g->old };

	for (int i = 0; i < 3; i++) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill gpg-agent 2>/dev/null", homes[i]);
		if (system(cmd) != 0) {
			/* Nothing to stop. */
		}
	}
}

/* Clear-signs text with the key of home (faked time when `when` is not NULL); malloc()ed. */
static char *sign(const char *home, const char *text, const char *when, size_t *len)
{
	char in[600], out[600];

	snprintf(in, sizeof(in), "%s/in.txt", home);
	snprintf(out, sizeof(out), "%s/in.txt.asc", home);
	unit_write(in, text, strlen(text));
	unlink(out);
	sh("gpg --homedir '%s' --batch -q %s%s --clearsign '%s' 2>/dev/null", home,
	   when ? "--faked-system-time " : "", when ? when : "", in);
	return unit_slurp(out, len);
}

static enum eas_status check(struct eas_verifier *v, const char *body, size_t len, struct eas_token *t)
{
	return eas_check(v, body, len, now_us(), t);
}

TEST(eas_gpg_verify)
{
	struct gpgenv g;
	struct eas_verifier *v;
	struct eas_token t;
	char why[256];
	char *tok, *plain;
	size_t len, plen;

	gpg_setup(&g);
	/* The keyring is a GnuPG home, read-only: it is copied, never written. */
	sh("chmod -R a-w '%s'", g.eas);
	ASSERT_OK(eas_verifier_new(&v, g.eas, g.priv, why, sizeof(why)));
	sh("chmod -R u+w '%s'", g.eas);
	ASSERT_EQ(eas_verifier_keys(v), 1);

	/* Valid. */
	tok = sign(g.eas, "{\"valid_until\": \"2099-01-01T00:00:00.5Z\", \"cn\": \"Jo\", "
	                  "\"memberof\": \"/epos/a;/epos\"}\n", NULL, &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_OK);
	ASSERT_EQ(t.ngroups, 2);
	ASSERT_STREQ(t.groups[0], "/epos/a");
	eas_token_fini(&t);
	ASSERT_OK(eas_verify(v, tok, len, &plain, &plen));
	ASSERT(strncmp(plain, "{\"valid_until\"", 14) == 0);
	free(plain);

	/* Text appended after the signature claiming another group is ignored. */
	{
		char *evil = malloc(len + 64);

		ASSERT(evil);
		memcpy(evil, tok, len);
		memcpy(evil + len, ", \"memberof\": \"/op/all\"}\n", 25);
		ASSERT_EQ(check(v, evil, len + 25, &t), EAS_OK);
		ASSERT_EQ(t.ngroups, 2);
		ASSERT_STREQ(t.groups[1], "/epos");
		eas_token_fini(&t);
		/* Text before the armour likewise. */
		memcpy(evil, "{\"memberof\": \"/op/all\"}\n", 24);
		memcpy(evil + 24, tok, len);
		ASSERT_EQ(check(v, evil, len + 24, &t), EAS_OK);
		ASSERT_EQ(t.ngroups, 2);
		eas_token_fini(&t);
		free(evil);
	}

	/* Tampered signed text: bad signature. */
	{
		char *p = strstr(tok, "/epos/a");

		ASSERT(p);
		p[6] = 'b';
		ASSERT_EQ(check(v, tok, len, &t), EAS_INVALID);
		eas_token_fini(&t);
	}
	free(tok);

	/* Empty body, unsigned JSON. */
	ASSERT_EQ(check(v, "", 0, &t), EAS_INVALID);
	eas_token_fini(&t);
	ASSERT_EQ(check(v, "{\"valid_until\": \"2099-01-01T00:00:00.5Z\"}", 41, &t), EAS_INVALID);
	eas_token_fini(&t);

	/* Expired token (valid signature). */
	tok = sign(g.eas, "{\"valid_until\": \"2020-01-01T00:00:00.5Z\", \"memberof\": \"/epos\"}", NULL, &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_EXPIRED);
	eas_token_fini(&t);
	free(tok);

	/* Missing memberof: valid, no groups. */
	tok = sign(g.eas, "{\"valid_until\": \"2099-01-01T00:00:00.5Z\", \"cn\": \"Jo\"}", NULL, &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_OK);
	ASSERT_EQ(t.ngroups, 0);
	eas_token_fini(&t);
	free(tok);

	/* Signed, but not a token. */
	tok = sign(g.eas, "hello, \"memberof\": \"/x\"", NULL, &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_MALFORMED);
	eas_token_fini(&t);
	free(tok);

	/* A key outside the keyring. */
	tok = sign(g.other, "{\"valid_until\": \"2099-01-01T00:00:00.5Z\", \"memberof\": \"/epos\"}", NULL, &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_INVALID);
	eas_token_fini(&t);
	free(tok);
	eas_verifier_free(v);
	gpg_teardown(&g);
}

TEST(eas_gpg_exported_keys_and_expired_key)
{
	struct gpgenv g;
	struct eas_verifier *v;
	struct eas_token t;
	char why[256];
	char *tok;
	size_t len;

	gpg_setup(&g);
	ASSERT_OK(eas_verifier_new(&v, g.ring, g.priv, why, sizeof(why)));
	ASSERT_EQ(eas_verifier_keys(v), 2);
	tok = sign(g.eas, "{\"valid_until\": \"2099-01-01T00:00:00.5Z\", \"memberof\": \"/epos\"}", NULL, &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_OK);
	eas_token_fini(&t);
	free(tok);
	/* Signed by a key of the keyring while it was valid, but the key has expired since. */
	tok = sign(g.old, "{\"valid_until\": \"2099-01-01T00:00:00.5Z\", \"memberof\": \"/epos\"}",
	           "20200101T120000!", &len);
	ASSERT_EQ(check(v, tok, len, &t), EAS_INVALID);
	eas_token_fini(&t);
	free(tok);
	eas_verifier_free(v);

	/* A directory without keys, a missing directory. */
	sh("mkdir '%s'", unit_tmp("empty"));
	ASSERT_ERR(eas_verifier_new(&v, unit_tmp("empty"), g.priv2, why, sizeof(why)), ES_ECONFIG);
	ASSERT(strstr(why, "no public key") != NULL);
	ASSERT_ERR(eas_verifier_new(&v, unit_tmp("missing"), g.priv2, why, sizeof(why)), ES_ECONFIG);
	ASSERT(strstr(why, "cannot read") != NULL);
	gpg_teardown(&g);
}

/* Mutations of a valid signed text: a clean answer every time (run under the sanitizers). */
TEST(eas_parse_mutations)
{
	static const char base[] = "{\"valid_until\": \"2019-04-20T12:33:43.663076Z\", \"cn\": \"J\\u00e9\", "
	                           "\"memberof\": \"/a;/b\"}";
	char buf[sizeof(base)];
	uint32_t seed = 99;
	int ok = 0;

	for (int round = 0; round < 5000; round++) {
		struct eas_token t;
		const char *why;
		size_t len = sizeof(base) - 1;
		int rc;

		memcpy(buf, base, sizeof(base));
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] = (char)(seed >> 20);
		}
		seed = seed * 1103515245u + 12345u;
		if (round % 4 == 0)
			len = (seed >> 8) % len;
		rc = eas_token_parse(&t, buf, len, &why);
		ASSERT(rc == 0 || (rc == ES_EFORMAT && why));
		ok += rc == 0;
		eas_token_fini(&t);
	}
	ASSERT(ok > 0);
}
