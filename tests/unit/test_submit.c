#include "config.h"

#include <cjson/cJSON.h>
#include <zlib.h>

#include "hll.h"
#include "mem.h"
#include "submit.h"
#include "unit.h"

/* Replaces each `from` in text by `to`; returns a new string. */
static char *replace_all(const char *text, const char *from, const char *to)
{
	size_t nf = strlen(from), nt = strlen(to), count = 0, len = strlen(text);
	const char *p;
	char *out, *o;

	for (p = text; (p = strstr(p, from)) != NULL; p += nf)
		count++;
	out = o = es_malloc(len + count * nt + 1);
	while ((p = strstr(text, from)) != NULL) {
		memcpy(o, text, (size_t)(p - text));
		o += p - text;
		memcpy(o, to, nt);
		o += nt;
		text = p + nf;
	}
	strcpy(o, text);
	return out;
}

/* Reads a whole file; replaces the golden placeholders by real values. */
static char *load(const char *rel, size_t *len)
{
	const char *path = unit_data(rel);
	FILE *f = fopen(path, "rb");
	char *buf, *a, *b;
	long n;

	if (!f)
		unit_fail(__FILE__, __LINE__, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = es_malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		unit_fail(__FILE__, __LINE__, "cannot read %s", path);
	fclose(f);
	buf[n] = '\0';
	a = replace_all(buf, "\"GENERATED_AT\"", "\"2026-11-28 12:00:00\"");
	b = replace_all(a, "\"VERSION\"", "\"0.1.0\"");
	free(buf);
	free(a);
	*len = strlen(b);
	return b;
}

static int parse_text(struct submit_payload *p, const char *text, char *err, size_t errlen)
{
	return submit_parse(p, text, strlen(text), NULL, err, errlen);
}

static const char *str_or_empty(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int key_cmp(const struct submit_row *r, const cJSON *stat)
{
	const char *country = str_or_empty(stat, "country");
	int c;

	/* The golden countries are all two ASCII letters, "" or null. */
	if (strlen(country) != 2)
		country = "";
	if ((c = strcmp(r->date, str_or_empty(stat, "month"))) != 0 ||
	    (c = strcmp(r->network, str_or_empty(stat, "network"))) != 0 ||
	    (c = strcmp(r->station, str_or_empty(stat, "station"))) != 0 ||
	    (c = strcmp(r->location, str_or_empty(stat, "location"))) != 0 ||
	    (c = strcmp(r->channel, str_or_empty(stat, "channel"))) != 0)
		return c;
	return strcmp(r->country, country);
}

/* Binary search: the rows are sorted by key. */
static size_t find_row(const struct submit_payload *p, const cJSON *stat)
{
	size_t lo = 0, hi = p->nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&p->rows[mid], stat);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	unit_fail(__FILE__, __LINE__, "no row for the stat of %s %s", str_or_empty(stat, "network"),
	          str_or_empty(stat, "station"));
}

struct sums {
	int64_t bytes, reqs, ok, failed;
	hll_t clients;
};

/*
 * Checks a golden payload against the parsed rows, using cJSON as the
 * independent reader: each row's counters are the sums, and its HLL the
 * union, of the stats with its key (null and "" countries share one).
 */
static void check_against_cjson(const char *rel)
{
	struct submit_payload p;
	char err[256];
	size_t len;
	char *text = load(rel, &len);
	cJSON *root = cJSON_Parse(text);
	const cJSON *stats = cJSON_GetObjectItemCaseSensitive(root, "stats"), *stat;
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(root, "days_coverage");
	struct sums *sums;

	ASSERT(root && cJSON_IsArray(stats));
	submit_init(&p);
	ASSERT_OK(submit_parse(&p, text, len, NULL, err, sizeof err));
	ASSERT_EQ(p.nstats, cJSON_GetArraySize(stats));
	ASSERT_EQ(p.ndays, cJSON_GetArraySize(days));
	ASSERT(p.nrows > 0);
	for (size_t i = 1; i < p.nrows; i++)
		ASSERT(strcmp(p.rows[i - 1].date, p.rows[i].date) <= 0);
	sums = es_calloc(p.nrows, sizeof sums[0]);
	for (size_t i = 0; i < p.nrows; i++)
		hll_init(&sums[i].clients);
	cJSON_ArrayForEach(stat, stats) {
		struct sums *s = &sums[find_row(&p, stat)];
		const char *clients = str_or_empty(stat, "clients");
		hll_t h;

		s->bytes += (int64_t)cJSON_GetObjectItemCaseSensitive(stat, "bytes")->valuedouble;
		s->reqs += cJSON_GetObjectItemCaseSensitive(stat, "nb_requests")->valueint;
		s->ok += cJSON_GetObjectItemCaseSensitive(stat, "nb_successful_requests")->valueint;
		s->failed += cJSON_GetObjectItemCaseSensitive(stat, "nb_unsuccessful_requests")->valueint;
		hll_init(&h);
		ASSERT_OK(hll_parse_hex(&h, clients, strlen(clients), NULL));
		hll_union(&s->clients, &h);
		hll_fini(&h);
	}
	for (size_t i = 0; i < p.nrows; i++) {
		const struct submit_row *r = &p.rows[i];
		uint8_t want[HLL_MAX_BYTES], have[HLL_MAX_BYTES];
		size_t n = hll_serialize(&sums[i].clients, want);

		ASSERT_EQ(r->bytes, sums[i].bytes);
		ASSERT_EQ(r->nb_reqs, sums[i].reqs);
		ASSERT_EQ(r->nb_successful, sums[i].ok);
		ASSERT_EQ(r->nb_failed, sums[i].failed);
		ASSERT_EQ(hll_serialize(&r->clients, have), n);
		ASSERT_MEMEQ(have, want, n);
		hll_fini(&sums[i].clients);
	}
	free(sums);
	submit_fini(&p);
	ASSERT_EQ(p.nrows, 0);
	cJSON_Delete(root);
	free(text);
}

TEST(submit_upstream_raw_output)
{
	check_against_cjson("upstream-sample/upstream-raw-output.json");
}

TEST(submit_null_country_raw_output)
{
	/* Upstream's own bytes: a null country, a control character and an emoji in a station. */
	struct submit_payload p;
	char err[256];
	size_t len;
	char *text = load("null-country/upstream-raw-output.json", &len);

	check_against_cjson("null-country/upstream-raw-output.json");
	/* Its null and "" countries of one stream are one row, as the database stores them. */
	submit_init(&p);
	ASSERT_OK(submit_parse(&p, text, len, NULL, err, sizeof err));
	ASSERT_EQ(p.nstats, 4);
	ASSERT(p.nrows < p.nstats);
	submit_fini(&p);
	free(text);
}

TEST(submit_golden_expected)
{
	check_against_cjson("edge-cases/expected.json");
	check_against_cjson("hll-edges/expected.json");
	check_against_cjson("synthetic-small/expected.json");
}

/* Serializes a cJSON tree and returns the digest of its parse. */
static void digest_of(cJSON *root, uint8_t out[SUBMIT_DIGEST_LEN])
{
	struct submit_payload p;
	char err[256];
	char *text = cJSON_PrintUnformatted(root);

	submit_init(&p);
	ASSERT_OK(parse_text(&p, text, err, sizeof err));
	memcpy(out, p.digest, SUBMIT_DIGEST_LEN);
	submit_fini(&p);
	free(text);
}

TEST(submit_digest_ignores_order_and_metadata)
{
	size_t len;
	char *text = load("upstream-sample/upstream-raw-output.json", &len);
	cJSON *root = cJSON_Parse(text);
	cJSON *stats = cJSON_GetObjectItemCaseSensitive(root, "stats");
	cJSON *reversed = cJSON_CreateArray();
	uint8_t a[SUBMIT_DIGEST_LEN], b[SUBMIT_DIGEST_LEN];
	int n = cJSON_GetArraySize(stats);

	digest_of(root, a);
	for (int i = n - 1; i >= 0; i--)
		cJSON_AddItemToArray(reversed, cJSON_Duplicate(cJSON_GetArrayItem(stats, i), 1));
	cJSON_ReplaceItemInObjectCaseSensitive(root, "stats", reversed);
	cJSON_ReplaceItemInObjectCaseSensitive(root, "generated_at", cJSON_CreateString("2030-01-01 00:00:00"));
	cJSON_ReplaceItemInObjectCaseSensitive(root, "version", cJSON_CreateString("other"));
	cJSON_DeleteItemFromObjectCaseSensitive(root, "aggregation_score");
	digest_of(root, b);
	ASSERT_MEMEQ(a, b, SUBMIT_DIGEST_LEN);

	/* Another coverage day is another payload. */
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(root, "days_coverage"),
	                     cJSON_CreateString("2020-09-19"));
	digest_of(root, b);
	ASSERT(memcmp(a, b, SUBMIT_DIGEST_LEN) != 0);
	cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(root, "days_coverage"), 1);
	digest_of(root, b);
	ASSERT_MEMEQ(a, b, SUBMIT_DIGEST_LEN);

	/* One byte more in one statistic is another payload. */
	cJSON *first = cJSON_GetArrayItem(reversed, 0);
	cJSON *bytes = cJSON_GetObjectItemCaseSensitive(first, "bytes");
	cJSON_SetNumberValue(bytes, bytes->valuedouble + 1);
	digest_of(root, b);
	ASSERT(memcmp(a, b, SUBMIT_DIGEST_LEN) != 0);
	cJSON_Delete(root);
	free(text);
}

