#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hll.h"
#include "request.h"
#include "unit.h"
#include "../fuzz/req_diff.h"

/*
 * Every "finished" form of doc/upstream-aggregator.md §4 and quirks.log, with the
 * date CPython 3.11's datetime.strptime() gives for upstream's two formats
 * (checked by running it), or NULL where both formats fail.
 */
static const struct { const char *in; const char *want; } date_cases[] = {
	{ "2024-10-15T10:00:00.123456Z", "2024-10-15" },
	{ "2024-10-31T23:59:59Z", "2024-10-31" },             /* second format */
	{ "2024-10-15T10:00:00.1Z", "2024-10-15" },           /* one fractional digit */
	{ "2024-10-15T10:00:00.12345Z", "2024-10-15" },
	{ "2024-11-01T00:30:00+02:00", "2024-11-01" },        /* offset not applied */
	{ "2024-10-31T22:00:00-05:00", "2024-10-31" },
	{ "2024-10-15T10:00:00+0530", "2024-10-15" },         /* offset without colon */
	{ "2024-10-15T10:00:00.1234567Z", NULL },             /* 7 fractional digits */
	{ "2024-10-15T10:00:00", NULL },                      /* no time zone */
	{ "2024-10-15T10:00:00.123456", NULL },
	{ "2024-10-15T10:00:00.123456z", NULL },              /* lower-case z */
	{ "2023-02-29T10:00:00Z", NULL },                     /* impossible date */
	{ "2024-02-29T10:00:00Z", "2024-02-29" },
	{ "1900-02-29T10:00:00Z", NULL },
	{ "2000-02-29T10:00:00Z", "2000-02-29" },
	{ "2024-04-31T10:00:00Z", NULL },
	{ "2024-10-15 10:00:00Z", NULL },                     /* space instead of T */
	{ "2024-10-15X10:00:00Z", NULL },
	{ "2024/10/15T10:00:00Z", NULL },
	{ "2024-10-15T10:00:00.123456+01:00:30", "2024-10-15" }, /* QUIRK: offset seconds */
	{ "2024-10-15t10:00:00.123456Z", "2024-10-15" },      /* QUIRK: lower-case t */
	{ "2024-10-5T9:3:7Z", "2024-10-05" },                 /* QUIRK: one-digit fields */
	{ "2024-10- 5T10:00:00Z", "2024-10-05" },             /* QUIRK: space + digit day */
	{ "2024-10-  5T10:00:00Z", NULL },
	{ "2024-10-1 T10:00:00Z", NULL },
	{ "2024-1-05T10:00:00Z", "2024-01-05" },
	{ "2024-10-15T1:2:3.5+00:00", "2024-10-15" },
	{ "2024-10-15T10:00:0Z", "2024-10-15" },
	{ "2024-10-15T10:0:00Z", "2024-10-15" },
	{ "2024-10-15T9:00:00Z", "2024-10-15" },
	{ "2024-10-15T010:00:00Z", NULL },
	{ "2024-010-15T10:00:00Z", NULL },
	{ "2024-10-015T10:00:00Z", NULL },
	{ "0000-01-01T00:00:00Z", NULL },                     /* year 0 */
	{ "0001-01-01T00:00:00Z", "0001-01-01" },
	{ "9999-12-31T23:59:59Z", "9999-12-31" },
	{ "24-10-15T10:00:00Z", NULL },
	{ "20241-10-15T10:00:00Z", NULL },
	{ "2024-13-15T10:00:00Z", NULL },
	{ "2024-00-15T10:00:00Z", NULL },
	{ "2024-10-32T10:00:00Z", NULL },
	{ "2024-10-00T10:00:00Z", NULL },
	{ "2024-10-15T24:00:00Z", NULL },
	{ "2024-10-15T10:60:00Z", NULL },
	{ "2024-10-15T10:00:60Z", NULL },                     /* leap seconds refused */
	{ "2024-10-15T10:00:61Z", NULL },
	{ "2024-10-15T10:00:62Z", NULL },
	{ " 2024-10-15T10:00:00Z", NULL },                    /* blanks */
	{ "2024-10-15T10:00:00Z ", NULL },
	{ "2024-10-15T10:00:00.123456ZZ", NULL },
	{ "2024-10-15T10:00:00Z+01:00", NULL },
	{ "2024-10-15T10:00:00+02", NULL },                   /* no minutes */
	{ "2024-10-15T10:00:00+1:00", NULL },
	{ "2024-10-15T10:00:00.Z", NULL },                    /* '.' without digits */
	{ "2024-10-15T10:00:00.+01:00", NULL },
	{ "2024-10-15T10:00:00.123456 +01:00", NULL },
	{ "2024-10-15T10:00:00+24:00", NULL },                /* |offset| >= 24 h */
	{ "2024-10-15T10:00:00+23:59", "2024-10-15" },
	{ "2024-10-15T10:00:00-23:59:59.999999", "2024-10-15" },
	{ "2024-10-15T10:00:00+01:60", NULL },
	{ "2024-10-15T10:00:00.000000-00:00", "2024-10-15" },
	{ "2024-10-15T10:00:00-0000", "2024-10-15" },
	{ "2024-10-15T10:00:00+00:00:00", "2024-10-15" },
	{ "2024-10-15T10:00:00+01:0030", NULL },              /* inconsistent colons */
	{ "2024-10-15T10:00:00+0100:30", NULL },
	{ "2024-10-15T10:00:00+00:0000", NULL },
	{ "2024-10-15T10:00:00+0000:00", NULL },
	{ "2024-10-15T10:00:00+010030", "2024-10-15" },
	{ "2024-10-15T10:00:00+01:00:30.5", "2024-10-15" },
	{ "2024-10-15T10:00:00+010030.5", "2024-10-15" },
	{ "2024-10-15T10:00:00+01:00:30.123456", "2024-10-15" },
	{ "2024-10-15T10:00:00+01:00:30.1234567", NULL },
	{ "2024-10-15T10:00:00+01:00:30.", NULL },
	{ "2024-10-15T10:00:00+01:00:3", NULL },
	{ "2024-10-15T10:00:00+01:00:", NULL },
	{ "2024-10-15T10:00:00+01:00:60", NULL },
	{ "2024-10-15T10:00:00+01:00.5", NULL },
	{ "", NULL },
	{ "2024", NULL },
};

