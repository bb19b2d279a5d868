#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agg.h"
#include "error.h"
#include "hll.h"
#include "netx.h"
#include "unit.h"

/* Warnings seen through the callback, counted by upstream's message kinds. */
struct seen {
	uint64_t json, date, refused, country, other, total;
	uint64_t last_lineno;
	char refused_codes[64][8];
	uint64_t refused_count[64];
	int ncodes;
	uint64_t progress_calls, last_bytes_in, last_file_size;
	const char *progress_file;
};

static void on_warn(void *ctx, const char *file, uint64_t lineno, const char *msg)
{
	struct seen *s = ctx;
	s->total++;
	s->last_lineno = lineno;
	ASSERT(file != NULL);
	char want[64];
	snprintf(want, sizeof want, "Line %llu could not be parsed as JSON. Ignoring",
	         (unsigned long long)lineno);
	if (strcmp(msg, want) == 0) {
		s->json++;
	} else if (strncmp(msg, "Could not parse date ", 21) == 0) {
		s->date++;
	} else if (strncmp(msg, "Network ", 8) == 0 && strstr(msg, " could not be extended at ")
	           && strstr(msg, ". Ignoring this line")) {
		s->refused++;
		char code[8] = "";
		sscanf(msg + 8, "%7s", code);
		int i;
		for (i = 0; i < s->ncodes && strcmp(s->refused_codes[i], code); i++)
			;
		if (i == s->ncodes && i < 64)
			strcpy(s->refused_codes[s->ncodes++], code);
		if (i < 64)
			s->refused_count[i]++;
	} else if (strncmp(msg, "No country code found in ", 25) == 0
	           && strstr(msg, ", default to empty string")) {
		s->country++;
	} else {
		s->other++;
	}
}

static void on_progress(void *ctx, const char *file, uint64_t bytes_in, uint64_t file_size,
                        uint64_t lines)
{
	struct seen *s = ctx;
	ASSERT(file != NULL);
	if (!s->progress_file || strcmp(s->progress_file, file) != 0) {
		s->progress_file = file;
		s->last_bytes_in = 0;
	}
	ASSERT(bytes_in >= s->last_bytes_in);
	s->progress_calls++;
	s->last_bytes_in = bytes_in;
	s->last_file_size = file_size;
}

static netx_t *netx_for(const char *set)
{
	char rel[256];
	snprintf(rel, sizeof rel, "%s/networks.json", set);
	netx_opts_t no = { .file = unit_data(rel) };
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &no));
	return nx;
}

static agg_t *run(const char *set, const char *const files[], netx_t *nx, struct seen *s)
{
	agg_opts_t o = { .granularity = STATS_MONTH, .netx = nx, .warn = on_warn,
	                 .progress = on_progress, .ctx = s };
	agg_t *a = agg_new(&o);
	for (int i = 0; files[i]; i++) {
		char rel[256];
		snprintf(rel, sizeof rel, "%s/%s", set, files[i]);
		ASSERT_OK(agg_file(a, unit_data(rel), -1, NULL));
	}
	return a;
}

static const char *sort_fields[] = { "month", "network", "station", "location", "channel",
                                     "country" };

/* Code-point order of the key fields (byte order of UTF-8 is the same). */
static int stat_cmp(const void *pa, const void *pb)
{
	const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
	for (int i = 0; i < 6; i++) {
		const char *x = cJSON_GetObjectItemCaseSensitive(a, sort_fields[i])->valuestring;
		const char *y = cJSON_GetObjectItemCaseSensitive(b, sort_fields[i])->valuestring;
		int c = strcmp(x ? x : "", y ? y : "");
		if (c)
			return c;
	}
	return 0;
}

static cJSON **stat_list(cJSON *payload, size_t *n, int sorted)
{
	cJSON *stats = cJSON_GetObjectItemCaseSensitive(payload, "stats");
	ASSERT(cJSON_IsArray(stats));
	*n = (size_t)cJSON_GetArraySize(stats);
	cJSON **v = calloc(*n + 1, sizeof *v);
	size_t i = 0;
	cJSON *s;
	cJSON_ArrayForEach(s, stats)
		v[i++] = s;
	if (sorted)
		qsort(v, *n, sizeof *v, stat_cmp);
	return v;
}

/*
 * Compares our payload with a golden expected.json as doc/upstream-aggregator.md
 * §11 says: generated_at and version ignored, our stats sorted like theirs
 * (unless sorted is 0), everything else exactly.  skip_station names an
 * expected row we knowingly do not produce (NULL for none).
 */
