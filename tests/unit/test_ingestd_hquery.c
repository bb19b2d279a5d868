#include "config.h"

#include "ingestd/hquery.h"
#include "unit.h"

static int parse(struct hquery *q, const char *text, char *err, size_t errlen)
{
	hquery_init(q);
	return hquery_parse(q, text, strlen(text), err, errlen);
}

TEST(ingestd_hquery_decoding)
{
	struct hquery q;
	char err[160];

	ASSERT_OK(parse(&q, "net=FR&sta=CI%45L&loc=%2a%2A&text=a+b%20c&empty=&flag&&x=%C3%A9=y", err,
	                sizeof err));
	ASSERT_EQ(q.n, 7);
	ASSERT_STREQ(hquery_get(&q, "net", NULL), "FR");
	ASSERT_STREQ(hquery_get(&q, "sta", NULL), "CIEL");
	ASSERT_STREQ(hquery_get(&q, "loc", NULL), "**");
	ASSERT_STREQ(hquery_get(&q, "text", NULL), "a b c");
	ASSERT_STREQ(hquery_get(&q, "empty", NULL), "");
	ASSERT_STREQ(hquery_get(&q, "flag", NULL), "");
	/* Only the first '=' separates; UTF-8 bytes pass through. */
	ASSERT_STREQ(hquery_get(&q, "x", NULL), "\xC3\xA9=y");
	ASSERT(hquery_get(&q, "absent", NULL) == NULL);
	hquery_fini(&q);

	/* Names are decoded too. */
	ASSERT_OK(parse(&q, "a%20b=1&c+d=2", err, sizeof err));
	ASSERT_STREQ(hquery_get(&q, "a b", NULL), "1");
	ASSERT_STREQ(hquery_get(&q, "c d", NULL), "2");
	hquery_fini(&q);

	ASSERT_OK(parse(&q, "", err, sizeof err));
	ASSERT_EQ(q.n, 0);
	hquery_fini(&q);
}

TEST(ingestd_hquery_repeats_in_order)
{
	struct hquery q;
	char err[160];
	size_t pos = 0;

	ASSERT_OK(parse(&q, "net=FR&sta=A&net=CH&net=GE", err, sizeof err));
	ASSERT_EQ(hquery_count(&q, "net"), 3);
	ASSERT_EQ(hquery_count(&q, "sta"), 1);
	ASSERT_STREQ(hquery_get(&q, "net", &pos), "FR");
	ASSERT_STREQ(hquery_get(&q, "net", &pos), "CH");
	ASSERT_STREQ(hquery_get(&q, "net", &pos), "GE");
	ASSERT(hquery_get(&q, "net", &pos) == NULL);
	ASSERT_STREQ(q.v[1].name, "sta");
	hquery_fini(&q);
}

TEST(ingestd_hquery_bad_escapes)
{
	static const char *const bad[] = {
		"a=%", "a=%4", "a=%G1", "a=%4g", "a=b%", "%zz=1", "a=%00", "a=x%0", "a=%%41",
	};
	struct hquery q;
	char err[160];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(&q, bad[i], err, sizeof err);
		if (rc != ES_EFORMAT || !err[0])
			unit_fail(__FILE__, __LINE__, "'%s': rc %d '%s'", bad[i], rc, err);
		hquery_fini(&q);
	}
	ASSERT_ERR(parse(&q, "a=%zz", err, sizeof err), ES_EFORMAT);
	ASSERT(strstr(err, "invalid percent escape at '%zz'") != NULL);
	hquery_fini(&q);
	/* An escape cut by the end of the given length is invalid, whatever follows in memory. */
	hquery_init(&q);
	ASSERT_ERR(hquery_parse(&q, "a=%41", 4, err, sizeof err), ES_EFORMAT);
	hquery_fini(&q);
}

TEST(ingestd_hquery_limits)
{
	struct hquery q;
	char err[160];
	char *text = malloc(HQUERY_MAX_LEN + 2);
	size_t n = 0;

	ASSERT(text != NULL);
	/* HQUERY_MAX_PARAMS parameters pass, one more does not. */
	for (int i = 0; i < HQUERY_MAX_PARAMS; i++)
		n += (size_t)sprintf(text + n, "%sa=1", i ? "&" : "");
	ASSERT_OK(parse(&q, text, err, sizeof err));
	ASSERT_EQ(q.n, HQUERY_MAX_PARAMS);
	hquery_fini(&q);
	strcpy(text + n, "&b=2");
	ASSERT_ERR(parse(&q, text, err, sizeof err), ES_ELIMIT);
	ASSERT(strstr(err, "parameters") != NULL);
	hquery_fini(&q);

	/* A value of HQUERY_MAX_ITEM bytes passes, one more does not. */
	memcpy(text, "v=", 2);
	memset(text + 2, 'x', HQUERY_MAX_ITEM + 1);
	text[2 + HQUERY_MAX_ITEM] = '\0';
	ASSERT_OK(parse(&q, text, err, sizeof err));
	hquery_fini(&q);
	text[2 + HQUERY_MAX_ITEM] = 'x';
	text[3 + HQUERY_MAX_ITEM] = '\0';
	ASSERT_ERR(parse(&q, text, err, sizeof err), ES_ELIMIT);
	hquery_fini(&q);

	/* The whole query string. */
	memset(text, 'x', HQUERY_MAX_LEN + 1);
	text[HQUERY_MAX_LEN + 1] = '\0';
	ASSERT_ERR(parse(&q, text, err, sizeof err), ES_ELIMIT);
	ASSERT(strstr(err, "longer than") != NULL);
	hquery_fini(&q);
	free(text);
}