TEST(request_date_table)
{
	for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
		int y = 0, m = 0, d = 0;
		int rc = req_parse_date(date_cases[i].in, strlen(date_cases[i].in), &y, &m, &d);
		if (!date_cases[i].want) {
			if (rc == 0)
				unit_fail(__FILE__, __LINE__, "\"%s\" parsed as %04d-%02d-%02d, expected a refusal",
				          date_cases[i].in, y, m, d);
			continue;
		}
		char got[16];
		if (rc != 0)
			unit_fail(__FILE__, __LINE__, "\"%s\" refused, expected %s", date_cases[i].in,
			          date_cases[i].want);
		snprintf(got, sizeof got, "%04d-%02d-%02d", y, m, d);
		ASSERT_STREQ(got, date_cases[i].want);
	}
}

TEST(request_date_reads_only_len_bytes)
{
	/* The value need not be NUL-terminated where len ends. */
	const char buf[] = "2024-10-15T10:00:00ZGARBAGE";
	int y, m, d;
	ASSERT_OK(req_parse_date(buf, 20, &y, &m, &d));
	ASSERT_EQ(y * 10000 + m * 100 + d, 20241015);
	ASSERT(req_parse_date(buf, 19, &y, &m, &d) == -1);
}

#define LINE_OK                                                                               \
	"{\"finished\": \"2024-10-15T10:00:00.123456Z\", \"userLocation\": {\"country\": \"FR\"}, " \
	"\"status\": \"OK\", \"userID\": 1111111111, \"trace\": [{\"net\": \"FR\", \"sta\": \"CIEL\", " \
	"\"loc\": \"00\", \"cha\": \"HHZ\", \"start\": \"2024-10-14T00:00:00.0000Z\", " \
	"\"bytes\": 4096, \"status\": \"OK\"}]}"

static enum req_verdict parse(req_parser_t *p, const char *line, const req_event_t **ev)
{
	return req_parse(p, line, strlen(line), 7, 0, ev);
}

TEST(request_canonical_line)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	ASSERT_EQ(parse(p, LINE_OK, &ev), REQ_OK);
	ASSERT_EQ(ev->year, 2024);
	ASSERT_EQ(ev->month, 10);
	ASSERT_EQ(ev->day, 15);
	ASSERT_STREQ(ev->country.s, "FR");
	ASSERT_EQ(ev->country_missing, 0);
	ASSERT_EQ(ev->ok, 1);
	ASSERT_EQ(ev->client_state, REQ_CLIENT_OK);
	/* doc/upstream-aggregator.md §8: userID 1111111111 → 0x47198F26. */
	ASSERT_EQ(ev->client_raw, 0x47198F26);
	ASSERT_EQ(ev->ntraces, 1);
	ASSERT_STREQ(ev->traces[0].net.s, "FR");
	ASSERT_STREQ(ev->traces[0].sta.s, "CIEL");
	ASSERT_STREQ(ev->traces[0].loc.s, "00");
	ASSERT_STREQ(ev->traces[0].cha.s, "HHZ");
	ASSERT_EQ(ev->traces[0].start.len, 10);
	ASSERT_MEMEQ(ev->traces[0].start.s, "2024-10-14", 10);
	ASSERT_EQ(ev->traces[0].bytes, 4096);
	ASSERT_STREQ(ev->msg, "");
	req_parser_free(p);
}

TEST(request_json_errors)
{
	static const char *const bad[] = {
		"", "   ", "not json", "{\"finished\": ", "{} {}", "{}x",
		"{\"a\": 01}", "{\"a\": -01}", "{\"a\": 1.}", "{\"a\": 1.e5}", "{\"a\": -}",
		"{\"a\": .5}", "{\"a\": +1}", "{\"a\": 1e}", "{\"a\": NaN}", "{\"a\": Infinity}",
		"{\"a\": \"x\ty\"}",        /* raw control character in a string */
		"\f{}", "{}\v", "{\"a\":\x01 1}",
		"{\"a\": \"\\u0000\"}",    /* cJSON would cut the string: refused */
		"{\"a\": \"\\ud800\"}",    /* lone surrogate: Python accepts, cJSON does not */
		"{\"a\": 1,}", "[1,]", "{'a': 1}", "{\"a\": tru}", "{\"a\": nullx}",
		"\xEF\xBB\xBF{}",          /* BOM in a plain-text line */
	};
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(p, bad[i], &ev) != REQ_JSON)
			unit_fail(__FILE__, __LINE__, "line %zu (%s) was not a JSON error", i, bad[i]);
		ASSERT_STREQ(ev->msg, "Line 7 could not be parsed as JSON. Ignoring");
	}
	req_parser_free(p);
}

TEST(request_invalid_utf8)
{
	static const char *const bad[] = {
		"{\"a\": \"\xff\"}", "{\"a\": \"\xc3\"}", "{\"a\": \"\xc0\xaf\"}",
		"{\"a\": \"\xed\xa0\x80\"}", "{\"a\": \"\xf4\x90\x80\x80\"}", "\x80",
	};
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASSERT_EQ(parse(p, bad[i], &ev), REQ_JSON);
		ASSERT_STREQ(ev->msg, "Line 7 is not valid UTF-8. Ignoring");
	}
	req_parser_free(p);
}

TEST(request_bom_only_where_allowed)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	const char *line = "\xEF\xBB\xBF" LINE_OK;
	ASSERT_EQ(req_parse(p, line, strlen(line), 1, 0, &ev), REQ_JSON);
	ASSERT_EQ(req_parse(p, line, strlen(line), 1, 1, &ev), REQ_OK);
	ASSERT_STREQ(ev->traces[0].sta.s, "CIEL");
	req_parser_free(p);
}

TEST(request_whitespace_and_crlf)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	ASSERT_EQ(parse(p, " \t" LINE_OK " \r", &ev), REQ_OK);
	ASSERT_EQ(ev->ntraces, 1);
	req_parser_free(p);
}