#define ONE "\\\\x128B7F0000000047198F26"       /* one client, 1111111111 */
#define OTHER "\\\\x128B7FFFFFFFFFBC818ACA"     /* one client, 589198147 */

#define STAT(country, extra) "{\"month\": \"2024-10-01\", \"network\": \"FR\", \"station\": \"CIEL\", " \
	"\"location\": \"00\", \"channel\": \"HHZ\", " country "\"bytes\": 10, " extra "\"clients\": \"" ONE "\"}"
#define PAYLOAD(stats) "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"0.8.0\", " \
	"\"days_coverage\": [\"2024-10-02\", \"2024-10-01\", \"2024-10-02\"], \"stats\": [" stats "]}"

TEST(submit_normalises_like_upstream)
{
	struct submit_payload p;
	char err[256];

	submit_init(&p);
	ASSERT_OK(parse_text(&p, PAYLOAD(STAT("\"country\": \"FR\", ",
	                                      "\"nb_successful_requests\": 3, ")), err, sizeof err));
	ASSERT_EQ(p.nrows, 1);
	ASSERT_STREQ(p.rows[0].country, "FR");
	/* Missing nb_unsuccessful_requests is 0, missing nb_requests is the sum. */
	ASSERT_EQ(p.rows[0].nb_failed, 0);
	ASSERT_EQ(p.rows[0].nb_reqs, 3);
	ASSERT_EQ(p.ndays, 2);
	ASSERT_STREQ(p.days[0], "2024-10-01");
	ASSERT_STREQ(p.days[1], "2024-10-02");
	ASSERT_STREQ(p.version, "0.8.0");
	ASSERT_STREQ(p.generated_at, "2026-11-28 22:27:27");
	submit_fini(&p);

	ASSERT_OK(parse_text(&p, PAYLOAD(STAT("\"country\": null, ",
	                                      "\"nb_requests\": null, \"nb_successful_requests\": 3, "
	                                      "\"nb_unsuccessful_requests\": 4, ")), err, sizeof err));
	ASSERT_STREQ(p.rows[0].country, "");
	ASSERT_EQ(p.rows[0].nb_reqs, 7);
	ASSERT_EQ(p.rows[0].nb_failed, 4);
	submit_fini(&p);

	/* Odd countries become "": too long, too short, quotes, non-ASCII, missing. */
	static const char *const odd[] = {
		"\"country\": \"FRA\", ", "\"country\": \"F\", ", "\"country\": \"'\\\"\", ",
		"\"country\": \"\\u00c9S\", ", "\"country\": \"\", ", "",
	};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		char text[1024];
		snprintf(text, sizeof text,
		         "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"0.8.0\", "
		         "\"days_coverage\": [], \"stats\": [{\"month\": \"2024-10-01\", \"network\": \"FR\", "
		         "\"station\": \"CIEL\", \"location\": \"\", \"channel\": \"HHZ\", %s\"bytes\": 1, "
		         "\"nb_successful_requests\": 1, \"clients\": \"%s\"}]}", odd[i], "\\\\x128B7F0000000047198F26");
		ASSERT_OK(parse_text(&p, text, err, sizeof err));
		ASSERT_STREQ(p.rows[0].country, "");
		submit_fini(&p);
	}
}

