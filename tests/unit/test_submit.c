#include "config.h"

#include <cjson/cJSON.h>
#include <zlib.h>

#include "hll.h"
#include "jsonw.h"
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

/*
 * The string reader takes runs of plain bytes 8 at a time: every kind of
 * escape, raw UTF-8 and bad byte, at every offset of a 32-byte string, must
 * read (or fail, at the same byte) as one byte at a time would.
 */
TEST(submit_string_scan_at_every_offset)
{
	static const struct { const char *json, *text; } good[] = {
		{ "\\n", "\n" }, { "\\u00e9", "\xc3\xa9" }, { "\\ud83d\\ude00", "\xf0\x9f\x98\x80" },
		{ "\xc3\xa9", "\xc3\xa9" }, { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" }, { "\\\"", "\"" },
		{ "\\\\", "\\" }, { "\\/", "/" }, { "\x7f", "\x7f" }, { "~", "~" }, { " ", " " },
		{ "\\u0021", "!" },
	};
	/* Bad bytes, with the offset of the error from the bad byte. */
	static const struct { const char *json, *message; size_t at; } bad[] = {
		{ "\x01", "control character inside a string", 0 },
		{ "\x1f", "control character inside a string", 0 },
		{ "\xff", "invalid UTF-8", 0 },
		{ "\xc3(", "invalid UTF-8", 0 },
		{ "\x80", "invalid UTF-8", 0 },
		{ "\\q", "invalid escape", 1 },
		{ "\\udc00", "unpaired UTF-16 surrogate", 6 },
	};
	const char *head = "{\"version\": \"";
	const char *tail = "\", \"generated_at\": \"2026-11-28 22:27:27\", \"days_coverage\": [], \"stats\": []}";
	const size_t off = strlen(head);
	struct submit_payload p;
	char err[256], text[512], want[128], msg[128];

	submit_init(&p);
	for (size_t k = 0; k < 32; k++) {
		for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
			/* 32 characters: the longest version; one more is too long. */
			for (size_t extra = 0; extra < 2; extra++) {
				snprintf(want, sizeof want, "%.*s%s%.*s", (int)k, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				         good[i].text, (int)(31 - k + extra), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
				snprintf(text, sizeof text, "%s%.*s%s%.*s%s", head, (int)k,
				         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", good[i].json, (int)(31 - k + extra),
				         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", tail);
				int rc = parse_text(&p, text, err, sizeof err);
				if (extra == 0 && (rc != 0 || strcmp(p.version, want) != 0))
					unit_fail(__FILE__, __LINE__, "good %zu at %zu: %d \"%s\" \"%s\"", i, k, rc, err,
					          p.version);
				if (extra == 1 && (rc != ES_EFORMAT || strcmp(err, "version: longer than 32 characters") != 0))
					unit_fail(__FILE__, __LINE__, "good %zu at %zu, 33 characters: %d \"%s\"", i, k, rc, err);
				submit_fini(&p);
			}
			/* The same in a key, which is read without being stored. */
			snprintf(text, sizeof text, "{\"%.*s%s%.*s\": 1, \"version\": \"v\"%s", (int)k,
			         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", good[i].json, (int)(31 - k),
			         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", tail + 1);
			if (parse_text(&p, text, err, sizeof err) != 0)
				unit_fail(__FILE__, __LINE__, "good %zu at %zu in a key: \"%s\"", i, k, err);
			submit_fini(&p);
		}
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			snprintf(text, sizeof text, "%s%.*s%s%s", head, (int)k, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			         bad[i].json, tail);
			snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", off + k + bad[i].at, bad[i].message);
			if (parse_text(&p, text, err, sizeof err) != ES_EFORMAT || strcmp(err, msg) != 0)
				unit_fail(__FILE__, __LINE__, "bad %zu at %zu: \"%s\", expected \"%s\"", i, k, err, msg);
			ASSERT_EQ(p.nrows, 0);
			/* In a key, 2 bytes earlier. */
			snprintf(text, sizeof text, "{\"%.*s%s\": 1%s", (int)k, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			         bad[i].json, tail + 1);
			snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", 2 + k + bad[i].at, bad[i].message);
			if (parse_text(&p, text, err, sizeof err) != ES_EFORMAT || strcmp(err, msg) != 0)
				unit_fail(__FILE__, __LINE__, "bad %zu at %zu in a key: \"%s\", expected \"%s\"", i, k, err,
				          msg);
		}
		/* The text ends inside the string, k bytes after its quote. */
		snprintf(text, sizeof text, "%s%.*s", head, (int)k, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		snprintf(msg, sizeof msg, "invalid JSON at byte %zu: unterminated string", off + k);
		if (parse_text(&p, text, err, sizeof err) != ES_EFORMAT || strcmp(err, msg) != 0)
			unit_fail(__FILE__, __LINE__, "unterminated at %zu: \"%s\"", k, err);
	}
}

/* Codes chosen so that keys share prefixes across fields ("A"+"BC" and "AB"+"C"), order by
 * bytes above 0x7F, and fill more than the first 24 bytes of a key (six 4-byte characters). */
static const char *const t_dates[] = { "2024-10-01", "2024-09-30", "2023-12-31", "2024-10-02", "2025-01-01",
                                       "1999-02-28" };
static const char *const t_networks[] = {
	"", "A", "AB", "\xc3\xa9", "Z\"",
	"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80" };
static const char *const t_stations[] = { "", "C", "BC", "CIEL\\", "\x7f\x7fZ", "Zz\xc3\xa9" };
static const char *const t_locations[] = { "", "00", "C" };
static const char *const t_channels[] = { "HHZ", "H", "\xe2\x82\xac" };
/* As sent (NULL is null) and as stored. */
static const char *const t_countries_sent[] = { NULL, "", "FR", "de", "FRA" };
static const char *const t_countries[] = { "", "", "FR", "de", "" };

#define T_COUNT(a) (sizeof a / sizeof a[0])

struct t_stat {
	unsigned date, net, sta, loc, cha, cty;
	int64_t bytes, reqs, ok, failed;
	hll_t clients;
	size_t pos;  /* Index in the payload being built. */
};

static uint64_t t_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The naive key order: field by field with strcmp(). */
static int t_key_cmp(const struct t_stat *x, const struct t_stat *y)
{
	int c;

	if ((c = strcmp(t_dates[x->date], t_dates[y->date])) != 0 ||
	    (c = strcmp(t_networks[x->net], t_networks[y->net])) != 0 ||
	    (c = strcmp(t_stations[x->sta], t_stations[y->sta])) != 0 ||
	    (c = strcmp(t_locations[x->loc], t_locations[y->loc])) != 0 ||
	    (c = strcmp(t_channels[x->cha], t_channels[y->cha])) != 0)
		return c;
	return strcmp(t_countries[x->cty], t_countries[y->cty]);
}

static int t_stat_cmp(const void *a, const void *b)
{
	const struct t_stat *x = *(const struct t_stat *const *)a, *y = *(const struct t_stat *const *)b;
	int c = t_key_cmp(x, y);
	return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* A code as a JSON string: raw UTF-8, or (escaped) with every non-ASCII character as \u. */
static void t_code(jsonw_t *w, const char *s, bool escaped)
{
	if (escaped) {
		jsonw_str(w, s, strlen(s));
		return;
	}
	jsonw_raw(w, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			jsonw_raw(w, "\\", 1);
		jsonw_raw(w, s, 1);
	}
	jsonw_raw(w, "\"", 1);
}

/* The payload of stats order[0..n) (setting their pos). */
static char *t_payload(struct t_stat **order, size_t n, bool escaped)
{
	jsonw_t w;
	char hex[HLL_HEX_MAX];
	size_t len;

	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", "
	              "\"days_coverage\": [\"2024-10-01\"], \"stats\": [");
	for (size_t i = 0; i < n; i++) {
		const struct t_stat *s = order[i];
		order[i]->pos = i;
		jsonw_lit(&w, i ? ", {\"month\": " : "{\"month\": ");
		t_code(&w, t_dates[s->date], escaped);
		jsonw_lit(&w, ", \"network\": ");
		t_code(&w, t_networks[s->net], escaped);
		jsonw_lit(&w, ", \"station\": ");
		t_code(&w, t_stations[s->sta], escaped);
		jsonw_lit(&w, ", \"location\": ");
		t_code(&w, t_locations[s->loc], escaped);
		jsonw_lit(&w, ", \"channel\": ");
		t_code(&w, t_channels[s->cha], escaped);
		jsonw_lit(&w, ", \"country\": ");
		if (t_countries_sent[s->cty])
			t_code(&w, t_countries_sent[s->cty], escaped);
		else
			jsonw_lit(&w, "null");
		jsonw_lit(&w, ", \"bytes\": ");
		jsonw_i64(&w, s->bytes);
		jsonw_lit(&w, ", \"nb_requests\": ");
		jsonw_i64(&w, s->reqs);
		jsonw_lit(&w, ", \"nb_successful_requests\": ");
		jsonw_i64(&w, s->ok);
		jsonw_lit(&w, ", \"nb_unsuccessful_requests\": ");
		jsonw_i64(&w, s->failed);
		jsonw_lit(&w, ", \"clients\": \"\\");
		hll_to_hex(&s->clients, hex);
		jsonw_lit(&w, hex);
		jsonw_lit(&w, "\"}");
	}
	jsonw_lit(&w, "]}");
	ASSERT_OK(jsonw_error(&w));
	return jsonw_take(&w, &len);
}

/*
 * Parses the stats in the given order and checks the rows against a naive
 * reference (qsort() of the stats by key then payload position, summed and
 * united group by group); returns the digest in dig.
 */
static void t_check_order(struct t_stat **order, size_t n, bool escaped, uint8_t dig[SUBMIT_DIGEST_LEN])
{
	struct submit_payload p;
	char err[256];
	char *text = t_payload(order, n, escaped);
	struct t_stat **ref = es_reallocarray(NULL, n, sizeof ref[0]);
	size_t row = 0;

	submit_init(&p);
	if (parse_text(&p, text, err, sizeof err) != 0)
		unit_fail(__FILE__, __LINE__, "%s", err);
	ASSERT_EQ(p.nstats, n);
	memcpy(ref, order, n * sizeof ref[0]);
	qsort(ref, n, sizeof ref[0], t_stat_cmp);
	for (size_t i = 0; i < n; row++) {
		const struct submit_row *r = &p.rows[row];
		int64_t bytes = 0, reqs = 0, ok = 0, failed = 0;
		hll_t u;
		uint8_t a[HLL_MAX_BYTES], b[HLL_MAX_BYTES];
		size_t first = i;

		ASSERT(row < p.nrows);
		hll_init(&u);
		for (; i < n && t_key_cmp(ref[first], ref[i]) == 0; i++) {
			bytes += ref[i]->bytes;
			reqs += ref[i]->reqs;
			ok += ref[i]->ok;
			failed += ref[i]->failed;
			hll_union(&u, &ref[i]->clients);
		}
		ASSERT_STREQ(r->date, t_dates[ref[first]->date]);
		ASSERT_STREQ(r->network, t_networks[ref[first]->net]);
		ASSERT_STREQ(r->station, t_stations[ref[first]->sta]);
		ASSERT_STREQ(r->location, t_locations[ref[first]->loc]);
		ASSERT_STREQ(r->channel, t_channels[ref[first]->cha]);
		ASSERT_STREQ(r->country, t_countries[ref[first]->cty]);
		ASSERT_EQ(r->stat_index, ref[first]->pos);
		ASSERT_EQ(r->bytes, bytes);
		ASSERT_EQ(r->nb_reqs, reqs);
		ASSERT_EQ(r->nb_successful, ok);
		ASSERT_EQ(r->nb_failed, failed);
		size_t len = hll_serialize(&u, a);
		ASSERT_EQ(hll_serialize(&r->clients, b), len);
		ASSERT_MEMEQ(a, b, len);
		hll_fini(&u);
	}
	ASSERT_EQ(p.nrows, row);
	memcpy(dig, p.digest, SUBMIT_DIGEST_LEN);
	submit_fini(&p);
	free(ref);
	free(text);
}

static int t_stat_ptr_cmp(const void *a, const void *b)
{
	return t_key_cmp(*(const struct t_stat *const *)a, *(const struct t_stat *const *)b);
}

TEST(submit_rows_are_the_same_in_any_order)
{
	enum { NKEYS = 150, NSTATS = 900 };
	struct t_stat keys[NKEYS], *stats = es_calloc(NSTATS, sizeof stats[0]);
	struct t_stat **order = es_reallocarray(NULL, NSTATS, sizeof order[0]);
	uint8_t want[SUBMIT_DIGEST_LEN], have[SUBMIT_DIGEST_LEN];
	uint64_t seed = 0x9e3779b97f4a7c15u;
	size_t nuniq = 0;

	/* Stats of 150 keys, about 6 stats a key, spread over the whole payload. */
	for (size_t i = 0; i < NKEYS; i++) {
		keys[i] = (struct t_stat){
			.date = (unsigned)(t_rand(&seed) % T_COUNT(t_dates)),
			.net = (unsigned)(t_rand(&seed) % T_COUNT(t_networks)),
			.sta = (unsigned)(t_rand(&seed) % T_COUNT(t_stations)),
			.loc = (unsigned)(t_rand(&seed) % T_COUNT(t_locations)),
			.cha = (unsigned)(t_rand(&seed) % T_COUNT(t_channels)),
			.cty = (unsigned)(t_rand(&seed) % T_COUNT(t_countries)),
		};
	}
	for (size_t i = 0; i < NSTATS; i++) {
		static const unsigned clients[] = { 0, 1, 3, 200, 700 };
		struct t_stat *s = &stats[i];
		*s = keys[t_rand(&seed) % NKEYS];
		s->bytes = (int64_t)(t_rand(&seed) % 1000000);
		s->ok = (int64_t)(t_rand(&seed) % 1000);
		s->failed = (int64_t)(t_rand(&seed) % 10);
		s->reqs = s->ok + s->failed;
		hll_init(&s->clients);
		for (unsigned c = clients[t_rand(&seed) % T_COUNT(clients)]; c > 0; c--)
			hll_add_raw(&s->clients, (int64_t)(int32_t)t_rand(&seed));
		order[i] = s;
	}

	/* As generated, escaped, shuffled, sorted (equal keys together), reverse-sorted. */
	t_check_order(order, NSTATS, false, want);
	t_check_order(order, NSTATS, true, have);
	ASSERT_MEMEQ(want, have, SUBMIT_DIGEST_LEN);
	for (size_t i = NSTATS - 1; i > 0; i--) {
		size_t k = (size_t)(t_rand(&seed) % (i + 1));
		struct t_stat *t = order[i];
		order[i] = order[k];
		order[k] = t;
	}
	t_check_order(order, NSTATS, false, have);
	ASSERT_MEMEQ(want, have, SUBMIT_DIGEST_LEN);
	qsort(order, NSTATS, sizeof order[0], t_stat_cmp);
	t_check_order(order, NSTATS, false, have);
	ASSERT_MEMEQ(want, have, SUBMIT_DIGEST_LEN);
	for (size_t i = 0; i < NSTATS / 2; i++) {
		struct t_stat *t = order[i];
		order[i] = order[NSTATS - 1 - i];
		order[NSTATS - 1 - i] = t;
	}
	t_check_order(order, NSTATS, true, have);
	ASSERT_MEMEQ(want, have, SUBMIT_DIGEST_LEN);

	/* One stat per key, strictly ascending (nothing to sort or merge), then each adjacent pair swapped. */
	qsort(order, NSTATS, sizeof order[0], t_stat_cmp);
	for (size_t i = 0; i < NSTATS; i++)
		if (nuniq == 0 || t_key_cmp(order[nuniq - 1], order[i]) != 0)
			order[nuniq++] = order[i];
	ASSERT(nuniq > 50);
	t_check_order(order, nuniq, false, want);
	for (size_t i = 1; i < nuniq; i++)
		ASSERT(t_stat_ptr_cmp(&order[i - 1], &order[i]) < 0);
	for (size_t i = 0; i + 1 < nuniq; i += 2) {
		struct t_stat *t = order[i];
		order[i] = order[i + 1];
		order[i + 1] = t;
	}
	t_check_order(order, nuniq, false, have);
	ASSERT_MEMEQ(want, have, SUBMIT_DIGEST_LEN);

	for (size_t i = 0; i < NSTATS; i++)
		hll_fini(&stats[i].clients);
	free(order);
	free(stats);
}

TEST(submit_merge_overflow_far_apart_frees_all)
{
	/* Three stats of one key, 4e18 bytes each, far apart and after rows of smaller keys. */
	jsonw_t w;
	size_t len;
	char *text;
	struct submit_payload p;
	char err[256];

	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
	              "\"stats\": [");
	for (int i = 0; i < 40; i++) {
		char stat[512];
		bool big = i == 3 || i == 20 || i == 37;
		snprintf(stat, sizeof stat,
		         "%s{\"month\": \"2024-10-01\", \"network\": \"N%c\", \"station\": \"S\", \"location\": \"\", "
		         "\"channel\": \"HHZ\", \"bytes\": %s, \"nb_successful_requests\": 1, \"clients\": \"" ONE "\"}",
		         i ? ", " : "", big ? 'M' : 'A' + i % 26, big ? "4000000000000000000" : "1");
		jsonw_lit(&w, stat);
	}
	jsonw_lit(&w, "]}");
	text = jsonw_take(&w, &len);
	submit_init(&p);
	ASSERT_ERR(submit_parse(&p, text, len, NULL, err, sizeof err), ES_EFORMAT);
	ASSERT_STREQ(err, "stats[37]: the counters of the stats that share its key (stats[3]) overflow");
	ASSERT_EQ(p.nrows, 0);
	free(text);

	/* Two of them fit. */
	text = replace_all("{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", \"days_coverage\": [], "
	                   "\"stats\": [" STAT("", "\"nb_successful_requests\": 1, ") ", "
	                   STAT("\"country\": \"FR\", ", "\"nb_successful_requests\": 1, ") ", "
	                   STAT("", "\"nb_successful_requests\": 1, ") "]}",
	                   "\"bytes\": 10", "\"bytes\": 4000000000000000000");
	ASSERT_OK(parse_text(&p, text, err, sizeof err));
	ASSERT_EQ(p.nrows, 2);
	ASSERT_EQ(p.rows[0].bytes, 8000000000000000000);
	ASSERT_EQ(p.rows[0].stat_index, 0);
	ASSERT_EQ(p.rows[1].stat_index, 1);
	submit_fini(&p);
	free(text);
}

TEST(submit_stat_keys_end_at_a_nul)
{
	/* A key is matched up to its first NUL, as the reader always has: "month\u0000x" is month. */
	struct submit_payload p;
	char err[256];

	submit_init(&p);
	ASSERT_OK(parse_text(&p, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", "
	                         "\"days_coverage\": [], \"stats\": [{\"month\\u0000x\": \"2024-10-03\", "
	                         GOOD_CODES GOOD_COUNTS GOOD_CLIENTS ", \"monthx\": 1, \"mont\": 2}]}",
	                     err, sizeof err));
	ASSERT_STREQ(p.rows[0].date, "2024-10-03");
	submit_fini(&p);
	ASSERT_ERR(parse_text(&p, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"v\", "
	                          "\"days_coverage\": [], \"stats\": [{\"month\\u0000x\": \"2024-10-03\", "
	                          GOOD_MONTH GOOD_CODES GOOD_COUNTS GOOD_CLIENTS "}]}", err, sizeof err),
	           ES_EFORMAT);
	ASSERT_STREQ(err, "stats[0].month: given twice");
}

TEST(submit_clients_hex_either_case_and_bad_digits)
{
	static const struct { const char *clients, *message; } bad[] = {
		{ "\\\\x128B7F00000000471", "stats[1].clients: not valid hll(11,5) bytes: odd number of hex digits" },
		{ "\\\\x128B7F0000000047198F2G", "stats[1].clients: not valid hll(11,5) bytes: not a hex digit" },
		{ "\\\\x\\\\x128B7F0000000047198F26", "stats[1].clients: not valid hll(11,5) bytes: not a hex digit" },
		{ "\\\\x128B7F00", "stats[1].clients: not valid hll(11,5) bytes: EXPLICIT data is not a multiple of 8 bytes" },
		{ "\\\\X128B7F0000000047198F26", "stats[1].clients: not \\x followed by hex digits" },
	};
	struct submit_payload p;
	char err[256], fields[512];
	uint8_t upper[SUBMIT_DIGEST_LEN];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(fields, sizeof fields, GOOD_MONTH GOOD_CODES GOOD_COUNTS "\"clients\": \"%s\"", bad[i].clients);
		if (parse_stat_fields(fields, err, sizeof err) != ES_EFORMAT || strcmp(err, bad[i].message) != 0)
			unit_fail(__FILE__, __LINE__, "case %zu: \"%s\", expected \"%s\"", i, err, bad[i].message);
	}
	/* Lower-case digits are the same set. */
	submit_init(&p);
	ASSERT_OK(parse_text(&p, PAYLOAD(STAT("", "\"nb_successful_requests\": 1, ")), err, sizeof err));
	memcpy(upper, p.digest, sizeof upper);
	submit_fini(&p);
	char *lower = replace_all(PAYLOAD(STAT("", "\"nb_successful_requests\": 1, ")), "47198F26", "47198f26");
	ASSERT_OK(parse_text(&p, lower, err, sizeof err));
	ASSERT_MEMEQ(p.digest, upper, sizeof upper);
	ASSERT_EQ(hll_cardinality(&p.rows[0].clients), 1);
	submit_fini(&p);
	free(lower);
}