/* Builds a line from LINE_OK with one substring replaced. */
static char *edit(const char *from, const char *to)
{
	static char buf[4096];
	const char *at = strstr(LINE_OK, from);
	if (!at)
		unit_fail(__FILE__, __LINE__, "edit: \"%s\" not in the line", from);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - LINE_OK), LINE_OK, to, at + strlen(from));
	return buf;
}

TEST(request_invalid_fields)
{
	/* Each edit of LINE_OK, and what the message must say: which field is wrong and how. */
	static const struct { const char *from, *to, *names; } cases[] = {
		{ "\"finished\": \"2024-10-15T10:00:00.123456Z\", ", "",
		  "\"finished\" is missing" },
		{ "\"2024-10-15T10:00:00.123456Z\"", "null",
		  "\"finished\" is not a string" },
		{ "\"2024-10-15T10:00:00.123456Z\"", "20241015",
		  "\"finished\" is not a string" },
		{ "\"userLocation\": {\"country\": \"FR\"}, ", "",
		  "\"userLocation\" is missing" },
		{ "{\"country\": \"FR\"}", "null",
		  "\"userLocation\" is not an object" },
		{ "{\"country\": \"FR\"}", "[\"FR\"]",
		  "\"userLocation\" is not an object" },
		{ "{\"country\": \"FR\"}", "{\"country\": 33}",
		  "\"country\" is neither a string nor null" },
		{ "\"status\": \"OK\", \"userID\"", "\"userID\"",
		  "\"status\" is missing" },
		{ ", \"trace\": [{", ", \"nottrace\": [{",
		  "an OK request has no \"trace\"" },
		{ "\"trace\": [{", "\"trace\": {\"x\": 1}, \"y\": [{",
		  "\"trace\" is not a list" },
		{ "\"net\": \"FR\", ", "",
		  "lacks one of net, sta, loc, cha, start, bytes" },
		{ "\"sta\": \"CIEL\", ", "",
		  "lacks one of net, sta, loc, cha, start, bytes" },
		{ "\"loc\": \"00\", ", "",
		  "lacks one of net, sta, loc, cha, start, bytes" },
		{ "\"cha\": \"HHZ\", ", "",
		  "lacks one of net, sta, loc, cha, start, bytes" },
		{ "\"start\": \"2024-10-14T00:00:00.0000Z\", ", "",
		  "lacks one of net, sta, loc, cha, start, bytes" },
		{ "\"bytes\": 4096, ", "",
		  "lacks one of net, sta, loc, cha, start, bytes" },
		{ ", \"status\": \"OK\"}]", "}]",
		  "a trace has no \"status\"" },
		{ "\"net\": \"FR\"", "\"net\": 12",
		  "a net, sta, loc or cha that is not a string" },
		{ "\"loc\": \"00\"", "\"loc\": null",
		  "a net, sta, loc or cha that is not a string" },
		{ "\"start\": \"2024-10-14T00:00:00.0000Z\"", "\"start\": null",
		  "a \"start\" that is not a string" },
		{ "\"bytes\": 4096", "\"bytes\": 4096.0",
		  "\"bytes\" that are not an integer" },
		{ "\"bytes\": 4096", "\"bytes\": \"4096\"",
		  "\"bytes\" that are not an integer" },
		{ "\"bytes\": 4096", "\"bytes\": 1e3",
		  "\"bytes\" that are not an integer" },
		{ "\"bytes\": 4096", "\"bytes\": 9223372036854775808",
		  "\"bytes\" beyond 64 bits" },
		{ "\"trace\": [{", "\"trace\": [7, {",
		  "a trace entry is not an object" },
	};
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *line = edit(cases[i].from, cases[i].to);
		if (parse(p, line, &ev) != REQ_INVALID)
			unit_fail(__FILE__, __LINE__, "case %zu was not invalid: %s", i, line);
		ASSERT(strstr(ev->msg, "Line 7: ") == ev->msg);
		ASSERT(strstr(ev->msg, "Ignoring this line") != NULL);
		if (!strstr(ev->msg, cases[i].names))
			unit_fail(__FILE__, __LINE__, "case %zu: \"%s\" does not say %s", i, ev->msg,
			          cases[i].names);
	}
	/* Not JSON objects at all. */
	static const char *const values[] = { "[]", "42", "\"x\"", "null", "[1, 2]" };
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		ASSERT_EQ(parse(p, values[i], &ev), REQ_INVALID);
	req_parser_free(p);
}

TEST(request_bad_date_verdict)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	/* A bad date wins over a missing userLocation: upstream skips before looking. */
	const char *line = "{\"finished\": \"2024-10-15 10:00:00Z\", \"status\": \"OK\"}";
	ASSERT_EQ(parse(p, line, &ev), REQ_DATE);
	ASSERT_STREQ(ev->msg, "Could not parse date 2024-10-15 10:00:00Z");
	req_parser_free(p);
}

TEST(request_country_forms)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	ASSERT_EQ(parse(p, edit("{\"country\": \"FR\"}", "{\"city\": \"Nice\"}"), &ev), REQ_OK);
	ASSERT_EQ(ev->country_missing, 1);
	ASSERT_STREQ(ev->country.s, "");
	ASSERT_STREQ(ev->msg, "No country code found in {\"city\":\"Nice\"}, default to empty string");
	ASSERT_EQ(parse(p, edit("\"FR\"}", "null}"), &ev), REQ_OK);
	ASSERT(ev->country.s == NULL);
	ASSERT_EQ(ev->country_missing, 0);
	ASSERT_EQ(parse(p, edit("\"FR\"}", "\"\"}"), &ev), REQ_OK);
	ASSERT_STREQ(ev->country.s, "");
	ASSERT_EQ(ev->country_missing, 0);
	/* Duplicate keys: the last one wins, as in Python. */
	ASSERT_EQ(parse(p, edit("\"FR\"}", "\"FR\", \"country\": \"DE\"}"), &ev), REQ_OK);
	ASSERT_STREQ(ev->country.s, "DE");
	req_parser_free(p);
}