static void compare_payload(const agg_t *a, const char *expected, int sorted,
                            const char *skip_station)
{
	char *json;
	size_t len;
	ASSERT_OK(agg_payload(a, 1795905943, "0.8.0", &json, &len));
	ASSERT_EQ(strlen(json), len);
	cJSON *ours = cJSON_ParseWithLength(json, len);
	ASSERT(ours != NULL);
	cJSON *want = unit_json(unit_data(expected));
	const char *keys[] = { "days_coverage", "aggregation_score" };
	for (int i = 0; i < 2; i++)
		if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ours, keys[i]),
		                   cJSON_GetObjectItemCaseSensitive(want, keys[i]), 1))
			unit_fail(__FILE__, __LINE__, "%s: \"%s\" differs", expected, keys[i]);
	ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ours, "generated_at")));
	ASSERT_EQ(cJSON_GetArraySize(ours), 5);
	size_t n_ours, n_want;
	cJSON **so = stat_list(ours, &n_ours, sorted), **sw = stat_list(want, &n_want, sorted);
	size_t j = 0;
	for (size_t i = 0; i < n_want; i++) {
		const cJSON *sta = cJSON_GetObjectItemCaseSensitive(sw[i], "station");
		if (skip_station && strcmp(sta->valuestring, skip_station) == 0)
			continue;
		if (j >= n_ours)
			unit_fail(__FILE__, __LINE__, "%s: we have only %zu stats", expected, n_ours);
		if (!cJSON_Compare(so[j], sw[i], 1)) {
			char *x = cJSON_PrintUnformatted(so[j]), *y = cJSON_PrintUnformatted(sw[i]);
			unit_fail(__FILE__, __LINE__, "%s: stat %zu differs:\n#  ours %s\n#  want %s",
			          expected, i, x, y);
		}
		/* cJSON_Compare ignores key order; the text must also have upstream's order. */
		const cJSON *k1 = so[j]->child, *k2 = sw[i]->child;
		for (; k1 && k2; k1 = k1->next, k2 = k2->next)
			ASSERT_STREQ(k1->string, k2->string);
		ASSERT(!k1 && !k2);
		j++;
	}
	ASSERT_EQ(j, n_ours);
	free(so);
	free(sw);
	cJSON_Delete(ours);
	cJSON_Delete(want);
	free(json);
}

static long summary_num(const cJSON *sum, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, a);
	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

/* Compares our counters with upstream-summary.json: nbevents, stats, HLL types, warnings. */
static void compare_summary(const agg_t *a, const struct seen *s, const char *summary)
{
	cJSON *sum = unit_json(unit_data(summary));
	const agg_counts_t *c = agg_counts(a);
	ASSERT_EQ(c->lines, summary_num(sum, "nbevents", NULL));
	ASSERT_EQ(agg_nstats(a), summary_num(sum, "nb_stats", NULL));
	size_t types[5];
	agg_hll_types(a, types);
	ASSERT_EQ(types[HLL_EMPTY], 0);
	ASSERT_EQ(types[HLL_EXPLICIT], summary_num(sum, "hll_representations", "EXPLICIT"));
	ASSERT_EQ(types[HLL_SPARSE], summary_num(sum, "hll_representations", "SPARSE"));
	ASSERT_EQ(types[HLL_FULL], summary_num(sum, "hll_representations", "FULL"));
	const char *msgs = "upstream_log_messages";
	ASSERT_EQ(c->json_errors, summary_num(sum, msgs, "Line %d could not be parsed as JSON. Ignoring"));
	ASSERT_EQ(c->bad_dates, summary_num(sum, msgs, "Could not parse date %s"));
	ASSERT_EQ(c->refused_traces,
	          summary_num(sum, msgs, "Network %s could not be extended at %s. Ignoring this line"));
	ASSERT_EQ(c->missing_country,
	          summary_num(sum, msgs, "No country code found in %s, default to empty string"));
	ASSERT_EQ(c->invalid, 0);
	ASSERT_EQ(c->malformed, c->json_errors + c->bad_dates);
	/* The callback saw exactly these warnings, with upstream's texts. */
	ASSERT_EQ(s->json, c->json_errors);
	ASSERT_EQ(s->date, c->bad_dates);
	ASSERT_EQ(s->refused, c->refused_traces);
	ASSERT_EQ(s->country, c->missing_country);
	ASSERT_EQ(s->other, 0);
	char first[11], last[11];
	ASSERT_OK(agg_coverage(a, first, last));
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(sum, "days_coverage");
	ASSERT_STREQ(first, cJSON_GetArrayItem(days, 0)->valuestring);
	ASSERT_STREQ(last, cJSON_GetArrayItem(days, 1)->valuestring);
	/* The refusal summary agrees with the warnings, code by code. */
	char *refused = agg_refused_summary(a);
	for (int i = 0; i < s->ncodes; i++) {
		char item[32];
		snprintf(item, sizeof item, "%s=%llu", s->refused_codes[i],
		         (unsigned long long)s->refused_count[i]);
		ASSERT(strstr(refused, item) != NULL);
	}
	if (!s->ncodes)
		ASSERT_STREQ(refused, "");
	free(refused);
	cJSON_Delete(sum);
}

