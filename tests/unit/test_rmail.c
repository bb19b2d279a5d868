#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "report/mail.h"
#include "unit.h"
#include "utf8.h"

#define DAY 86400L

/* 2025-02-01T00:00:00Z, the end of the period 2025-01. */
#define END_2025_01 ((time_t)1738368000)

TEST(rmail_state_due_after_delay_within_window)
{
	time_t end = END_2025_01;
	long delay = 3 * DAY, window = 35 * DAY;

	ASSERT_EQ(rmail_state(end, delay, window, end - 1, false), RMAIL_NOT_YET);
	ASSERT_EQ(rmail_state(end, delay, window, end, false), RMAIL_NOT_YET);
	ASSERT_EQ(rmail_state(end, delay, window, end + delay - 1, false), RMAIL_NOT_YET);
	ASSERT_EQ(rmail_state(end, delay, window, end + delay, false), RMAIL_DUE);
	ASSERT_EQ(rmail_state(end, delay, window, end + delay + window - 1, false), RMAIL_DUE);
	ASSERT_EQ(rmail_state(end, delay, window, end + delay + window, false), RMAIL_EXPIRED);
	/* Recorded: never again, whatever the time. */
	ASSERT_EQ(rmail_state(end, delay, window, end + delay, true), RMAIL_SENT);
	ASSERT_EQ(rmail_state(end, delay, window, end + 400 * DAY, true), RMAIL_SENT);
	/* Delay 0: due the instant the period ends. */
	ASSERT_EQ(rmail_state(end, 0, window, end, false), RMAIL_DUE);
}

TEST(rmail_period_parse_months_and_years)
{
	time_t s, e;

	ASSERT_OK(rmail_period_parse("2025-01", &s, &e));
	ASSERT_EQ(s, 1735689600);           /* 2025-01-01 */
	ASSERT_EQ(e, END_2025_01);
	ASSERT_OK(rmail_period_parse("2024-12", &s, &e));
	ASSERT_EQ(s, 1733011200);           /* 2024-12-01 */
	ASSERT_EQ(e, 1735689600);
	ASSERT_OK(rmail_period_parse("2024-02", &s, &e));
	ASSERT_EQ(e - s, 29 * DAY);         /* leap year */
	ASSERT_OK(rmail_period_parse("2024", &s, &e));
	ASSERT_EQ(s, 1704067200);
	ASSERT_EQ(e, 1735689600);
	static const char *const bad[] = { "", "index.html", "2025-1", "2025-13", "2025-00",
	                                   "25-01", "2025-01-01", "2025_01", "1969", "2025-0a",
	                                   " 2025", "2025 ", "+025", "-2025" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (rmail_period_parse(bad[i], &s, &e) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "\"%s\" taken as a period", bad[i]);
}

TEST(rmail_recipients_lists)
{
	char **l;
	size_t n;
	char err[256];

	ASSERT_OK(rmail_recipients("ops@gfz.example", &l, &n, err, sizeof err));
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(l[0], "ops@gfz.example");
	ASSERT(l[1] == NULL);
	rmail_recipients_free(l);

	ASSERT_OK(rmail_recipients(" a@x.org,b@y.org ,\tc.d+e@z.example\n a@x.org, A@X.ORG",
	                           &l, &n, err, sizeof err));
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(l[0], "a@x.org");
	ASSERT_STREQ(l[1], "b@y.org");
	ASSERT_STREQ(l[2], "c.d+e@z.example");
	rmail_recipients_free(l);
}

TEST(rmail_recipients_refuses_bad_addresses)
{
	static const char *const bad[] = {
		"", " , ", "ops", "@x.org", "ops@", "a@b@c", "Ops <ops@x.org>", "ops@x.org\r\nBcc: e@v.il",
		"o\"ps@x.org", "ops@x.org;b@y.org", "ops@.x.org", "ops@x.org.", "\xc3\xa9@x.org",
		"(c)ops@x.org", "ops@[127.0.0.1]", "o\\ps@x.org", "ops:@x.org",
	};
	char **l;
	size_t n;
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (rmail_recipients(bad[i], &l, &n, err, sizeof err) != ES_ECONFIG)
			unit_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
		ASSERT(l == NULL && n == 0 && err[0] != '\0');
	}
	/* Too long. */
	char big[400];
	memset(big, 'a', sizeof big);
	memcpy(big + sizeof big - 10, "@x.org", 7);
	ASSERT_ERR(rmail_recipients(big, &l, &n, err, sizeof err), ES_ECONFIG);
	/* Too many. */
	char many[RMAIL_MAX_RCPT * 16 + 64] = "";
	for (int i = 0; i <= RMAIL_MAX_RCPT; i++)
		sprintf(many + strlen(many), "u%d@x.org,", i);
	ASSERT_ERR(rmail_recipients(many, &l, &n, err, sizeof err), ES_ELIMIT);
	ASSERT(strstr(err, "recipients") != NULL);
}