TEST(request_status_rules)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	/* A non-OK request never looks at "trace", even a broken one. */
	ASSERT_EQ(parse(p, edit("\"status\": \"OK\", \"userID\"", "\"status\": \"NODATA\", \"userID\""),
	                &ev), REQ_OK);
	ASSERT_EQ(ev->ok, 0);
	ASSERT_EQ(ev->ntraces, 0);
	ASSERT_EQ(parse(p, edit("\"status\": \"OK\", \"userID\"", "\"status\": \"ok\", \"userID\""),
	                &ev), REQ_OK);
	ASSERT_EQ(ev->ok, 0);
	ASSERT_EQ(parse(p, edit("\"status\": \"OK\", \"userID\"", "\"status\": null, \"userID\""),
	                &ev), REQ_OK);
	ASSERT_EQ(ev->ok, 0);
	/* Traces whose status is not OK are skipped without checking their fields. */
	ASSERT_EQ(parse(p, edit("\"trace\": [{", "\"trace\": [{\"status\": \"NODATA\"}, {\"status\": 5}, {"),
	                &ev), REQ_OK);
	ASSERT_EQ(ev->ntraces, 1);
	ASSERT_EQ(parse(p, edit("\"trace\": [{", "\"trace\": [], \"x\": [{"), &ev), REQ_OK);
	ASSERT_EQ(ev->ok, 1);
	ASSERT_EQ(ev->ntraces, 0);
	/* The last "status" wins (quirks.log line 6). */
	ASSERT_EQ(parse(p, edit("\"status\": \"OK\", \"userID\"",
	                        "\"status\": \"NODATA\", \"status\": \"OK\", \"userID\""), &ev), REQ_OK);
	ASSERT_EQ(ev->ok, 1);
	req_parser_free(p);
}

TEST(request_client_values)
{
	static const struct { const char *uid; const char *text; } cases[] = {
		{ "1111111111", "1111111111" },
		{ "589198147", "589198147" },
		{ "-0", "0" },
		{ "-42", "-42" },
		{ "123456789012345678901234567890", "123456789012345678901234567890" },
		{ "\"abc\"", "abc" },
		{ "\"\\u00e9\"", "\xc3\xa9" },
		{ "true", "True" },
		{ "false", "False" },
		{ "null", "None" },
	};
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char to[128];
		snprintf(to, sizeof to, "\"userID\": %s", cases[i].uid);
		ASSERT_EQ(parse(p, edit("\"userID\": 1111111111", to), &ev), REQ_OK);
		ASSERT_EQ(ev->client_state, REQ_CLIENT_OK);
		ASSERT_EQ(ev->client_raw, hll_client_raw(cases[i].text, strlen(cases[i].text)));
	}
	/* §8's example: 589198147 hashes to -1132361014. */
	ASSERT_EQ(parse(p, edit("1111111111", "589198147"), &ev), REQ_OK);
	ASSERT_EQ(ev->client_raw, -1132361014);
	static const char *const bad[] = { "1.0", "1e3", "{}", "[1]" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char to[64];
		snprintf(to, sizeof to, "\"userID\": %s", bad[i]);
		ASSERT_EQ(parse(p, edit("\"userID\": 1111111111", to), &ev), REQ_OK);
		ASSERT_EQ(ev->client_state, REQ_CLIENT_BAD);
		ASSERT(ev->client_why != NULL);
	}
	ASSERT_EQ(parse(p, edit("\"userID\": 1111111111, ", ""), &ev), REQ_OK);
	ASSERT_EQ(ev->client_state, REQ_CLIENT_MISSING);
	req_parser_free(p);
}

TEST(request_numbers_map_to_their_text)
{
	/* Numbers before userID (in other fields, nested) must not shift which token is hashed. */
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	const char *line = edit("\"status\": \"OK\", \"userID\": 1111111111",
	                        "\"x\": [1, 2.5, {\"y\": -3e2}], \"status\": \"OK\", \"userID\": 77, "
	                        "\"z\": 8");
	ASSERT_EQ(parse(p, line, &ev), REQ_OK);
	ASSERT_EQ(ev->client_raw, hll_client_raw("77", 2));
	ASSERT_EQ(ev->traces[0].bytes, 4096);
	/* A float before bytes must not make bytes look like a float. */
	line = edit("\"bytes\": 4096", "\"w\": 0.5, \"bytes\": 9007199254740993");
	ASSERT_EQ(parse(p, line, &ev), REQ_OK);
	ASSERT_EQ(ev->traces[0].bytes, 9007199254740993LL);
	req_parser_free(p);
}

TEST(request_start_first_ten_characters)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	ASSERT_EQ(parse(p, edit("2024-10-14T00:00:00.0000Z", "\\u00e9\\u00e9\\u00e9345678901"), &ev),
	          REQ_OK);
	/* Ten characters: three 2-byte ones and seven ASCII digits. */
	ASSERT_EQ(ev->traces[0].start.len, 13);
	ASSERT_EQ(parse(p, edit("2024-10-14T00:00:00.0000Z", "2019"), &ev), REQ_OK);
	ASSERT_EQ(ev->traces[0].start.len, 4);
	req_parser_free(p);
}

TEST(request_non_ascii_codes)
{
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	ASSERT_EQ(parse(p, edit("CIEL", "\\u00c9CH\\ud83d\\ude00"), &ev), REQ_OK);
	ASSERT_STREQ(ev->traces[0].sta.s, "\xc3\x89" "CH\xf0\x9f\x98\x80");
	req_parser_free(p);
}

/* Reads the lines of a golden file (without '\n'); returns how many. */
static size_t read_lines(const char *path, char ***out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		unit_fail(__FILE__, __LINE__, "cannot open %s", path);
	char **lines = NULL;
	size_t n = 0, cap = 0;
	char *buf = NULL;
	size_t bcap = 0;
	ssize_t len;
	while ((len = getline(&buf, &bcap, f)) >= 0) {
		if (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			lines = realloc(lines, cap * sizeof *lines);
		}
		lines[n++] = strdup(buf);
	}
	free(buf);
	fclose(f);
	*out = lines;
	return n;
}