static void golden(const char *set, const char *const files[], const char *expected,
                   const char *summary)
{
	struct seen s = { 0 };
	netx_t *nx = netx_for(set);
	agg_t *a = run(set, files, nx, &s);
	char rel[256];
	snprintf(rel, sizeof rel, "%s/%s", set, expected);
	compare_payload(a, rel, 1, NULL);
	snprintf(rel, sizeof rel, "%s/%s", set, summary);
	compare_summary(a, &s, rel);
	ASSERT(s.progress_calls >= 1);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_golden_upstream_sample_plain)
{
	static const char *const files[] = { "test.log", NULL };
	golden("upstream-sample", files, "expected.json", "upstream-summary.json");
}

TEST(agg_golden_upstream_sample_bz2)
{
	static const char *const files[] = { "test.log.bz2", NULL };
	golden("upstream-sample", files, "expected.json", "upstream-summary.json");
}

TEST(agg_golden_synthetic_small)
{
	static const char *const files[] = { "small.log.bz2", NULL };
	golden("synthetic-small", files, "expected.json", "upstream-summary.json");
}

TEST(agg_golden_synthetic_multi)
{
	static const char *const files[] = { "multi/fdsnws-requests.log.2024-10-30.bz2",
	                                     "multi/fdsnws-requests.log.2024-10-31",
	                                     "multi/fdsnws-requests.log.2024-11-01.bz2", NULL };
	golden("synthetic-small", files, "expected-multi.json", "upstream-summary-multi.json");
}

TEST(agg_golden_edge_cases)
{
	static const char *const files[] = { "edge.log", NULL };
	golden("edge-cases", files, "expected.json", "upstream-summary.json");
}

TEST(agg_golden_hll_edges)
{
	static const char *const files[] = { "hll-edges.log.bz2", NULL };
	golden("hll-edges", files, "expected.json", "upstream-summary.json");
}

