#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "hll.h"
#include "jsonw.h"
#include "payload.h"
#include "utf8.h"
#include "stats.h"
#include "unit.h"

static char *escape(const char *s, size_t len)
{
	jsonw_t w;
	jsonw_init(&w, 0);
	int rc = jsonw_str(&w, s, len);
	if (rc)
		unit_fail(__FILE__, __LINE__, "jsonw_str: %s", es_strerror(rc));
	size_t n;
	return jsonw_take(&w, &n);
}

TEST(jsonw_escapes_like_python)
{
	/* Python: json.dumps(s) with ensure_ascii=True (doc/upstream-aggregator.md §7). */
	static const struct { const char *in; size_t len; const char *want; } cases[] = {
		{ "plain/text", 10, "\"plain/text\"" },
		{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
		{ "\b\t\n\f\r", 5, "\"\\b\\t\\n\\f\\r\"" },
		{ "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"" },
		{ "\x0b", 1, "\"\\u000b\"" },
		{ "\xc3\xa9", 2, "\"\\u00e9\"" },
		{ "\xc3\x89", 2, "\"\\u00c9\"" },
		{ "\xe2\x82\xac", 3, "\"\\u20ac\"" },
		{ "\xef\xbf\xbf", 3, "\"\\uffff\"" },
		{ "\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\"" },
		{ "\xf4\x8f\xbf\xbf", 4, "\"\\udbff\\udfff\"" },
		{ "C\x01\xc3\xa9\xf0\x9f\x98\x80", 8, "\"C\\u0001\\u00e9\\ud83d\\ude00\"" },
		{ "", 0, "\"\"" },
		{ "~ ", 2, "\"~ \"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = escape(cases[i].in, cases[i].len);
		ASSERT_STREQ(got, cases[i].want);
		free(got);
	}
	/* Every control character but the five short ones is \u00XX. */
	for (int c = 0; c < 0x20; c++) {
		char in = (char)c, want[16];
		if (strchr("\b\t\n\f\r", c) && c)
			continue;
		snprintf(want, sizeof want, "\"\\u%04x\"", c);
		char *got = escape(&in, 1);
		ASSERT_STREQ(got, want);
		free(got);
	}
}

TEST(jsonw_refuses_bad_utf8_and_sticks)
{
	jsonw_t w;
	jsonw_init(&w, 0);
	ASSERT_ERR(jsonw_str(&w, "\xc3", 1), ES_EFORMAT);
	ASSERT_ERR(jsonw_raw(&w, "x", 1), ES_EFORMAT);
	ASSERT_ERR(jsonw_error(&w), ES_EFORMAT);
	size_t n;
	ASSERT(jsonw_take(&w, &n) == NULL);
	ASSERT_EQ(n, 0);
	jsonw_fini(&w);
	static const char *const bad[] = { "\xed\xa0\x80", "\xc0\x80", "\xe0\x80\x80",
	                                   "\xf8\x88\x80\x80\x80", "\xff", "\x80" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ASSERT(!utf8_valid(bad[i], strlen(bad[i])));
	ASSERT(utf8_valid("plain ascii text, longer than eight bytes", 41));
}

TEST(jsonw_limit)
{
	jsonw_t w;
	jsonw_init(&w, 10);
	ASSERT_OK(jsonw_raw(&w, "0123456789", 10));
	ASSERT_ERR(jsonw_raw(&w, "x", 1), ES_ELIMIT);
	ASSERT_ERR(jsonw_u64(&w, 1), ES_ELIMIT);
	jsonw_reset(&w);
	ASSERT_OK(jsonw_i64(&w, -1234567));
	ASSERT_ERR(jsonw_str(&w, "xy", 2), ES_ELIMIT);
	ASSERT_STREQ(w.buf, "-1234567");
	jsonw_fini(&w);
	jsonw_init(&w, 30);
	ASSERT_OK(jsonw_i64(&w, INT64_MIN));
	ASSERT_STREQ(w.buf, "-9223372036854775808");
	jsonw_fini(&w);
}

TEST(payload_score_rounds_half_to_even)
{
	ASSERT_EQ(payload_score(5, 2), 2);   /* 2.5 → 2 */
	ASSERT_EQ(payload_score(7, 2), 4);   /* 3.5 → 4 */
	ASSERT_EQ(payload_score(1, 2), 0);   /* 0.5 → 0 */
	ASSERT_EQ(payload_score(3, 2), 2);   /* 1.5 → 2 */
	ASSERT_EQ(payload_score(1, 3), 0);
	ASSERT_EQ(payload_score(2, 3), 1);
	ASSERT_EQ(payload_score(200, 120), 2);      /* upstream-sample */
	ASSERT_EQ(payload_score(20000, 27756), 1);  /* synthetic-small */
	ASSERT_EQ(payload_score(6072, 11), 552);    /* hll-edges */
	ASSERT_EQ(payload_score(UINT64_MAX, UINT64_MAX), 1);
	ASSERT_EQ(payload_score(UINT64_MAX, 2), UINT64_MAX / 2 + 1);  /* x.5, x odd → up */
}

static stats_key_t key(const char *net, const char *sta, const char *loc, const char *cha,
                       const char *country)
{
	stats_key_t k = {
		.date = 20241030,
		.net = net, .net_len = strlen(net),
		.sta = sta, .sta_len = strlen(sta),
		.loc = loc, .loc_len = strlen(loc),
		.cha = cha, .cha_len = strlen(cha),
		.country = country, .country_len = country ? strlen(country) : 0,
	};
	return k;
}

TEST(payload_json_matches_the_documented_example)
{
	/* The example of doc/upstream-aggregator.md §7, rebuilt from its events. */
	stats_t *st = stats_new(STATS_MONTH, 0);
	stats_key_t fr = key("FR", "CIEL", "00", "HHZ", "FR");
	for (int i = 0; i < 8; i++)
		ASSERT_OK(stats_add(st, &fr, 4096, 1, 0x47198F26));
	stats_key_t de = key("", "", "--", "", "DE");
	for (int i = 0; i < 5; i++)
		ASSERT_OK(stats_add(st, &de, 0, 0, i % 2 ? 0x47198F26 : (int64_t)(int32_t)0xC23B1EEB));
	uint32_t days[] = { 20241030, 20241031 };
	payload_meta_t meta = {
		.generated_at = 1795904847,  /* 2026-11-28 22:27:27 UTC */
		.version = "0.8.0",
		.days = days, .ndays = 2,
		.aggregation_score = payload_score(26, 13),
	};
	char *json;
	size_t len;
	ASSERT_OK(payload_json(st, &meta, &json, &len));
	const char *want =
		"{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"0.8.0\", \"days_coverage\": "
		"[\"2024-10-30\", \"2024-10-31\"], \"aggregation_score\": 2, \"stats\": [{\"month\": "
		"\"2024-10-01\", \"network\": \"FR\", \"station\": \"CIEL\", \"location\": \"00\", "
		"\"channel\": \"HHZ\", \"country\": \"FR\", \"bytes\": 32768, \"nb_requests\": 8, "
		"\"nb_successful_requests\": 8, \"nb_unsuccessful_requests\": 0, \"clients\": "
		"\"\\\\x128B7F0000000047198F26\"}, {\"month\": \"2024-10-01\", \"network\": \"\", "
		"\"station\": \"\", \"location\": \"--\", \"channel\": \"\", \"country\": \"DE\", "
		"\"bytes\": 0, \"nb_requests\": 5, \"nb_successful_requests\": 0, "
		"\"nb_unsuccessful_requests\": 5, \"clients\": "
		"\"\\\\x128B7FFFFFFFFFC23B1EEB0000000047198F26\"}]}";
	ASSERT_STREQ(json, want);
	ASSERT_EQ(len, strlen(want));
	free(json);
	stats_free(st);
}

TEST(payload_json_null_country_and_escapes)
{
	stats_t *st = stats_new(STATS_MONTH, 0);
	stats_key_t k = key("FR", "C\x01\xc3\xa9\xf0\x9f\x98\x80", "", "HHZ", NULL);
	ASSERT_OK(stats_add(st, &k, 10, 1, 15));
	uint32_t day = 20241001;
	payload_meta_t meta = { .generated_at = 0, .version = "v\"1", .days = &day, .ndays = 1,
	                        .aggregation_score = 1 };
	char *json;
	size_t len;
	ASSERT_OK(payload_json(st, &meta, &json, &len));
	ASSERT(strstr(json, "\"generated_at\": \"1970-01-01 00:00:00\", \"version\": \"v\\\"1\"") != NULL);
	ASSERT(strstr(json, "\"station\": \"C\\u0001\\u00e9\\ud83d\\ude00\"") != NULL);
	ASSERT(strstr(json, "\"country\": null, \"bytes\": 10") != NULL);
	free(json);
	stats_free(st);
}

TEST(payload_json_without_stats)
{
	stats_t *st = stats_new(STATS_MONTH, 0);
	payload_meta_t meta = { .version = "0.8.0" };
	char *json = (char *)1;
	size_t len = 1;
	ASSERT_ERR(payload_json(st, &meta, &json, &len), ES_ENOSTATS);
	ASSERT(json == NULL);
	ASSERT_EQ(len, 0);
	stats_free(st);
}

static char *gunzip_file(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	if (!gz)
		unit_fail(__FILE__, __LINE__, "gzopen %s", path);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	int r;
	while ((r = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	ASSERT(r == 0);
	gzclose(gz);
	*len = n;
	return buf;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

TEST(payload_write_gz_roundtrip_and_overwrite)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/2024-10-30_2024-10-31.json.gz", unit_tmpdir());
	/* A text large enough for several deflate output blocks. */
	size_t big = 3 << 20;
	char *text = malloc(big);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + (i * 7919 % 26));
	ASSERT_OK(payload_write_gz(path, text, big));
	size_t n;
	char *back = gunzip_file(path, &n);
	ASSERT_EQ(n, big);
	ASSERT_MEMEQ(back, text, big);
	free(back);
	struct stat sb;
	ASSERT(stat(path, &sb) == 0);
	ASSERT_EQ(sb.st_mode & 0777, 0644);
	/* Overwrite with a shorter text; no temporary file stays behind. */
	ASSERT_OK(payload_write_gz(path, "{}", 2));
	back = gunzip_file(path, &n);
	ASSERT_EQ(n, 2);
	ASSERT_MEMEQ(back, "{}", 2);
	free(back);
	ASSERT_EQ(count_entries(unit_tmpdir()), 1);
	/* The gzip header: magic, deflate, FNAME flag, OS unknown, and the name without ".gz". */
	FILE *f = fopen(path, "rb");
	unsigned char hdr[64];
	size_t got = fread(hdr, 1, sizeof hdr, f);
	fclose(f);
	ASSERT(got > 10 + 26);
	ASSERT(hdr[0] == 0x1f && hdr[1] == 0x8b && hdr[2] == 8);
	ASSERT(hdr[3] & 0x08);
	ASSERT_EQ(hdr[9], 255);
	ASSERT_STREQ((char *)hdr + 10, "2024-10-30_2024-10-31.json");
	free(text);
}

TEST(payload_write_gz_errors)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/missing-dir/x.json.gz", unit_tmpdir());
	ASSERT_ERR(payload_write_gz(path, "{}", 2), -ENOENT);
	snprintf(path, sizeof path, "%s/", unit_tmpdir());
	ASSERT_ERR(payload_write_gz(path, "{}", 2), -EISDIR);
	/* A directory in the way of the rename. */
	snprintf(path, sizeof path, "%s/adir", unit_tmpdir());
	ASSERT(mkdir(path, 0755) == 0);
	int rc = payload_write_gz(path, "{}", 2);
	ASSERT(rc == -EISDIR);
	ASSERT_EQ(count_entries(unit_tmpdir()), 1);
}

TEST(payload_write_gz_stats_streams_the_same_text)
{
	/* Enough rows for several 1 MiB pieces, with escapes, null countries and dense HLLs. */
	stats_t *st = stats_new(STATS_DAY, 0);
	char sta[32], cc[8];
	for (int i = 0; i < 30000; i++) {
		snprintf(sta, sizeof sta, "S\"%d\\", i % 7000);
		snprintf(cc, sizeof cc, "%c%c", 'A' + i % 26, 'A' + i / 26 % 26);
		stats_key_t k = key("NE", sta, "00", "HHZ", i % 11 ? cc : NULL);
		k.date = STATS_DATE(2024, 10, 1 + i % 30);
		for (int c = 0; c < 1 + (i % 97 == 0) * 3000; c++)
			ASSERT_OK(stats_add(st, &k, i, 1, (int64_t)(i * 7919 + c) * 2654435761u));
	}
	uint32_t days[] = { 20241001, 20241030 };
	payload_meta_t meta = { .generated_at = 1795904847, .version = "v\"1", .days = days,
	                        .ndays = 2, .aggregation_score = 3 };
	char *json;
	size_t len;
	ASSERT_OK(payload_json(st, &meta, &json, &len));
	ASSERT(len > (3u << 20));
	char path[4096];
	snprintf(path, sizeof path, "%s/2024-10-01_2024-10-30.json.gz", unit_tmpdir());
	ASSERT_OK(payload_write_gz_stats(path, st, &meta, 0));
	size_t n;
	char *back = gunzip_file(path, &n);
	ASSERT_EQ(n, len);
	ASSERT_MEMEQ(back, json, len);
	free(back);
	/* The same header as payload_write_gz(): FNAME, OS unknown. */
	FILE *f = fopen(path, "rb");
	unsigned char hdr[64];
	ASSERT(fread(hdr, 1, sizeof hdr, f) > 40);
	fclose(f);
	ASSERT(hdr[3] & 0x08);
	ASSERT_EQ(hdr[9], 255);
	ASSERT_STREQ((char *)hdr + 10, "2024-10-01_2024-10-30.json");
	ASSERT_OK(unlink(path));
	free(json);
	stats_free(st);

	/* No statistics: nothing is written. */
	st = stats_new(STATS_MONTH, 0);
	ASSERT_ERR(payload_write_gz_stats(path, st, &meta, 0), ES_ENOSTATS);
	ASSERT_EQ(count_entries(unit_tmpdir()), 0);
	stats_free(st);
	/* A write error leaves nothing behind. */
	st = stats_new(STATS_MONTH, 0);
	stats_key_t k = key("NE", "S", "00", "HHZ", "FR");
	k.date = 20241001;
	ASSERT_OK(stats_add(st, &k, 1, 1, 5));
	snprintf(path, sizeof path, "%s/missing/x.json.gz", unit_tmpdir());
	ASSERT_ERR(payload_write_gz_stats(path, st, &meta, 0), -ENOENT);
	stats_free(st);
}

/* The text of row i as the plain jsonw calls write it (the fast path of
 * payload.c must agree with it). */
static void ref_row(jsonw_t *w, const stats_t *st, size_t i)
{
	stats_row_t r;
	char d[11], hex[HLL_HEX_MAX];
	stats_get(st, i, &r);
	payload_date_text(r.date, d);
	jsonw_lit(w, i ? ", {\"month\": " : "{\"month\": ");
	jsonw_str(w, d, 10);
	const char *names[] = { "network", "station", "location", "channel" };
	const char *vals[] = { r.net, r.sta, r.loc, r.cha };
	size_t lens[] = { r.net_len, r.sta_len, r.loc_len, r.cha_len };
	for (int f = 0; f < 4; f++) {
		jsonw_lit(w, ", \"");
		jsonw_lit(w, names[f]);
		jsonw_lit(w, "\": ");
		jsonw_str(w, vals[f], lens[f]);
	}
	jsonw_lit(w, ", \"country\": ");
	if (r.country)
		jsonw_str(w, r.country, r.country_len);
	else
		jsonw_lit(w, "null");
	jsonw_lit(w, ", \"bytes\": ");
	jsonw_i64(w, r.bytes);
	jsonw_lit(w, ", \"nb_requests\": ");
	jsonw_u64(w, r.nb_requests);
	jsonw_lit(w, ", \"nb_successful_requests\": ");
	jsonw_u64(w, r.nb_successful);
	jsonw_lit(w, ", \"nb_unsuccessful_requests\": ");
	jsonw_u64(w, r.nb_unsuccessful);
	jsonw_lit(w, ", \"clients\": \"\\");
	hll_to_hex(r.clients, hex);
	jsonw_lit(w, hex);
	jsonw_lit(w, "\"}");
}

/* Rows of every kind: plain, escaped, non-ASCII, long (past the fast
 * path's 512 bytes of strings), null country, negative and large byte
 * counts, EXPLICIT, SPARSE and FULL HLLs. */
static stats_t *mixed_table(size_t nrows)
{
	stats_t *st = stats_new(STATS_DAY, 0);
	char sta[700], cc[8];
	for (size_t i = 0; i < nrows; i++) {
		int kind = (int)(i % 9);
		if (kind == 3) {
			memset(sta, 'L', 600);
			snprintf(sta + 600, 100, "%zu", i);
		} else if (kind == 5) {
			snprintf(sta, sizeof sta, "S\"%zu\\\t\xc3\xa9", i);
		} else {
			snprintf(sta, sizeof sta, "S%zu", i);
		}
		snprintf(cc, sizeof cc, "%c%c", (char)('A' + i % 26), (char)('A' + i / 26 % 26));
		stats_key_t k = key(kind == 7 ? "N\x7f" : "NE", sta, kind == 2 ? "" : "00", "HHZ",
		                    kind == 4 ? NULL : cc);
		k.date = STATS_DATE(2024, 10, 1 + i % 30);
		int64_t bytes = kind == 6 ? -(int64_t)i - 1 : kind == 8 ? INT64_MAX / 4 : (int64_t)i;
		int clients = i % 50 == 0 ? 3000 : i % 20 == 0 ? 100 : 1 + (int)(i % 3);
		for (int c = 0; c < clients; c++)
			ASSERT_OK(stats_add(st, &k, c ? 0 : bytes, c % 2 == 0,
			                    (int64_t)(i * 7919 + (size_t)c) * 2654435761u));
	}
	return st;
}

TEST(payload_json_rows_agree_with_jsonw_calls)
{
	stats_t *st = mixed_table(400);
	uint32_t day = 20241001;
	payload_meta_t meta = { .generated_at = 1795904847, .version = "1", .days = &day,
	                        .ndays = 1, .aggregation_score = 7 };
	char *json;
	size_t len;
	ASSERT_OK(payload_json(st, &meta, &json, &len));
	jsonw_t w;
	jsonw_init(&w, 0);
	jsonw_lit(&w, "{\"generated_at\": \"2026-11-28 22:27:27\", \"version\": \"1\", "
	              "\"days_coverage\": [\"2024-10-01\"], \"aggregation_score\": 7, \"stats\": [");
	for (size_t i = 0; i < stats_count(st); i++)
		ref_row(&w, st, i);
	jsonw_lit(&w, "]}");
	ASSERT_OK(jsonw_error(&w));
	ASSERT_EQ(len, w.len);
	ASSERT_MEMEQ(json, w.buf, len);
	ASSERT(strstr(json, "\"bytes\": -7,") != NULL);
	jsonw_fini(&w);
	free(json);
	stats_free(st);
}

/* The text made by the threads that deflate it is payload_json()'s, byte for
 * byte, wherever the pieces are cut: a row per piece, pieces that one or
 * several rows fill exactly or overfill, one piece for everything; 1 row and
 * many; one thread and several. */
TEST(payload_write_gz_pieces_same_text_wherever_cut)
{
	const size_t nrows[] = { 1, 2, 3, 400 };
	/* 1: every row is its own piece; 276 = the estimate of a plain row with
	 * one client (net 2 + sta 2..4 + loc 2 + cha 3 + country 2 + 240 + 2*11),
	 * so pieces of one and two rows filled exactly and one byte off. */
	const size_t pieces[] = { 1, 275, 276, 277, 551, 552, 553, 4096, 65536, 0 };
	uint32_t day = 20241001;
	payload_meta_t meta = { .generated_at = 1795904847, .version = "v", .days = &day,
	                        .ndays = 1, .aggregation_score = 2 };
	char path[4096];
	snprintf(path, sizeof path, "%s/2024-10-01_2024-10-30.json.gz", unit_tmpdir());
	for (size_t ri = 0; ri < sizeof nrows / sizeof nrows[0]; ri++) {
		stats_t *st = mixed_table(nrows[ri]);
		char *json;
		size_t len;
		ASSERT_OK(payload_json(st, &meta, &json, &len));
		for (size_t pi = 0; pi < sizeof pieces / sizeof pieces[0]; pi++) {
			for (unsigned threads = 1; threads <= 3; threads++) {
				ASSERT_OK(payload_write_gz_pieces(path, st, &meta, threads, pieces[pi]));
				size_t n;
				char *back = gunzip_file(path, &n);
				ASSERT_EQ(n, len);
				ASSERT_MEMEQ(back, json, len);
				free(back);
			}
		}
		ASSERT_OK(unlink(path));
		free(json);
		stats_free(st);
	}
	/* No row: nothing is written, in either mode. */
	stats_t *st = stats_new(STATS_MONTH, 0);
	ASSERT_ERR(payload_write_gz_pieces(path, st, &meta, 2, 1), ES_ENOSTATS);
	ASSERT_ERR(payload_write_gz_pieces(path, st, &meta, 1, 1), ES_ENOSTATS);
	ASSERT_EQ(count_entries(unit_tmpdir()), 0);
	stats_free(st);
}

/* A string that is not UTF-8 in a late piece fails the whole file, made on
 * the threads or not, and leaves nothing behind. */
TEST(payload_write_gz_pieces_bad_utf8_late)
{
	stats_t *st = mixed_table(300);
	stats_key_t k = key("NE", "\xff\xfe", "00", "HHZ", "FR");
	ASSERT_OK(stats_add(st, &k, 1, 1, 5));
	uint32_t day = 20241001;
	payload_meta_t meta = { .generated_at = 1, .version = "v", .days = &day, .ndays = 1,
	                        .aggregation_score = 2 };
	char path[4096];
	snprintf(path, sizeof path, "%s/x.json.gz", unit_tmpdir());
	for (unsigned threads = 1; threads <= 2; threads++)
		ASSERT_ERR(payload_write_gz_pieces(path, st, &meta, threads, 1000), ES_EFORMAT);
	ASSERT_EQ(count_entries(unit_tmpdir()), 0);
	char *json = (char *)1;
	size_t len;
	ASSERT_ERR(payload_json(st, &meta, &json, &len), ES_EFORMAT);
	stats_free(st);
}