TEST(rmail_host_local_loopback_only)
{
	static const char *const local[] = { "localhost", "LOCALHOST", "localhost.", "127.0.0.1",
	                                     "127.1.2.3", "127.255.255.255", "::1", "[::1]",
	                                     "0:0:0:0:0:0:0:1" };
	static const char *const remote[] = { "", "mail.example.org", "128.0.0.1", "126.255.255.255",
	                                      "10.0.0.1", "::2", "[::]", "::ffff:127.0.0.1",
	                                      "localhost.example.org", "127.0.0.1.example.org",
	                                      "[127.0.0.1]", "0.0.0.0" };

	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		if (!rmail_host_local(local[i]))
			unit_fail(__FILE__, __LINE__, "%s not local", local[i]);
	for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
		if (rmail_host_local(remote[i]))
			unit_fail(__FILE__, __LINE__, "%s taken as local", remote[i]);
}

static void pwfile(const char *path, const char *text, mode_t mode)
{
	unit_write(path, text, strlen(text));
	ASSERT(chmod(path, mode) == 0);
}

TEST(rmail_password_file_checks)
{
	char pw[RMAIL_MAX_PASSWORD + 1], small[8], err[512];
	const char *p = unit_tmp("pw");

	pwfile(p, "s3cret\nsecond line\n", 0600);
	ASSERT_OK(rmail_password_read(p, pw, sizeof pw, err, sizeof err));
	ASSERT_STREQ(pw, "s3cret");
	pwfile(p, "s3cret\r\n", 0400);
	ASSERT_OK(rmail_password_read(p, pw, sizeof pw, err, sizeof err));
	ASSERT_STREQ(pw, "s3cret");
	pwfile(p, "no newline", 0600);
	ASSERT_OK(rmail_password_read(p, pw, sizeof pw, err, sizeof err));
	ASSERT_STREQ(pw, "no newline");

	/* Group- or world-readable: refused, saying so. */
	pwfile(p, "s3cret\n", 0640);
	ASSERT_ERR(rmail_password_read(p, pw, sizeof pw, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "readable by its group") && strstr(err, "0640") && strstr(err, p));
	pwfile(p, "s3cret\n", 0604);
	ASSERT_ERR(rmail_password_read(p, pw, sizeof pw, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "readable by everyone"));
	pwfile(p, "s3cret\n", 0644);
	ASSERT_ERR(rmail_password_read(p, pw, sizeof pw, err, sizeof err), ES_ECONFIG);

	/* Empty, too long, not a file, absent. */
	pwfile(p, "\nx\n", 0600);
	ASSERT_ERR(rmail_password_read(p, pw, sizeof pw, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "empty"));
	pwfile(p, "", 0600);
	ASSERT_ERR(rmail_password_read(p, pw, sizeof pw, err, sizeof err), ES_ECONFIG);
	pwfile(p, "12345678", 0600);
	ASSERT_ERR(rmail_password_read(p, small, sizeof small, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "longer than 7 bytes"));
	pwfile(p, "1234567\n", 0600);
	ASSERT_OK(rmail_password_read(p, small, sizeof small, err, sizeof err));
	ASSERT_STREQ(small, "1234567");
	ASSERT(chmod(unit_tmpdir(), 0700) == 0);
	ASSERT_ERR(rmail_password_read(unit_tmpdir(), pw, sizeof pw, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "not a regular file"));
	ASSERT_ERR(rmail_password_read(unit_tmp("absent"), pw, sizeof pw, err, sizeof err), -ENOENT);
	ASSERT(strstr(err, "cannot be read"));
}

/* Decodes one "=?UTF-8?B?...?=" word onto out. */
static void decode_word(const char *w, size_t len, char *out)
{
	unsigned char buf[128];
	int n;

	ASSERT(len <= 75);
	ASSERT(len > 12 && strncmp(w, "=?UTF-8?B?", 10) == 0 && strncmp(w + len - 2, "?=", 2) == 0);
	n = EVP_DecodeBlock(buf, (const unsigned char *)w + 10, (int)(len - 12));
	ASSERT(n >= 0);
	/* EVP_DecodeBlock counts the padding's bytes as zeros. */
	for (size_t p = len - 3; w[p] == '='; p--)
		n--;
	strncat(out, (const char *)buf, (size_t)n);
}