TEST(request_upstream_crash_lines)
{
	/* Each of these files has good lines around one line upstream crashes on. */
	static const struct { const char *file; size_t bad; enum req_verdict v; } sets[] = {
		{ "upstream-crashes/missing-finished.log", 1, REQ_INVALID },
		{ "upstream-crashes/null-finished.log", 1, REQ_INVALID },
		{ "upstream-crashes/missing-userlocation.log", 1, REQ_INVALID },
		{ "upstream-crashes/null-userlocation.log", 1, REQ_INVALID },
		{ "upstream-crashes/missing-status.log", 1, REQ_INVALID },
		{ "upstream-crashes/ok-without-trace.log", 1, REQ_INVALID },
		{ "upstream-crashes/trace-missing-net.log", 1, REQ_INVALID },
		{ "upstream-crashes/non-object-json.log", 1, REQ_INVALID },
		{ "upstream-crashes/json-string.log", 1, REQ_INVALID },
		{ "upstream-crashes/invalid-utf8.log", 1, REQ_JSON },
	};
	req_parser_t *p = req_parser_new();
	for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
		char **lines;
		size_t n = read_lines(unit_data(sets[s].file), &lines);
		ASSERT(n >= 2);
		for (size_t i = 0; i < n; i++) {
			const req_event_t *ev;
			enum req_verdict v = req_parse(p, lines[i], strlen(lines[i]), i + 1, 0, &ev);
			enum req_verdict want = i == sets[s].bad ? sets[s].v : REQ_OK;
			if (v != want)
				unit_fail(__FILE__, __LINE__, "%s line %zu: verdict %d, expected %d (%s)",
				          sets[s].file, i + 1, (int)v, (int)want, ev->msg);
			free(lines[i]);
		}
		free(lines);
	}
	/* missing-userid.log parses; its middle line has no client to record. */
	char **lines;
	size_t n = read_lines(unit_data("upstream-crashes/missing-userid.log"), &lines);
	ASSERT_EQ(n, 3);
	for (size_t i = 0; i < n; i++) {
		const req_event_t *ev;
		ASSERT_EQ(req_parse(p, lines[i], strlen(lines[i]), i + 1, 0, &ev), REQ_OK);
		ASSERT_EQ(ev->client_state, i == 1 ? REQ_CLIENT_MISSING : REQ_CLIENT_OK);
		free(lines[i]);
	}
	free(lines);
	req_parser_free(p);
}

TEST(request_value_limit)
{
	/* A line with more values than REQ_MAX_VALUES is refused before cJSON builds a tree. */
	size_t n = REQ_MAX_VALUES + 10;
	char *line = malloc(2 * n + 16);
	size_t k = 0;
	line[k++] = '[';
	for (size_t i = 0; i < n; i++) {
		line[k++] = '1';
		line[k++] = ',';
	}
	line[k - 1] = ']';
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	ASSERT_EQ(req_parse(p, line, k, 1, 0, &ev), REQ_JSON);
	req_parser_free(p);
	free(line);
}

/* README: Unicode digits in "finished" make the line malformed (Python's
 * int() and its date parser would accept them): a bad date, never a day. */
TEST(request_unicode_digits_in_finished)
{
	static const char *const dates[] = {
		"\xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa4-10-15T10:00:00Z",    /* Arabic-Indic 2024 */
		"2024-\xef\xbc\x91\xef\xbc\x90-15T10:00:00Z",          /* fullwidth 10 */
		"2024-10-\xe0\xa5\xa7\xe0\xa5\xab",                    /* Devanagari 15 */
		"2024-10-15T\xf0\x9d\x9f\x8f\xf0\x9d\x9f\x8e:00:00Z",  /* mathematical bold 10 */
		"2024-10-15T10:00:0\xd9\xa0Z",                         /* one Arabic-Indic 0 in the seconds */
		"2024-10-15T10:00:00.12\xd9\xa3Z",                     /* ... in the fraction */
	};
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;
	char msg[256];

	/* The same line with ASCII digits is fine. */
	ASSERT_EQ(parse(p, edit("2024-10-15T10:00:00.123456Z", "2024-10-15T10:00:00Z"), &ev), REQ_OK);
	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
		enum req_verdict v = parse(p, edit("2024-10-15T10:00:00.123456Z", dates[i]), &ev);
		if (v != REQ_DATE)
			unit_fail(__FILE__, __LINE__, "case %zu (%s): verdict %d, expected REQ_DATE", i,
			          dates[i], (int)v);
		snprintf(msg, sizeof msg, "Could not parse date %s", dates[i]);
		ASSERT_STREQ(ev->msg, msg);
	}
	req_parser_free(p);
}

TEST(request_number_literals_over_63_characters)
{
	/* 63 characters is the longest literal cJSON reads whole; a longer one makes the
	 * line malformed wherever it stands (userID, bytes, an unused field, a float). */
	char digits63[64], digits64[65], line[4096];
	req_parser_t *p = req_parser_new();
	const req_event_t *ev;

	memset(digits63, '7', 63);
	digits63[63] = '\0';
	memset(digits64, '7', 64);
	digits64[64] = '\0';
	ASSERT_EQ(parse(p, edit("1111111111", digits63), &ev), REQ_OK);
	ASSERT_EQ(parse(p, edit("1111111111", digits64), &ev), REQ_JSON);
	ASSERT_STREQ(ev->msg, "Line 7 could not be parsed as JSON. Ignoring");
	snprintf(line, sizeof line, "{\"extra\": %s, %s", digits64, LINE_OK + 1);
	ASSERT_EQ(parse(p, line, &ev), REQ_JSON);
	snprintf(line, sizeof line, "{\"extra\": 1.%s, %s", digits63, LINE_OK + 1);
	ASSERT_EQ(parse(p, line, &ev), REQ_JSON);
	snprintf(line, sizeof line, "{\"extra\": 1.%.61s, %s", digits63, LINE_OK + 1);
	ASSERT_EQ(parse(p, line, &ev), REQ_OK);
	req_parser_free(p);
}