TEST(agg_golden_quirks_except_nan)
{
	/* quirks.log matches upstream except line 5 (NaN), which Python's json accepts and we refuse. */
	static const char *const files[] = { "quirks.log", NULL };
	struct seen s = { 0 };
	netx_t *nx = netx_for("edge-cases");
	agg_t *a = run("edge-cases", files, nx, &s);
	compare_payload(a, "edge-cases/expected-quirks.json", 1, "NANB");
	const agg_counts_t *c = agg_counts(a);
	ASSERT_EQ(c->lines, 8);
	ASSERT_EQ(c->json_errors, 2);  /* The BOM line (as upstream) and the NaN line. */
	ASSERT_EQ(s.json, 2);
	ASSERT_EQ(agg_nstats(a), 4);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_golden_null_country_in_order)
{
	static const char *const files[] = { "null-country.log", NULL };
	struct seen s = { 0 };
	netx_t *nx = netx_for("null-country");
	agg_t *a = run("null-country", files, nx, &s);
	compare_payload(a, "null-country/expected.json", 0, NULL);
	agg_free(a);
	netx_fini(nx);
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ASSERT(f != NULL);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	ASSERT(fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Our text with upstream's generated_at and version must be upstream's bytes exactly. */
static void byte_identical(const char *set, const char *file)
{
	size_t rlen;
	char rel[256];
	snprintf(rel, sizeof rel, "%s/upstream-raw-output.json", set);
	char *raw = read_text(unit_data(rel), &rlen);
	struct tm tm = { 0 };
	const char *g = strstr(raw, "\"generated_at\": \"");
	ASSERT(g != NULL);
	ASSERT(strptime(g + 17, "%Y-%m-%d %H:%M:%S", &tm) != NULL);
	time_t when = timegm(&tm);
	const char *v = strstr(raw, "\"version\": \"");
	ASSERT(v != NULL);
	char version[64];
	ASSERT(sscanf(v + 12, "%63[^\"]", version) == 1);
	const char *const files[] = { file, NULL };
	struct seen s = { 0 };
	netx_t *nx = netx_for(set);
	agg_t *a = run(set, files, nx, &s);
	char *json;
	size_t len;
	ASSERT_OK(agg_payload(a, when, version, &json, &len));
	ASSERT_EQ(len, rlen);
	ASSERT_MEMEQ(json, raw, rlen);
	free(json);
	free(raw);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_byte_identical_upstream_sample)
{
	byte_identical("upstream-sample", "test.log");
}

TEST(agg_byte_identical_null_country)
{
	byte_identical("null-country", "null-country.log");
}

/* Runs one file of upstream-crashes/ and returns the collection. */
static agg_t *crash_file(const char *file, netx_t *nx, int *rc)
{
	agg_opts_t o = { .granularity = STATS_MONTH, .netx = nx };
	agg_t *a = agg_new(&o);
	char rel[256];
	snprintf(rel, sizeof rel, "upstream-crashes/%s", file);
	*rc = agg_file(a, unit_data(rel), -1, NULL);
	return a;
}

TEST(agg_upstream_crash_lines_are_malformed)
{
	/* Where upstream crashes on one line, we skip that line and keep the good ones around it. */
	static const char *const files[] = {
		"missing-finished.log", "null-finished.log", "missing-userlocation.log",
		"null-userlocation.log", "missing-status.log", "missing-userid.log",
		"ok-without-trace.log", "trace-missing-net.log", "non-object-json.log",
		"json-string.log",
	};
	netx_t *nx = netx_for("upstream-crashes");
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		int rc;
		agg_t *a = crash_file(files[i], nx, &rc);
		ASSERT_OK(rc);
		const agg_counts_t *c = agg_counts(a);
		if (c->lines != 3 || c->invalid != 1 || c->malformed != 1 || c->successes != 2)
			unit_fail(__FILE__, __LINE__, "%s: lines %llu invalid %llu malformed %llu successes %llu",
			          files[i], (unsigned long long)c->lines, (unsigned long long)c->invalid,
			          (unsigned long long)c->malformed, (unsigned long long)c->successes);
		char *json;
		size_t len;
		ASSERT_OK(agg_payload(a, 0, "t", &json, &len));
		free(json);
		agg_free(a);
	}
	netx_fini(nx);
}

TEST(agg_upstream_crash_inputs)
{
	netx_t *nx = netx_for("upstream-crashes");
	int rc;
	char *json;
	size_t len;
	/* No statistics at all: reported, no payload. */
	static const char *const nostats[] = { "empty.log", "only-malformed.log", "no-stat-at-all.log" };
	for (size_t i = 0; i < 3; i++) {
		agg_t *a = crash_file(nostats[i], nx, &rc);
		ASSERT_OK(rc);
		ASSERT_EQ(agg_nstats(a), 0);
		ASSERT_ERR(agg_payload(a, 0, "t", &json, &len), ES_ENOSTATS);
		char f[11], l[11];
		ASSERT_ERR(agg_coverage(a, f, l), ES_ENOSTATS);
		agg_free(a);
	}
	agg_t *a = crash_file("only-malformed.log", nx, &rc);
	ASSERT_EQ(agg_counts(a)->lines, 3);
	ASSERT_EQ(agg_counts(a)->json_errors, 3);
	agg_free(a);
	/* Invalid UTF-8: that line is malformed, in plain and in bzip2 files. */
	a = crash_file("invalid-utf8.log", nx, &rc);
	ASSERT_OK(rc);
	ASSERT_EQ(agg_counts(a)->json_errors, 1);
	ASSERT(agg_nstats(a) >= 1);
	agg_free(a);
	a = crash_file("invalid-utf8.log.bz2", nx, &rc);
	ASSERT_OK(rc);
	ASSERT_EQ(agg_counts(a)->json_errors, 1);
	ASSERT(agg_nstats(a) >= 1);
	agg_free(a);
	/* gzip is simply read. */
	a = crash_file("gzip.log.gz", nx, &rc);
	ASSERT_OK(rc);
	ASSERT(agg_nstats(a) >= 1);
	ASSERT_EQ(agg_counts(a)->malformed, 0);
	agg_free(a);
	/* Broken compressed data fails the file and the collection. */
	a = crash_file("starts-with-BZh.log", nx, &rc);
	ASSERT_EQ(rc, ES_ECORRUPT);
	ASSERT_ERR(agg_payload(a, 0, "t", &json, &len), ES_ECORRUPT);
	agg_free(a);
	a = crash_file("truncated.log.bz2", nx, &rc);
	ASSERT_EQ(rc, ES_ETRUNC);
	ASSERT_ERR(agg_payload(a, 0, "t", &json, &len), ES_ETRUNC);
	agg_free(a);
	a = crash_file("does-not-exist.log", nx, &rc);
	ASSERT_EQ(rc, -ENOENT);
	agg_free(a);
	netx_fini(nx);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), name);
	FILE *f = fopen(path, "wb");
	ASSERT(f != NULL);
	ASSERT(fwrite(text, 1, strlen(text), f) == strlen(text));
	fclose(f);
	return path;
}

#define TRACE(net, sta, start) \
	"{\"net\": \"" net "\", \"sta\": \"" sta "\", \"loc\": \"\", \"cha\": \"HHZ\", " \
	"\"start\": \"" start "\", \"bytes\": 10, \"status\": \"OK\"}"
#define LINE(uid, traces) \
	"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, " \
	"\"status\": \"OK\", \"userID\": " uid ", \"trace\": [" traces "]}\n"