TEST(submit_merges_rows_that_collide)
{
	struct submit_payload p;
	char err[256];
	hll_t want;
	const char *text = PAYLOAD(
		STAT("\"country\": null, ", "\"nb_requests\": 2, \"nb_successful_requests\": 2, ") ", "
		"{\"month\": \"2024-10-01\", \"network\": \"FR\", \"station\": \"CIEL\", \"location\": \"00\", "
		"\"channel\": \"HHZ\", \"country\": \"\", \"bytes\": 5, \"nb_requests\": 1, "
		"\"nb_successful_requests\": 0, \"nb_unsuccessful_requests\": 1, \"clients\": \"" OTHER "\"}, "
		STAT("\"country\": \"DE\", ", "\"nb_successful_requests\": 1, "));

	submit_init(&p);
	ASSERT_OK(parse_text(&p, text, err, sizeof err));
	ASSERT_EQ(p.nstats, 3);
	ASSERT_EQ(p.nrows, 2);
	/* Sorted by key: "" before "DE". */
	ASSERT_STREQ(p.rows[0].country, "");
	ASSERT_EQ(p.rows[0].bytes, 15);
	ASSERT_EQ(p.rows[0].nb_reqs, 3);
	ASSERT_EQ(p.rows[0].nb_successful, 2);
	ASSERT_EQ(p.rows[0].nb_failed, 1);
	ASSERT_EQ(p.rows[0].stat_index, 0);
	hll_init(&want);
	hll_add_raw(&want, hll_client_raw("1111111111", 10));
	hll_add_raw(&want, hll_client_raw("589198147", 9));
	ASSERT_EQ(hll_cardinality(&p.rows[0].clients), 2);
	uint8_t a[HLL_MAX_BYTES], b[HLL_MAX_BYTES];
	size_t n = hll_serialize(&want, a);
	ASSERT_EQ(hll_serialize(&p.rows[0].clients, b), n);
	ASSERT_MEMEQ(a, b, n);
	hll_fini(&want);
	ASSERT_STREQ(p.rows[1].country, "DE");
	ASSERT_EQ(p.rows[1].stat_index, 2);
	submit_fini(&p);
}