TEST(rmail_subject_rfc2047)
{
	char out[2048], back[2048] = "";

	ASSERT_OK(rmail_subject("EIDA statistics, January 2025: node GFZ", out, sizeof out));
	ASSERT_STREQ(out, "EIDA statistics, January 2025: node GFZ");
	/* Header injection: control characters become '?'. */
	ASSERT_OK(rmail_subject("node X\r\nBcc: e@v.il", out, sizeof out));
	ASSERT_STREQ(out, "node X??Bcc: e@v.il");

	/* Non-ASCII: encoded words that decode to the text, none over 75 bytes,
	 * no UTF-8 sequence split (each word decodes to valid UTF-8 alone). */
	const char *text = "EIDA statistics, January 2025: node \xc3\x89\xc3\xa9\xc3\xa8 "
	                   "r\xc3\xa9seau \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac "
	                   "\xf0\x9f\x8c\x8d and a rather long tail to need several words";
	ASSERT_OK(rmail_subject(text, out, sizeof out));
	size_t words = 0;
	for (char *p = out; *p;) {
		size_t len = strcspn(p, " ");
		char one[256] = "";
		decode_word(p, len, one);
		ASSERT(utf8_valid(one, strlen(one)));
		strcat(back, one);
		words++;
		p += len;
		if (*p == ' ')
			p++;
	}
	ASSERT(words >= 3);
	ASSERT_STREQ(back, text);

	/* Invalid UTF-8 becomes U+FFFD, C1 controls '?'. */
	ASSERT_OK(rmail_subject("a\xff" "b\xc2\x85", out, sizeof out));
	back[0] = '\0';
	decode_word(out, strlen(out), back);
	ASSERT_STREQ(back, "a\xef\xbf\xbd" "b?");

	/* Does not fit. */
	ASSERT_ERR(rmail_subject("\xc3\xa9\xc3\xa9\xc3\xa9", out, 12), ES_ELIMIT);
	ASSERT_ERR(rmail_subject("abcdef", out, 6), ES_ELIMIT);
}

TEST(rmail_date_rfc5322)
{
	char d[32];

	rmail_date(END_2025_01, d);
	ASSERT_STREQ(d, "Sat, 01 Feb 2025 00:00:00 +0000");
	rmail_date(1796065200, d);
	ASSERT_STREQ(d, "Mon, 30 Nov 2026 19:00:00 +0000");
}

TEST(rmail_check_settings)
{
	const char *fed[] = { "board@eida.example", "bad address" };
	struct rmail_opts o = { .dir = "/nonexistent", .smtp_url = "smtp://mail.example.org:587",
	                        .smtp_from = "stats@eida.example", .mail_delay = -1 };
	char err[512];
	const char *p = unit_tmp("pw");

	ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
	ASSERT_OK(rmail_check(&o, err, sizeof err));
	o.smtp_url = "smtps://[::1]:465";
	ASSERT_OK(rmail_check(&o, err, sizeof err));

	o.smtp_url = "http://mail.example.org";
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "smtp or smtps"));
	o.smtp_url = "smtp://user:pw@mail.example.org";
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "smtp_password_file"));
	o.smtp_url = "";
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	o.smtp_url = NULL;
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	o.smtp_url = "smtp://127.0.0.1:2525";

	o.smtp_from = "two@a.example, three@b.example";
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "smtp_from"));
	o.smtp_from = NULL;
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	o.smtp_from = "stats@eida.example";

	o.federation_to = fed;
	o.n_federation_to = 1;
	ASSERT_OK(rmail_check(&o, err, sizeof err));
	o.n_federation_to = 2;
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "federation_to") && strstr(err, "bad"));
	o.n_federation_to = 0;

	o.smtp_user = "stats";
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "smtp_password_file is needed"));
	o.smtp_password_file = p;
	pwfile(p, "pw\n", 0644);
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "readable"));
	pwfile(p, "pw\n", 0600);
	ASSERT_OK(rmail_check(&o, err, sizeof err));
	o.smtp_user = NULL;
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "smtp_user is not"));
	o.smtp_password_file = NULL;

	o.mail_delay = 400 * DAY;
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	o.mail_delay = 0;
	o.dir = NULL;
	ASSERT_ERR(rmail_check(&o, err, sizeof err), ES_ECONFIG);
	curl_global_cleanup();
}