TEST(agg_lines_are_atomic)
{
	/* Line 2 has a good trace before a trace without "net": none of it may be recorded. */
	const char *path = write_file("atomic.log",
		LINE("1", TRACE("FR", "A", "2024-01-01"))
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
		"\"status\": \"OK\", \"userID\": 2, \"trace\": [" TRACE("FR", "B", "2024-01-01") ", "
		"{\"sta\": \"C\", \"loc\": \"\", \"cha\": \"HHZ\", \"start\": \"2024\", \"bytes\": 1, "
		"\"status\": \"OK\"}]}\n"
		LINE("3", TRACE("FR", "D", "2024-01-01")));
	netx_t *nx = netx_for("edge-cases");
	struct seen s = { 0 };
	agg_opts_t o = { .netx = nx, .warn = on_warn, .ctx = &s };
	agg_t *a = agg_new(&o);
	ASSERT_OK(agg_file(a, path, -1, NULL));
	ASSERT_EQ(agg_nstats(a), 2);
	ASSERT_EQ(agg_counts(a)->invalid, 1);
	ASSERT_EQ(agg_counts(a)->successes, 2);
	ASSERT_EQ(s.other, 1);
	ASSERT_EQ(s.last_lineno, 2);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_userid_needed_only_when_recording)
{
	/*
	 * No userID: fine when every OK trace is refused (nothing recorded, the
	 * refusal still warned); malformed as soon as one trace would be recorded.
	 */
	const char *path = write_file("uid.log",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
		"\"status\": \"OK\", \"trace\": [" TRACE("QQ", "A", "2024-01-01") "]}\n"
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
		"\"status\": \"OK\", \"trace\": [" TRACE("9Z", "A", "2024-01-01") "]}\n"
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
		"\"status\": \"OK\", \"trace\": [" TRACE("9Z", "A", "2024-01-01") ", "
		TRACE("FR", "B", "2024-01-01") "]}\n"
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
		"\"status\": \"NODATA\", \"userID\": 1.5}\n"
		LINE("4", TRACE("FR", "D", "2024-01-01")));
	netx_t *nx = netx_for("edge-cases");
	struct seen s = { 0 };
	agg_opts_t o = { .netx = nx, .warn = on_warn, .ctx = &s };
	agg_t *a = agg_new(&o);
	ASSERT_OK(agg_file(a, path, -1, NULL));
	const agg_counts_t *c = agg_counts(a);
	ASSERT_EQ(c->lines, 5);
	ASSERT_EQ(c->invalid, 3);       /* Line 1 (QQ is permanent), line 3, line 4 (float userID). */
	ASSERT_EQ(c->refused_traces, 1);
	ASSERT_EQ(s.refused, 1);
	ASSERT_EQ(c->successes, 1);
	ASSERT_EQ(agg_nstats(a), 1);
	char *sum = agg_refused_summary(a);
	ASSERT_STREQ(sum, "9Z=1");
	free(sum);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_max_stats_limit)
{
	netx_t *nx = netx_for("synthetic-small");
	agg_opts_t o = { .netx = nx, .max_stats = 10 };
	agg_t *a = agg_new(&o);
	ASSERT_ERR(agg_file(a, unit_data("synthetic-small/small.log.bz2"), -1, NULL), ES_ELIMIT);
	char *json;
	size_t len;
	ASSERT_ERR(agg_payload(a, 0, "t", &json, &len), ES_ELIMIT);
	/* The collection stays failed. */
	ASSERT_ERR(agg_file(a, unit_data("edge-cases/edge.log"), -1, NULL), ES_ELIMIT);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_long_lines_are_malformed)
{
	netx_t *nx = netx_for("edge-cases");
	struct seen s = { 0 };
	agg_opts_t o = { .netx = nx, .max_line = 200, .warn = on_warn, .ctx = &s };
	agg_t *a = agg_new(&o);
	ASSERT_OK(agg_file(a, unit_data("edge-cases/edge.log"), -1, NULL));
	const agg_counts_t *c = agg_counts(a);
	ASSERT_EQ(c->lines, 51);
	/* Every request line of edge.log is longer than 200 bytes; only the short bad ones are left. */
	ASSERT(c->json_errors > 40);
	ASSERT_EQ(s.other, c->json_errors - s.json);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_day_granularity_and_digest)
{
	netx_t *nx = netx_for("synthetic-small");
	agg_opts_t o = { .granularity = STATS_DAY, .netx = nx };
	agg_t *day = agg_new(&o);
	o.granularity = STATS_MONTH;
	agg_t *month = agg_new(&o);
	uint8_t d1[32], d2[32];
	ASSERT_OK(agg_file(day, unit_data("upstream-sample/test.log.bz2"), -1, d1));
	int fd = open(unit_data("upstream-sample/test.log"), O_RDONLY);
	ASSERT(fd >= 0);
	ASSERT_OK(agg_file(month, "test.log (fd)", fd, d2));
	/* The same content, compressed or not, has the same digest. */
	ASSERT_MEMEQ(d1, d2, 32);
	/* One day of data: as many rows either way, dated on the day or the month. */
	ASSERT_EQ(agg_nstats(day), agg_nstats(month));
	char *json;
	size_t len;
	ASSERT_OK(agg_payload(day, 0, "t", &json, &len));
	ASSERT(strstr(json, "\"month\": \"2020-09-18\"") != NULL);
	ASSERT(strstr(json, "\"month\": \"2020-09-01\"") == NULL);
	free(json);
	agg_free(day);
	agg_free(month);
	netx_fini(nx);
}