/* Parses line with the fast path and with the cJSON reference; both bom settings. */
static void fast_vs_reference(req_parser_t *fast, req_parser_t *ref, const char *line, size_t len)
{
	for (int bom = 0; bom < 2; bom++) {
		const req_event_t *a, *b;
		enum req_verdict va = req_parse(fast, line, len, 9, bom, &a);
		enum req_verdict vb = req_parse(ref, line, len, 9, bom, &b);
		const char *d = req_diff(va, a, vb, b);
		if (d)
			fprintf(stderr, "differs in %s: %.*s\n", d, (int)(len > 200 ? 200 : len), line);
		ASSERT(d == NULL);
	}
}

static void fast_vs_reference_file(req_parser_t *fast, req_parser_t *ref, const char *rel)
{
	FILE *f = fopen(unit_data(rel), "rb");
	ASSERT(f != NULL);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lines = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;
		if (line[len - 1] == '\n')
			len--;
		fast_vs_reference(fast, ref, line, len);
		lines++;
	}
	ASSERT(lines > 0);
	free(line);
	fclose(f);
}

/* The fast path gives the reference's verdict, message and event on every
 * line of the edge-case goldens and on the forms it declines or must refuse. */
TEST(request_fast_path_matches_cjson)
{
	req_parser_t *fast = req_parser_new(), *ref = req_parser_new();
	req_parser_reference(ref, 1);
	fast_vs_reference_file(fast, ref, "edge-cases/edge.log");
	fast_vs_reference_file(fast, ref, "edge-cases/quirks.log");
	fast_vs_reference_file(fast, ref, "null-country/null-country.log");
	fast_vs_reference_file(fast, ref, "upstream-sample/test.log");
	static const char *const lines[] = {
		LINE_OK,
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"F\\u0052\"}, "
		"\"status\": \"NODATA\", \"userID\": 1}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"lat\": 1.5e3, \"x\": [1, true, null]}, "
		"\"status\": \"NODATA\", \"userID\": 1}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"finished\": 3}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {}, \"status\": \"OK\", "
		"\"trace\": [], \"trace\": {}}",
		"{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		"{\"a\": tru}", "{\"a\": nulll}", "{\"a\": falsee}", "{\"a\" 1}", "{\"a\":1,}", "[1,]",
		"{,}", "{\"a\"}", "{", "", " ", "null", "12", "\"s\"", "{} x", "{}{}", "{}\r",
		"\xEF\xBB\xBF{}", "{\"a\": \"x\\\"y\"}", "{\"a\":\t1 ,\"b\" :[ ]}",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		fast_vs_reference(fast, ref, lines[i], strlen(lines[i]));
	req_parser_free(fast);
	req_parser_free(ref);
}

/* Strings are scanned eight bytes at a time: a quote, a backslash or a control
 * character is found at every offset from a word's start, and bytes next to
 * them (0x20, 0x7F, UTF-8, '!' and ']' around '"' and '\\') are not taken for them. */
TEST(request_string_stops_at_every_offset)
{
	req_parser_t *fast = req_parser_new(), *ref = req_parser_new();
	req_parser_reference(ref, 1);
	static const char *const specials[] = { "\x01", "\x1F", "\\\"", "\\\\", "\\u0041", " ",
	                                        "\x7F", "\xC3\xA9", "!", "]", "#", "[" };
	static const char *const decoded[] = { NULL, NULL, "\"", "\\", "A", " ", "\x7F", "\xC3\xA9",
	                                       "!", "]", "#", "[" };
	for (size_t sp = 0; sp < sizeof specials / sizeof specials[0]; sp++) {
		for (int k = 0; k < 26; k++) {
			char s[64], want[64], line[256];
			memset(s, 'A', (size_t)k);
			snprintf(s + k, sizeof s - (size_t)k, "%sBCDEFGHIJ", specials[sp]);
			snprintf(line, sizeof line, "{\"finished\": \"2024-10-15T10:00:00Z\", "
			         "\"userLocation\": {\"country\": \"%s\"}, \"status\": \"NODATA\", "
			         "\"userID\": 1}", s);
			fast_vs_reference(fast, ref, line, strlen(line));
			const req_event_t *ev;
			enum req_verdict v = parse(fast, line, &ev);
			if (!decoded[sp]) {
				ASSERT_EQ(v, REQ_JSON);
				continue;
			}
			ASSERT_EQ(v, REQ_OK);
			memset(want, 'A', (size_t)k);
			snprintf(want + k, sizeof want - (size_t)k, "%sBCDEFGHIJ", decoded[sp]);
			ASSERT_STREQ(ev->country.s, want);
		}
	}
	req_parser_free(fast);
	req_parser_free(ref);
}

/* fast_vs_reference() on an exact-size heap copy (so ASan sees any read past len);
 * returns whether the fast path judged the line itself. */
static int fast_vs_reference_exact(req_parser_t *fast, req_parser_t *ref, const char *line,
                                   size_t len)
{
	char *copy = malloc(len ? len : 1);
	ASSERT(copy != NULL);
	memcpy(copy, line, len);
	fast_vs_reference(fast, ref, copy, len);
	const req_event_t *ev;
	req_parse(fast, copy, len, 9, 0, &ev);
	int taken = req_parser_last_fast(fast);
	free(copy);
	return taken;
}

#define L_HEAD "{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
#define L_TR(net, bytes, st)                                                               \
	"{\"net\": \"" net "\", \"sta\": \"S\", \"loc\": \"\", \"cha\": \"HHZ\", "             \
	"\"start\": \"2024-10-14T00:00:00Z\", \"bytes\": " bytes ", \"status\": \"" st "\"}"

/*
 * The one-pass fast path against the cJSON reference on lines it judges itself
 * (asserted: a test of a declined line would compare cJSON with cJSON):
 * duplicate keys at every level, keys in other orders, unknown fields with
 * nested values, nulls, numbers at the int64 edges, traces that are not OK or
 * not valid, and UTF-8 of every length; then lines it must decline.
 */
TEST(request_fast_path_one_pass_tricky_lines)
{
	req_parser_t *fast = req_parser_new(), *ref = req_parser_new();
	req_parser_reference(ref, 1);
	static const char *const taken[] = {
		LINE_OK,
		/* Duplicate keys: the last one wins, whatever the types. */
		L_HEAD "\"finished\": \"2023-01-02T00:00:00Z\", \"status\": \"OK\", \"userID\": 1, \"trace\": []}",
		L_HEAD "\"finished\": 5, \"status\": \"OK\", \"userID\": 1, \"trace\": []}",
		"{\"finished\": 5, \"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, "
		"\"status\": \"OK\", \"userID\": 1, \"trace\": []}",
		L_HEAD "\"userLocation\": {\"country\": \"DE\", \"country\": null}, \"status\": \"OK\", "
		"\"userID\": 1, \"trace\": []}",
		L_HEAD "\"userLocation\": [1], \"status\": \"OK\", \"userID\": 1, \"trace\": []}",
		"{\"userLocation\": 3, \"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"IT\"}, "
		"\"status\": \"NODATA\", \"userID\": 2}",
		L_HEAD "\"status\": \"NODATA\", \"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("FR", "1", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"status\": \"NODATA\", \"userID\": 1, \"trace\": 5}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("A", "1", "OK") "], \"trace\": ["
		L_TR("B", "2", "OK") ", " L_TR("C", "3", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("A", "1", "OK") "], \"trace\": {}}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [5], \"trace\": [" L_TR("A", "1", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"net\": \"X\", \"sta\": \"S\", \"loc\": \"\", "
		"\"cha\": \"C\", \"start\": \"s\", \"bytes\": 1, \"status\": \"OK\", \"net\": \"Y\", \"bytes\": 7, "
		"\"status\": \"OK\", \"loc\": \"10\"}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"status\": \"OK\", \"status\": \"NODATA\"}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": \"a\", \"userID\": true, \"trace\": []}",
		/* Other key orders, unknown fields with nested values. */
		"{\"trace\": [{\"bytes\": 9, \"status\": \"OK\", \"cha\": \"Z\", \"x\": {\"net\": 1, \"a\": [{}, []]}, "
		"\"loc\": \"\", \"start\": \"2024\", \"sta\": \"S\", \"net\": \"N\"}], \"userID\": \"u\", "
		"\"status\": \"OK\", \"z\": [[1, 2.5e-3, {\"trace\": 1}], null], \"userLocation\": "
		"{\"lat\": -1.5, \"country\": \"NL\", \"c\": {\"country\": 1}}, \"finished\": \"2024-10-15T10:00:00Z\"}",
		"{\"a\": {\"finished\": 1, \"userLocation\": 2, \"status\": 3, \"trace\": 4, \"userID\": {}}, "
		"\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}, \"status\": \"OK\", "
		"\"trace\": [], \"userID\": [1]}",
		/* Nulls and other types where strings are expected. */
		L_HEAD "\"status\": null, \"userID\": null}",
		"{\"finished\": null}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": 1}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": null}, \"status\": \"OK\"}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}}",
		"{\"finished\": \"2024-13-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}}",
		"{\"finished\": \"not a date at all \xC3\xA9\"}",
		"{}",
		"{\"userLocation\": {}}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "null", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"net\": null, \"sta\": \"S\", \"loc\": \"\", "
		"\"cha\": \"C\", \"start\": \"s\", \"bytes\": 1, \"status\": \"OK\"}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"net\": \"N\", \"sta\": \"S\", \"loc\": \"\", "
		"\"cha\": \"C\", \"start\": [], \"bytes\": 1, \"status\": \"OK\"}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"net\": \"N\", \"sta\": \"S\", \"loc\": \"\", "
		"\"cha\": \"C\", \"bytes\": 1, \"status\": \"OK\"}]}",
		/* Numbers at the int64 edges, floats, -0. */
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "9223372036854775807", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "-9223372036854775808", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "9223372036854775808", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "-9223372036854775809", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "18446744073709551616", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "1e3", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "1.0", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("N", "-0", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": -0, \"trace\": []}",
		L_HEAD "\"status\": \"OK\", \"userID\": -9223372036854775809, \"trace\": []}",
		L_HEAD "\"status\": \"OK\", \"userID\": 123456789012345678901234567890, \"trace\": []}",
		L_HEAD "\"status\": \"OK\", \"userID\": 0.5, \"trace\": []}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1E+2, \"trace\": []}",
		L_HEAD "\"status\": \"OK\", \"userID\": false, \"trace\": []}",
		L_HEAD "\"status\": \"OK\", \"trace\": []}",
		/* Traces that are not OK, or not objects, or after a bad one. */
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("A", "\"x\"", "NODATA") ", "
		L_TR("B", "2", "OK") ", " L_TR("C", "3", "ok") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("A", "1", "OK") ", 5, {\"x\": 1}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"x\": 1}, " L_TR("A", "1.5", "OK") "]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [" L_TR("A", "1.5", "OK") ", [1], {}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1, \"trace\": [{\"status\": 1, \"net\": 2}]}",
		L_HEAD "\"status\": \"NODATA\", \"userID\": 1, \"trace\": [5, {}]}",
		L_HEAD "\"status\": \"OK\", \"userID\": 1}",
		/* UTF-8 of every length in values and keys, start cut at ten code points. */
		L_HEAD "\"status\": \"OK\", \"userID\": \"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\", \"trace\": ["
		"{\"net\": \"\xC3\xA9\", \"sta\": \"\xE2\x82\xAC\", \"loc\": \"\xF0\x9F\x98\x80\", \"cha\": \"\xEF\xBF\xBF\", "
		"\"start\": \"\xF4\x8F\xBF\xBF\xC2\x80\xE0\xA0\x80\xF0\x90\x80\x80\xED\x9F\xBF\xEE\x80\x80" "ABCDE\", "
		"\"bytes\": 1, \"status\": \"OK\", \"\xC3\xA9\": {\"\xF0\x9F\x98\x80\": 1}}]}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xE6\x97\xA5\"}, \"status\": 0}",
		/* Whitespace of every kind Python allows, everywhere it may stand. */
		" \t\r\n{ \"finished\" :\"2024-10-15T10:00:00Z\"\t,\r\"userLocation\"\n:\n{ \"country\" : \"FR\" } ,"
		"\"status\":\"OK\",\"userID\":1,\"trace\":[ " L_TR("A", "1", "OK") " , { \"status\" : \"OK\" } ] } \r",
	};
	for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
		int fp = fast_vs_reference_exact(fast, ref, taken[i], strlen(taken[i]));
		if (!fp)
			fprintf(stderr, "declined: %s\n", taken[i]);
		ASSERT(fp);
	}
	/* Declined: escapes, controls, bad UTF-8, a missing country, deep nesting, non-objects,
	 * JSON that Python refuses; the full path judges them (same outcome either way). */
	static const char *const declined[] = {
		L_HEAD "\"status\": \"OK\", \"userID\": \"a\\\"b\", \"trace\": []}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"F\\u0052\"}}",
		"{\"fin\\u0069shed\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"FR\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"F\tR\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xC0\x80\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xED\xA0\x80\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xF4\x90\x80\x80\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xE2\x82\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xC3\"",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"country\": \"\xFF\"}}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {\"city\": \"X\"}, \"status\": \"OK\"}",
		"{\"finished\": \"2024-10-15T10:00:00Z\", \"userLocation\": {}, \"status\": \"NODATA\", \"userID\": 1}",
		"{\"a\": 01}", "{\"a\": 1.}", "{\"a\": .5}", "{\"a\": -}", "{\"a\": 1e}", "{\"a\": +1}",
		"{\"a\": NaN}", "{\"a\": Infinity}", "{\"a\": 1}\x0B", "{\"a\":\x0C1}", "{\"a\": 1} 2",
		"{\"a\": 1}\xC3\xA9", "\xEF\xBB\xBF{}", "[]", "\"x\"", "1", "{\"a\": 1,}", "{\"a\": [1,]}",
		"{\"a\": 1234567890123456789012345678901234567890123456789012345678901234}",
		"{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
		int fp = fast_vs_reference_exact(fast, ref, declined[i], strlen(declined[i]));
		if (fp)
			fprintf(stderr, "taken: %s\n", declined[i]);
		ASSERT(!fp);
	}
	req_parser_free(fast);
	req_parser_free(ref);
}

/* A line cut off at every offset, and a line with each byte replaced by each of a
 * set of bytes that matter to the scanner: the fast path agrees with the reference
 * on all of them (each on an exact-size buffer, so ASan sees overreads). */
TEST(request_fast_path_cut_and_mutated_lines)
{
	req_parser_t *fast = req_parser_new(), *ref = req_parser_new();
	req_parser_reference(ref, 1);
	static const char line[] =
		L_HEAD "\"clientID\": \"ObsPy/1.4.0 (\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80)\", \"status\": \"OK\", "
		"\"userID\": -1480792910, \"z\": [true, false, null, {\"k\": 1.5e-7}], \"trace\": [" L_TR("RD", "8704", "OK")
		", " L_TR("RD", "9223372036854775807", "NODATA") ", {\"cha\": \"BHE\", \"sta\": \"H4OE5\", "
		"\"start\": \"2010-06-24T06:08:17.429253Z\", \"net\": \"RD\", \"restricted\": false, \"loc\": \"\", "
		"\"bytes\": 11264, \"status\": \"OK\", \"end\": \"2010-06-24T06:09:17.429253Z\"}]}";
	size_t len = sizeof line - 1;
	ASSERT(fast_vs_reference_exact(fast, ref, line, len));
	size_t taken = 0;
	for (size_t cut = 0; cut < len; cut++)
		taken += (size_t)fast_vs_reference_exact(fast, ref, line, cut);
	ASSERT_EQ(taken, 0);  /* No prefix is a whole object. */
	static const char subs[] = { '"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '-', 'e',
	                             '.', 'x', '\x01', '\x7F', (char)0x80, (char)0xC3, (char)0xFF };
	char *m = malloc(len);
	ASSERT(m != NULL);
	size_t ok = 0;
	for (size_t at = 0; at < len; at++)
		for (size_t k = 0; k < sizeof subs; k++) {
			if (line[at] == subs[k])
				continue;
			memcpy(m, line, len);
			m[at] = subs[k];
			ok += (size_t)fast_vs_reference_exact(fast, ref, m, len);
		}
	ASSERT(ok > 0);  /* Many mutations (inside strings) are still judged by the fast path. */
	free(m);
	req_parser_free(fast);
	req_parser_free(ref);
}

/* The common date form (read without the strptime alternatives) against the calendar:
 * every day of common, leap and century years, times at and past their limits,
 * fractions of 0-7 digits, 'T' or 't'. */
TEST(request_date_common_form_sweep)
{
	static const int years[] = { 1, 1900, 2000, 2023, 2024, 9999 };
	static const char *const times[] = { "00:00:00", "23:59:59", "24:00:00", "12:60:00",
	                                     "12:00:60", "12:00:61", "9:00:00" };
	static const char *const fracs[] = { "", ".1", ".123456", ".1234567", "." };
	int checked = 0;
	for (size_t yi = 0; yi < sizeof years / sizeof years[0]; yi++)
		for (int m = 0; m <= 13; m++)
			for (int d = 0; d <= 32; d++)
				for (size_t ti = 0; ti < sizeof times / sizeof times[0]; ti++)
					for (size_t fi = 0; fi < sizeof fracs / sizeof fracs[0]; fi++) {
						int y = years[yi], leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
						int mdays = m == 2 ? 28 + leap : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
						char buf[64];
						snprintf(buf, sizeof buf, "%04d-%02d-%02d%c%s%sZ", y, m, d,
						         (d & 1) ? 't' : 'T', times[ti], fracs[fi]);
						/* One-digit hours are one of the formats' forms. */
						int want = m >= 1 && m <= 12 && d >= 1 && d <= mdays && (ti < 2 || ti == 6)
						           && fi < 3;
						int gy = 0, gm = 0, gd = 0;
						int rc = req_parse_date(buf, strlen(buf), &gy, &gm, &gd);
						if ((rc == 0) != want)
							fprintf(stderr, "%s: %d\n", buf, rc);
						ASSERT_EQ(rc == 0, want);
						if (want)
							ASSERT_EQ(gy * 10000 + gm * 100 + gd, y * 10000 + m * 100 + d);
						checked++;
					}
	ASSERT(checked > 10000);
}