TEST(submit_codes_count_characters)
{
	struct submit_payload p;
	char err[256];

	submit_init(&p);
	/* Five characters, nine bytes: fits varchar(5). */
	ASSERT_OK(parse_text(&p, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", "
	                         "\"days_coverage\": [], \"stats\": [{\"month\": \"2024-10-01\", "
	                         "\"network\": \"N'\\\\;\", \"station\": \"C\\u0001\\u00e9\\ud83d\\ude00\", "
	                         "\"location\": \"--\", \"channel\": \"\", \"bytes\": 0, "
	                         "\"nb_successful_requests\": 0, \"clients\": \"" ONE "\"}]}",
	                     err, sizeof err));
	ASSERT_STREQ(p.rows[0].station, "C\x01\xc3\xa9\xf0\x9f\x98\x80");
	ASSERT_STREQ(p.rows[0].network, "N'\\;");
	submit_fini(&p);
	/* Six characters are too many for a station. */
	ASSERT_ERR(parse_text(&p, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", "
	                          "\"days_coverage\": [], \"stats\": [{\"month\": \"2024-10-01\", "
	                          "\"network\": \"N\", \"station\": \"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\", "
	                          "\"location\": \"\", \"channel\": \"\", \"bytes\": 0, "
	                          "\"nb_successful_requests\": 0, \"clients\": \"" ONE "\"}]}",
	                      err, sizeof err), ES_EFORMAT);
	ASSERT_STREQ(err, "stats[0].station: longer than 5 characters");
	ASSERT_EQ(p.nrows, 0);
}