TEST(agg_registry_unreachable_aborts_the_file)
{
	/* No file, no cache, a registry URL nobody listens on: ES_EUNAVAIL, never a refusal. */
	netx_opts_t no = { .url = "http://127.0.0.1:9/fdsnws/networks/1/query", .timeout = 5 };
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &no));
	agg_opts_t o = { .netx = nx };
	agg_t *a = agg_new(&o);
	const char *path = write_file("tmp.log", LINE("1", TRACE("FR", "A", "2024-01-01"))
	                                         LINE("2", TRACE("7C", "A", "2024-01-01")));
	ASSERT_ERR(agg_file(a, path, -1, NULL), ES_EUNAVAIL);
	ASSERT_EQ(agg_counts(a)->refused_traces, 0);
	char *json;
	size_t len;
	ASSERT_ERR(agg_payload(a, 0, "t", &json, &len), ES_EUNAVAIL);
	agg_free(a);
	netx_fini(nx);
}

TEST(agg_progress_reaches_the_end)
{
	netx_t *nx = netx_for("synthetic-small");
	struct seen s = { 0 };
	agg_opts_t o = { .netx = nx, .progress = on_progress, .ctx = &s };
	agg_t *a = agg_new(&o);
	const char *path = unit_data("synthetic-small/small.log.bz2");
	ASSERT_OK(agg_file(a, path, -1, NULL));
	struct stat sb;
	ASSERT(stat(path, &sb) == 0);
	/*
	 * Reports come as the reader's input count moves by 64 KiB or more (it
	 * reads in blocks of its own), so a 1.4 MB file gives some reports before
	 * the last one, which is at the end of the file.
	 */
	ASSERT(s.progress_calls >= 3);
	ASSERT_EQ(s.last_bytes_in, (uint64_t)sb.st_size);
	ASSERT_EQ(s.last_file_size, (uint64_t)sb.st_size);
	ASSERT_EQ(agg_counts(a)->bytes_in, (uint64_t)sb.st_size);
	ASSERT(agg_counts(a)->bytes_out > agg_counts(a)->bytes_in);
	agg_free(a);
	netx_fini(nx);
}

/* A running hash of every warning, in order. */
static void hash_warn(void *ctx, const char *file, uint64_t lineno, const char *msg)
{
	uint64_t *h = ctx;
	char head[64];
	snprintf(head, sizeof head, "%s|%llu|", file ? "f" : "-", (unsigned long long)lineno);
	for (const char *s = head; *s; s++)
		*h = (*h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = msg; *s; s++)
		*h = (*h ^ (unsigned char)*s) * 1099511628211ull;
}

/* Aggregates path with threads (reader_threads) and returns the payload text. */
static char *threaded_run(const char *path, netx_t *nx, unsigned threads, size_t max_line,
                          uint64_t *warn_hash, agg_counts_t *counts)
{
	*warn_hash = 14695981039346656037ull;
	agg_opts_t o = { .granularity = STATS_MONTH, .netx = nx, .warn = hash_warn,
	                 .ctx = warn_hash, .reader_threads = threads, .max_line = max_line };
	agg_t *a = agg_new(&o);
	ASSERT_OK(agg_file(a, path, -1, NULL));
	*counts = *agg_counts(a);
	char *json;
	size_t len;
	int rc = agg_payload(a, 1700000000, "v", &json, &len);
	if (rc == ES_ENOSTATS)
		json = strdup("no statistics");
	else
		ASSERT_OK(rc);
	agg_free(a);
	return json;
}

/* Aggregates path with 1, 2 and 3 threads; checks that the payloads, the
 * warnings in order and the counters agree; returns the payload (the
 * caller frees it) and the counters. */
static char *same_with_threads(const char *path, netx_t *nx, size_t max_line,
                               agg_counts_t *counts)
{
	uint64_t h1, h2, h3;
	agg_counts_t c2, c3;
	char *seq = threaded_run(path, nx, 1, max_line, &h1, counts);
	char *par = threaded_run(path, nx, 2, max_line, &h2, &c2);
	char *par3 = threaded_run(path, nx, 3, max_line, &h3, &c3);
	ASSERT_STREQ(par, seq);
	ASSERT_STREQ(par3, seq);
	ASSERT_EQ(h2, h1);
	ASSERT_EQ(h3, h1);
	ASSERT_MEMEQ(&c2, counts, sizeof c2);
	ASSERT_MEMEQ(&c3, counts, sizeof c3);
	free(par);
	free(par3);
	return seq;
}

/* Plain text over the parallel threshold, with lines too long for max_line
 * and one longer than a batch: parse workers give the sequential path's
 * payload (row order, HLL forms), counts and warnings, in the same order. */
TEST(agg_parallel_parse_equals_sequential)
{
	size_t elen;
	char *edge = read_text(unit_data("edge-cases/edge.log"), &elen);
	char *path = strdup(unit_tmp("parallel.log"));
	FILE *f = fopen(path, "wb");
	ASSERT(f != NULL);
	for (int i = 0; i < 300; i++) {
		ASSERT(fwrite(edge, 1, elen, f) == elen);
		if (i == 200) {
			/* A line of 1.5 MiB (more than a batch) in the middle. */
			fputs("{\"finished\": \"2024-10-15T10:00:00Z\", \"pad\": \"", f);
			for (int k = 0; k < 3 << 19; k++)
				fputc('x', f);
			fputs("\", \"userLocation\": {\"country\": \"DE\"}, \"status\": \"NODATA\", "
			      "\"userID\": 77}\n", f);
		}
	}
	ASSERT(fclose(f) == 0);
	netx_t *nx = netx_for("edge-cases");
	const size_t max_lines[] = { 0, 200 };
	for (size_t m = 0; m < 2; m++) {
		agg_counts_t c1;
		free(same_with_threads(path, nx, max_lines[m], &c1));
		ASSERT_EQ(c1.lines, 300 * 51 + 1);
		if (max_lines[m])
			ASSERT(c1.json_errors > 300 * 40);
	}
	netx_fini(nx);
	free(path);
	free(edge);
}

/*
 * A log for the batch tables of the parse workers: thousands of keys (rows
 * first seen in every batch), a hot key whose client set crosses the
 * EXPLICIT → SPARSE → FULL thresholds across batches while warm keys cross
 * them within one, temporary codes extended and refused, failed requests,
 * missing and null countries, and bad lines of every kind (not JSON, bad
 * date, no userID where one is needed, a float userID).  Temporary codes
 * appear from line temp_from on.
 */