/* A payload with one stat whose fields are given by `fields`. */
static int parse_stat_fields(const char *fields, char *err, size_t errlen)
{
	struct submit_payload p;
	char text[8192];
	int rc;

	snprintf(text, sizeof text,
	         "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"0.8.0\", \"days_coverage\": "
	         "[\"2024-10-01\"], \"stats\": [" STAT("\"country\": \"FR\", ", "\"nb_successful_requests\": 1, ")
	         ", {%s}]}", fields);
	submit_init(&p);
	rc = parse_text(&p, text, err, errlen);
	if (rc < 0) {
		ASSERT_EQ(p.nrows, 0);
		ASSERT_EQ(p.ndays, 0);
	}
	submit_fini(&p);
	return rc;
}

#define GOOD_MONTH "\"month\": \"2024-10-01\", "
#define GOOD_CODES "\"network\": \"FR\", \"station\": \"CIEL\", \"location\": \"\", \"channel\": \"HHZ\", "
#define GOOD_COUNTS "\"bytes\": 1, \"nb_successful_requests\": 1, "
#define GOOD_CLIENTS "\"clients\": \"" ONE "\""

TEST(submit_rejects_bad_stats_naming_stat_and_field)
{
	static const struct { const char *fields, *message; } cases[] = {
		{ GOOD_CODES GOOD_COUNTS GOOD_CLIENTS, "stats[1].month: missing" },
		{ GOOD_MONTH GOOD_COUNTS GOOD_CLIENTS, "stats[1].network: missing" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 1, \"nb_successful_requests\": 1", "stats[1].clients: missing" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 1, " GOOD_CLIENTS, "stats[1].nb_successful_requests: missing" },
		{ "\"month\": \"2024-13-01\", " GOOD_CODES GOOD_COUNTS GOOD_CLIENTS, "stats[1].month: not a date YYYY-MM-DD" },
		{ "\"month\": \"2023-02-29\", " GOOD_CODES GOOD_COUNTS GOOD_CLIENTS, "stats[1].month: not a date YYYY-MM-DD" },
		{ "\"month\": \"2024-10\", " GOOD_CODES GOOD_COUNTS GOOD_CLIENTS, "stats[1].month: not a date YYYY-MM-DD" },
		{ "\"month\": 20241001, " GOOD_CODES GOOD_COUNTS GOOD_CLIENTS, "stats[1].month: a number, not a string" },
		{ GOOD_MONTH "\"network\": \"X');DR\", \"station\": \"A\", \"location\": \"\", \"channel\": \"\", "
		  GOOD_COUNTS GOOD_CLIENTS, NULL },
		{ GOOD_MONTH "\"network\": \"X');DROP TABLE nodes;--\", \"station\": \"A\", \"location\": \"\", "
		  "\"channel\": \"\", " GOOD_COUNTS GOOD_CLIENTS, "stats[1].network: longer than 6 characters" },
		{ GOOD_MONTH "\"network\": \"FR\", \"station\": \"CIEL'\\\"\", \"location\": \"\", \"channel\": \"\", "
		  GOOD_COUNTS GOOD_CLIENTS, "stats[1].station: longer than 5 characters" },
		{ GOOD_MONTH "\"network\": \"FR\", \"station\": \"A\", \"location\": \"000\", \"channel\": \"\", "
		  GOOD_COUNTS GOOD_CLIENTS, "stats[1].location: longer than 2 characters" },
		{ GOOD_MONTH "\"network\": \"FR\", \"station\": \"A\", \"location\": \"\", \"channel\": \"HHZZ\", "
		  GOOD_COUNTS GOOD_CLIENTS, "stats[1].channel: longer than 3 characters" },
		{ GOOD_MONTH "\"network\": \"FR\", \"station\": \"A\\u0000\", \"location\": \"\", \"channel\": \"\", "
		  GOOD_COUNTS GOOD_CLIENTS, "stats[1].station: contains a NUL character" },
		{ GOOD_MONTH "\"network\": null, \"station\": \"A\", \"location\": \"\", \"channel\": \"\", "
		  GOOD_COUNTS GOOD_CLIENTS, "stats[1].network: null, not a string" },
		{ GOOD_MONTH GOOD_CODES "\"country\": 33, " GOOD_COUNTS GOOD_CLIENTS,
		  "stats[1].country: a number, not a string or null" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": -1, \"nb_successful_requests\": 1, " GOOD_CLIENTS,
		  "stats[1].bytes: negative" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 1.5, \"nb_successful_requests\": 1, " GOOD_CLIENTS,
		  "stats[1].bytes: not an integer" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": \"1\", \"nb_successful_requests\": 1, " GOOD_CLIENTS,
		  "stats[1].bytes: a string, not an integer" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 9223372036854775808, \"nb_successful_requests\": 1, " GOOD_CLIENTS,
		  "stats[1].bytes: larger than 9223372036854775807" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 1, \"nb_successful_requests\": 2147483648, " GOOD_CLIENTS,
		  "stats[1].nb_successful_requests: larger than 2147483647" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 1, \"nb_successful_requests\": null, " GOOD_CLIENTS,
		  "stats[1].nb_successful_requests: null, not an integer" },
		{ GOOD_MONTH GOOD_CODES "\"bytes\": 1, \"nb_successful_requests\": 2147483647, "
		  "\"nb_unsuccessful_requests\": 1, " GOOD_CLIENTS,
		  "stats[1].nb_requests: successful + unsuccessful is larger than 2147483647" },
		{ GOOD_MONTH GOOD_CODES GOOD_COUNTS "\"clients\": \"128B7F0000000047198F26\"",
		  "stats[1].clients: not \\x followed by hex digits" },
		{ GOOD_MONTH GOOD_CODES GOOD_COUNTS "\"clients\": \"\\\\x128B7F00000000471\"", NULL },
		{ GOOD_MONTH GOOD_CODES GOOD_COUNTS "\"clients\": \"\\\\x128C7F0000000047198F26\"", NULL },
		{ GOOD_MONTH GOOD_CODES GOOD_COUNTS "\"clients\": \"\\\\xZZ\"", NULL },
		{ GOOD_MONTH GOOD_CODES GOOD_COUNTS "\"clients\": 5", "stats[1].clients: a number, not a string" },
		{ GOOD_MONTH GOOD_CODES GOOD_COUNTS GOOD_CLIENTS ", \"bytes\": 2", "stats[1].bytes: given twice" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[256];
		int rc = parse_stat_fields(cases[i].fields, err, sizeof err);
		if (!cases[i].message) {
			/* The SQL-looking network fits its column: it is data, not an error. */
			if (strstr(cases[i].fields, "X');DR\""))
				ASSERT_OK(rc);
			else if (rc != ES_EFORMAT || strncmp(err, "stats[1].clients: not valid hll(11,5) bytes", 43) != 0)
				unit_fail(__FILE__, __LINE__, "case %zu: %d \"%s\"", i, rc, err);
			continue;
		}
		if (rc != ES_EFORMAT || strcmp(err, cases[i].message) != 0)
			unit_fail(__FILE__, __LINE__, "case %zu: %d \"%s\", expected \"%s\"", i, rc, err,
			          cases[i].message);
	}
}

TEST(submit_rejects_bad_payloads)
{
	static const struct { const char *text, *message; } cases[] = {
		{ "", "the body is empty" },
		{ "[]", "the payload is an array, not an object" },
		{ "\x1f\x8b\x08", "invalid JSON at byte 0: unexpected character" },
		{ "{\"version\": \"v\", \"days_coverage\": [], \"stats\": []}", "generated_at: missing" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"days_coverage\": [], \"stats\": []}", "version: missing" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"stats\": []}", "days_coverage: missing" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": []}", "stats: missing" },
		{ "{\"generated_at\": \"2026-11-28\", \"version\": \"v\", \"days_coverage\": [], \"stats\": []}",
		  "generated_at: not a time YYYY-MM-DD HH:MM:SS" },
		{ "{\"generated_at\": \"2026-11-28 25:00:00\", \"version\": \"v\", \"days_coverage\": [], \"stats\": []}",
		  "generated_at: not a time YYYY-MM-DD HH:MM:SS" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"123456789012345678901234567890123\", "
		  "\"days_coverage\": [], \"stats\": []}", "version: longer than 32 characters" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [\"2024-1-1\"], "
		  "\"stats\": []}", "days_coverage[0]: not a date YYYY-MM-DD" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": {}, "
		  "\"stats\": []}", "days_coverage: an object, not an array" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
		  "\"stats\": {}}", "stats: an object, not an array" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
		  "\"stats\": [1]}", "stats[0]: a number, not an object" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"version\": \"w\", "
		  "\"days_coverage\": [], \"stats\": []}", "version: given twice" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
		  "\"stats\": []} x", "invalid JSON at byte 90: text after the payload" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
		  "\"stats\": [", "invalid JSON at byte 87: unexpected end of input" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\xff\", \"days_coverage\": [], "
		  "\"stats\": []}", "invalid JSON at byte 53: invalid UTF-8" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"\\ud800\", \"days_coverage\": [], "
		  "\"stats\": []}", "invalid JSON at byte 58: unpaired UTF-16 surrogate" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"a\tb\", \"days_coverage\": [], "
		  "\"stats\": []}", "invalid JSON at byte 53: control character inside a string" },
		{ "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
		  "\"stats\": [], \"x\": NaN}", "invalid JSON at byte 95: unexpected character" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct submit_payload p;
		char err[256];
		int rc;

		submit_init(&p);
		rc = parse_text(&p, cases[i].text, err, sizeof err);
		if (rc != ES_EFORMAT || strcmp(err, cases[i].message) != 0)
			unit_fail(__FILE__, __LINE__, "case %zu: %d \"%s\", expected \"%s\"", i, rc, err,
			          cases[i].message);
		ASSERT_EQ(p.nrows, 0);
	}
}

TEST(submit_unknown_keys_are_skipped_with_bounded_depth)
{
	struct submit_payload p;
	char err[256], text[4096];
	char deep[1024];
	size_t n = 0;

	for (int i = 0; i < 60; i++)
		deep[n++] = '[';
	for (int i = 0; i < 60; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	snprintf(text, sizeof text,
	         "{\"extra\": {\"a\": [1, -2.5e3, true, false, null, \"\\u00e9\"]}, \"deep\": %s, "
	         "\"generated_at\": \"2026-11-28T22:27:27.123Z\", \"version\": \"v\", \"aggregation_score\": 3, "
	         "\"days_coverage\": [], \"stats\": []}", deep);
	submit_init(&p);
	ASSERT_OK(parse_text(&p, text, err, sizeof err));
	ASSERT_EQ(p.nrows, 0);
	submit_fini(&p);

	n = 0;
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	for (int i = 0; i < 100; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	snprintf(text, sizeof text, "{\"deep\": %s, \"generated_at\": \"2026-11-28 22:27:27\", "
	         "\"version\": \"v\", \"days_coverage\": [], \"stats\": []}", deep);
	ASSERT_ERR(parse_text(&p, text, err, sizeof err), ES_EFORMAT);
	ASSERT(strstr(err, "nesting too deep") != NULL);
}

TEST(submit_limits)
{
	struct submit_limits lim = { .max_stats = 2, .max_days = 1 };
	struct submit_payload p;
	char err[256];
	const char *three = PAYLOAD(STAT("", "\"nb_successful_requests\": 1, ") ", "
	                            STAT("", "\"nb_successful_requests\": 1, ") ", "
	                            STAT("", "\"nb_successful_requests\": 1, "));

	submit_init(&p);
	ASSERT_ERR(submit_parse(&p, three, strlen(three), &lim, err, sizeof err), ES_ELIMIT);
	ASSERT_EQ(p.nrows, 0);
	ASSERT_STREQ(err, "days_coverage: more than 1 days");
	lim.max_days = 3;
	ASSERT_ERR(submit_parse(&p, three, strlen(three), &lim, err, sizeof err), ES_ELIMIT);
	ASSERT_STREQ(err, "stats: more than 2 statistics");
	lim.max_stats = 3;
	ASSERT_OK(submit_parse(&p, three, strlen(three), &lim, err, sizeof err));
	/* Three stats with one key merge into one row whose counters are the sums. */
	ASSERT_EQ(p.nstats, 3);
	ASSERT_EQ(p.nrows, 1);
	ASSERT_EQ(p.rows[0].bytes, 30);
	submit_fini(&p);
}

/* gzip of data with zlib itself, as a client would send it. */
static unsigned char *gzip(const void *data, size_t len, size_t *outlen)
{
	z_stream zs;
	size_t cap = deflateBound(NULL, (uLong)len) + 64;
	unsigned char *out = es_malloc(cap);

	memset(&zs, 0, sizeof zs);
	ASSERT(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ASSERT(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

TEST(submit_gunzip)
{
	size_t len, zlen, outlen;
	char *text = load("upstream-sample/upstream-raw-output.json", &len);
	unsigned char *z = gzip(text, len, &zlen);
	char *out;

	ASSERT_OK(submit_gunzip(z, zlen, len, &out, &outlen));
	ASSERT_EQ(outlen, len);
	ASSERT_MEMEQ(out, text, len);
	ASSERT_EQ(out[outlen], '\0');
	free(out);

	/* One byte less room than the text needs. */
	ASSERT_ERR(submit_gunzip(z, zlen, len - 1, &out, &outlen), ES_ELIMIT);
	ASSERT(out == NULL);
	ASSERT_ERR(submit_gunzip(z, zlen - 9, len, &out, &outlen), ES_ETRUNC);
	ASSERT_ERR(submit_gunzip(z, 0, len, &out, &outlen), ES_ETRUNC);
	ASSERT_ERR(submit_gunzip(text, len, len, &out, &outlen), ES_ECORRUPT);
	z[zlen - 5] ^= 0x55; /* the length field of the gzip trailer */
	ASSERT_ERR(submit_gunzip(z, zlen, len, &out, &outlen), ES_ECORRUPT);
	z[zlen - 5] ^= 0x55;
	z[zlen / 2] ^= 0xFF;
	ASSERT(submit_gunzip(z, zlen, len, &out, &outlen) < 0);
	free(z);

	/* Two members are one body, as gzip(1) reads them. */
	size_t alen, blen;
	unsigned char *a = gzip("{\"x\": ", 6, &alen), *b = gzip("1}", 2, &blen);
	unsigned char *both = es_malloc(alen + blen);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	ASSERT_OK(submit_gunzip(both, alen + blen, 100, &out, &outlen));
	ASSERT_STREQ(out, "{\"x\": 1}");
	free(out);
	free(a);
	free(b);
	free(both);
	free(text);
}

TEST(submit_gunzip_bomb_is_bounded)
{
	size_t big = 64u << 20, zlen, outlen;
	char *zeros = es_calloc(1, big);
	unsigned char *z = gzip(zeros, big, &zlen);
	char *out;

	free(zeros);
	/* About 1000:1: the bomb is small, and decoding stops at the limit. */
	ASSERT(zlen < big / 500);
	ASSERT_ERR(submit_gunzip(z, zlen, 1u << 20, &out, &outlen), ES_ELIMIT);
	ASSERT_OK(submit_gunzip(z, zlen, big, &out, &outlen));
	ASSERT_EQ(outlen, big);
	free(out);
	free(z);
}