static void write_batch_log(const char *path, int nlines, int temp_from)
{
	FILE *f = fopen(path, "wb");
	ASSERT(f != NULL);
	uint64_t s = 42;
	for (int i = 0; i < nlines; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		unsigned r = (unsigned)(s >> 33);
		unsigned kind = r % 100;
		if (kind == 0) {
			fputs("{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"countr\n", f);
			continue;
		}
		if (kind == 1) {
			fputs("{\"finished\": \"2024-13-15T10:00:00Z\", \"userLocation\": {}, "
			      "\"status\": \"OK\", \"trace\": [], \"userID\": 5}\n", f);
			continue;
		}
		/* A third of the lines are the hot key's (one month, country, first trace). */
		int hot = (r >> 20) % 3 == 0;
		char country[32];
		switch (hot ? 7 : (r >> 7) % 8) {
		case 0: strcpy(country, ""); break;
		case 1: strcpy(country, "\"country\": null"); break;
		case 2: strcpy(country, "\"country\": \"\""); break;
		default: snprintf(country, sizeof country, "\"country\": \"C%u\"", hot ? 0 : (r >> 10) % 40); break;
		}
		char user[40];
		if (kind == 2)
			strcpy(user, "");
		else if (kind == 3)
			strcpy(user, ", \"userID\": 1.5");
		else
			snprintf(user, sizeof user, ", \"userID\": %u", (r >> 3) % 3 == 0 ? r : r % 50);
		int day = 1 + (int)((r >> 5) % 28), month = hot ? 10 : 9 + (int)((r >> 4) % 3);
		fprintf(f, "{\"finished\": \"2024-%02d-%02dT10:00:00Z\", \"userLocation\": {%s}",
		        month, day, country);
		if (kind < 15) {
			fprintf(f, ", \"status\": \"NODATA\"%s}\n", user);
			continue;
		}
		fputs(", \"status\": \"OK\", \"trace\": [", f);
		int ntr = 1 + (int)((r >> 11) % 4);
		for (int t = 0; t < ntr; t++) {
			unsigned q = (r >> (t * 3)) ^ (unsigned)i;
			const char *net = "FR", *start = "2024-10-14T00:00:00";
			char sta[16];
			switch (t == 0 && hot ? 9 : i < temp_from && q % 10 < 2 ? 2 : q % 10) {
			case 0: net = "7C"; start = "2019-03-02T00:00:00"; break;  /* → 7C2018 */
			case 1: net = "7C"; start = "2013-01-01T00:00:00"; break;  /* refused */
			case 2: net = "G"; break;
			default: break;
			}
			if (t == 0 && hot)
				strcpy(sta, "HOT");
			else if ((q >> 4) % 4 == 0)
				snprintf(sta, sizeof sta, "W%u", (q >> 6) % 8);
			else
				snprintf(sta, sizeof sta, "S%u", (q >> 6) % 3000);
			fprintf(f, "%s{\"cha\": \"HHZ\", \"sta\": \"%s\", \"start\": \"%s\", \"net\": \"%s\", "
			        "\"loc\": \"%s\", \"bytes\": %u, \"status\": \"%s\"}", t ? ", " : "", sta, start,
			        net, q % 2 && !(t == 0 && hot) ? "00" : "", q % 100000,
			        (q >> 9) % 9 || (t == 0 && hot) ? "OK" : "NODATA");
		}
		fprintf(f, "]%s}\n", user);
	}
	ASSERT(fclose(f) == 0);
}

/* The parse workers' batch tables, merged in order, give the sequential
 * path's payload, HLL forms, counts and warnings in order (1, 2, 3 threads). */
TEST(agg_batch_tables_equal_sequential)
{
	char *path = strdup(unit_tmp("batches.log"));
	write_batch_log(path, 60000, 0);
	netx_t *nx = netx_for("edge-cases");
	agg_counts_t c1;
	char *seq = same_with_threads(path, nx, 0, &c1);
	/* The log holds what it should. */
	ASSERT_EQ(c1.lines, 60000);
	ASSERT(c1.json_errors > 300 && c1.bad_dates > 300 && c1.invalid > 600);
	ASSERT(c1.refused_traces > 1000 && c1.missing_country > 1000 && c1.failures > 1000);
	ASSERT(c1.bytes_out > (8u << 20));
	cJSON *p = cJSON_Parse(seq);
	ASSERT(p != NULL);
	int types[5] = { 0 };
	size_t nstats = 0;
	const cJSON *st;
	cJSON_ArrayForEach(st, cJSON_GetObjectItem(p, "stats")) {
		const char *hex = cJSON_GetObjectItem(st, "clients")->valuestring;
		types[hex[3] - '0']++;
		nstats++;
	}
	ASSERT(nstats > 20000);
	ASSERT(types[HLL_EXPLICIT] > 0);
	ASSERT(types[HLL_SPARSE] > 0);
	ASSERT(types[HLL_FULL] > 0);
	cJSON_Delete(p);
	free(seq);
	netx_fini(nx);
	free(path);
}

/* Aggregates path with 1, 2 and 3 threads, each failing with want; checks
 * that the warnings and the counters (but the lines read ahead into batches)
 * agree and returns those of one thread. */
static agg_counts_t fail_alike(const char *path, netx_t *nx, size_t max_stats, int want)
{
	uint64_t h[3];
	agg_counts_t c[3];
	for (unsigned t = 1; t <= 3; t++) {
		h[t - 1] = 14695981039346656037ull;
		agg_opts_t o = { .granularity = STATS_MONTH, .netx = nx, .warn = hash_warn,
		                 .ctx = &h[t - 1], .reader_threads = t, .max_stats = max_stats };
		agg_t *a = agg_new(&o);
		ASSERT_ERR(agg_file(a, path, -1, NULL), want);
		if (max_stats)
			ASSERT_EQ(agg_nstats(a), max_stats);
		c[t - 1] = *agg_counts(a);
		agg_free(a);
	}
	for (int t = 1; t < 3; t++) {
		ASSERT_EQ(h[t], h[0]);
		c[t].lines = c[0].lines;
		c[t].bytes_in = c[0].bytes_in;
		c[t].bytes_out = c[0].bytes_out;
		ASSERT_MEMEQ(&c[t], &c[0], sizeof c[0]);
	}
	return c[0];
}

/* A limit reached in the middle of the parallel part fails as sequentially:
 * the same error, the same warnings before it, the same counters. */
TEST(agg_batch_tables_limit_as_sequential)
{
	char *path = strdup(unit_tmp("batches-limit.log"));
	write_batch_log(path, 30000, 0);
	netx_t *nx = netx_for("edge-cases");
	agg_counts_t c = fail_alike(path, nx, 15000, ES_ELIMIT);
	ASSERT(c.successes > 10000);
	netx_fini(nx);
	free(path);
}

/* A worker that meets an error (here the registry: no source for a temporary
 * code, first seen far into the parallel part) leaves its batch to the
 * calling thread, which fails at the same line as one thread would, after
 * the same warnings. */
TEST(agg_batch_worker_error_as_sequential)
{
	char *path = strdup(unit_tmp("batches-unavail.log"));
	write_batch_log(path, 30000, 20000);
	netx_opts_t no = { 0 };
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &no));
	agg_counts_t c = fail_alike(path, nx, 0, ES_EUNAVAIL);
	ASSERT(c.successes > 20000);
	ASSERT_EQ(c.refused_traces, 0);
	netx_fini(nx);
	free(path);
}
