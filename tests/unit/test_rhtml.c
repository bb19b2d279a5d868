/* Tests of rhtml.h: the report pages from report.json, and every bad-input path. */
#include "unit.h"

#include <cjson/cJSON.h>

#include "rhtml.h"
#include "utf8.h"

static cJSON *figs(double reqs, double ok, double bytes, double clients)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "nb_reqs", reqs);
	cJSON_AddNumberToObject(o, "nb_successful_reqs", ok);
	cJSON_AddNumberToObject(o, "nb_failed_reqs", reqs - ok);
	cJSON_AddNumberToObject(o, "bytes", bytes);
	cJSON_AddNumberToObject(o, "clients", clients);
	return o;
}

/* A small federation report of 2025-01 by the contract: two nodes, one missing two days. */
static cJSON *base_report(void)
{
	cJSON *r = cJSON_CreateObject(), *a, *n, *prev, *md;

	cJSON_AddNumberToObject(r, "schema", 1);
	cJSON_AddStringToObject(r, "scope", "federation");
	cJSON_AddStringToObject(r, "period", "2025-01");
	cJSON_AddStringToObject(r, "kind", "month");
	cJSON_AddStringToObject(r, "start", "2025-01-01");
	cJSON_AddStringToObject(r, "end", "2025-01-31");
	cJSON_AddStringToObject(r, "generated_at", "2026-11-29T19:00:00Z");
	a = cJSON_AddObjectToObject(r, "source");
	cJSON_AddStringToObject(a, "database", "eidastats on db1");
	cJSON_AddStringToObject(a, "stamp", "S-42");
	cJSON_AddNumberToObject(a, "payloads", 17);
	cJSON_AddItemToObject(r, "totals", figs(150, 120, 3 * 1073741824.0, 40));
	prev = cJSON_AddObjectToObject(r, "previous");
	cJSON_AddStringToObject(prev, "period", "2024-12");
	cJSON_AddItemToObject(prev, "totals", figs(100, 100, 4 * 1073741824.0, 50));
	prev = cJSON_AddObjectToObject(r, "year_before");
	cJSON_AddStringToObject(prev, "period", "2024-01");
	cJSON_AddItemToObject(prev, "totals", figs(0, 0, 0, 0));
	a = cJSON_AddArrayToObject(r, "trend");
	for (int i = 0; i < 24; i++) {
		char m[8];

		n = figs(10 * i, 9 * i, 1000.0 * i, i);
		snprintf(m, sizeof(m), "%04d-%02d", 2023 + (i + 1) / 12, (i + 1) % 12 + 1);
		cJSON_AddStringToObject(n, "month", m);
		cJSON_AddItemToArray(a, n);
	}
	a = cJSON_AddArrayToObject(r, "nodes");
	n = figs(100, 80, 2 * 1073741824.0, 30);
	cJSON_AddStringToObject(n, "node", "ALPHA");
	cJSON_AddNumberToObject(n, "days_expected", 31);
	cJSON_AddNumberToObject(n, "days_covered", 29);
	md = cJSON_AddArrayToObject(n, "missing_days");
	cJSON_AddItemToArray(md, cJSON_CreateString("2025-01-07"));
	cJSON_AddItemToArray(md, cJSON_CreateString("2025-01-08"));
	cJSON_AddStringToObject(n, "last_submission", "2025-02-01T03:00:00Z");
	cJSON_AddItemToArray(a, n);
	n = figs(50, 40, 1073741824.0, 10);
	cJSON_AddStringToObject(n, "node", "BETA");
	cJSON_AddNumberToObject(n, "days_expected", 31);
	cJSON_AddNumberToObject(n, "days_covered", 31);
	cJSON_AddArrayToObject(n, "missing_days");
	cJSON_AddNullToObject(n, "last_submission");
	cJSON_AddItemToArray(a, n);
	a = cJSON_AddArrayToObject(r, "networks");
	n = figs(70, 60, 1073741824.0, 20);
	cJSON_AddStringToObject(n, "node", "ALPHA");
	cJSON_AddStringToObject(n, "network", "FR");
	cJSON_AddFalseToObject(n, "restricted");
	cJSON_AddItemToArray(a, n);
	n = figs(80, 60, 2 * 1073741824.0, 25);
	cJSON_AddStringToObject(n, "node", "Other");
	cJSON_AddStringToObject(n, "network", "Other");
	cJSON_AddFalseToObject(n, "restricted");
	cJSON_AddItemToArray(a, n);
	a = cJSON_AddArrayToObject(r, "countries");
	n = figs(150, 120, 3 * 1073741824.0, 40);
	cJSON_AddStringToObject(n, "country", "FR");
	cJSON_AddItemToArray(a, n);
	return r;
}

/* Renders o (not freed); returns the rhtml code, the page in *out (NULL on failure). */
static int render(const cJSON *o, char **out, char *err, size_t errcap)
{
	char *txt = cJSON_PrintUnformatted(o);
	size_t n;
	int rc;

	ASSERT(txt);
	rc = rhtml_report(txt, strlen(txt), out, &n, err, errcap);
	if (rc == 0) {
		ASSERT(*out && strlen(*out) == n);
		ASSERT(utf8_valid(*out, n));
	} else {
		ASSERT(*out == NULL && n == 0);
	}
	free(txt);
	return rc;
}

static char *render_ok(const cJSON *o)
{
	char err[256], *out;
	int rc = render(o, &out, err, sizeof(err));

	if (rc)
		unit_fail(__FILE__, __LINE__, "rhtml_report: %s (%s)", err, es_strerror(rc));
	return out;
}

/* Expects the render of o to fail with code want and a message containing msg; frees o. */
static void expect_error(cJSON *o, int want, const char *msg, int line)
{
	char err[256], *out;
	int rc = render(o, &out, err, sizeof(err));

	if (rc != want || !strstr(err, msg))
		unit_fail(__FILE__, line, "got %d (%s) \"%s\", expected %d with \"%s\"", rc,
		          es_strerror(rc), err, want, msg);
	free(out);
	cJSON_Delete(o);
}
#define EXPECT_ERROR(o, want, msg) expect_error((o), (want), (msg), __LINE__)

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* What every page is: self-contained HTML for phones and print. */
static void assert_page(const char *s)
{
	ASSERT(!strncmp(s, "<!DOCTYPE html>", 15));
	ASSERT(strstr(s, "<meta charset=\"utf-8\">"));
	ASSERT(strstr(s, "<meta name=\"viewport\""));
	ASSERT(strstr(s, "@media print"));
	ASSERT(strstr(s, "svg.chart{display:block;max-width:100%"));
	ASSERT(strstr(s, ".tw{overflow-x:auto"));
	ASSERT(!strstr(s, "<script") && !strstr(s, "http:") && !strstr(s, "https:"));
	ASSERT(!strstr(s, "url(") && !strstr(s, "<img") && !strstr(s, "<link"));
	ASSERT(strstr(s, "</footer>\n</main></body></html>\n"));
}

TEST(rhtml_federation_page)
{
	cJSON *o = base_report();
	char *s = render_ok(o);

	assert_page(s);
	ASSERT(strstr(s, "<title>EIDA usage statistics: January 2025</title>"));
	ASSERT(strstr(s, "<nav><a href=\"../index.html\">All reports</a></nav>"));
	/* Headline: 150 requests against 100 (+50 %) and against a zero base (n/a). */
	ASSERT(strstr(s, "<div class=\"k\">Requests</div><div class=\"v\">150</div>"));
	ASSERT(strstr(s, "<div>vs 2024-12: <span class=\"up\">+50.0 %</span></div>"));
	/* Bytes: 3 GiB against 4 GiB. */
	ASSERT(strstr(s, "<div>vs 2024-12: <span class=\"down\">-25.0 %</span></div>"));
	ASSERT_EQ(count(s, "<div>vs 2024-01: <span class=\"na\">n/a</span></div>"), 5);
	ASSERT(strstr(s, "<div class=\"v\">3.00 GiB</div><div class=\"x\">3,221,225,472 bytes"));
	ASSERT(strstr(s, "80.0 % of the requests succeeded: 120 successful, 30 failed."));
	/* Charts: share, three trend lines, two per node, two network tops, countries. */
	ASSERT_EQ(count(s, "<svg "), 9);
	ASSERT(strstr(s, "Trend over 24 months"));
	/* The node with missing days is flagged in its row and its bar; the other is complete. */
	ASSERT(strstr(s, "<tr class=\"gap\"><td>ALPHA</td>"));
	ASSERT(strstr(s, "<span class=\"badge\">missing 2 days</span> <small>2025-01-07 to "
	              "2025-01-08</small>"));
	ASSERT(strstr(s, "<tr><td>BETA</td>"));
	ASSERT(strstr(s, "<td>never</td>"));
	ASSERT(strstr(s, "1 of 2 nodes did not send statistics for every day"));
	ASSERT_EQ(count(s, "class=\"bar warn\""), 4);   /* ALPHA and Other, twice each */
	/* The folded row is named as such. */
	ASSERT(strstr(s, "<tr class=\"other\"><td class=\"n\">1</td><td>Other</td><td>restricted"));
	ASSERT(strstr(s, "Other (restricted)"));
	/* The footer says when and from what. */
	ASSERT(strstr(s, "Made by eidastats-report at 2026-11-29T19:00:00Z from the database "
	              "eidastats on db1 (17 payloads, data as of S-42)."));
	free(s);
	cJSON_Delete(o);
}

TEST(rhtml_change_absent_and_optional_keys)
{
	cJSON *o = base_report();
	char *s;

	cJSON_DeleteItemFromObject(o, "previous");
	cJSON_ReplaceItemInObject(o, "year_before", cJSON_CreateNull());
	cJSON_DeleteItemFromObject(o, "trend");
	cJSON_DeleteItemFromObject(o, "source");
	cJSON_DeleteItemFromObject(o, "generated_at");
	s = render_ok(o);
	assert_page(s);
	ASSERT_EQ(count(s, "<div>vs previous period: <span class=\"na\">n/a</span></div>"), 5);
	ASSERT_EQ(count(s, "<div>vs a year before: <span class=\"na\">n/a</span></div>"), 5);
	ASSERT(!strstr(s, "Trend over"));
	ASSERT(strstr(s, "<footer><p>Made by eidastats-report.</p>"));
	free(s);
	cJSON_Delete(o);
}

TEST(rhtml_empty_arrays)
{
	cJSON *o = base_report();
	char *s;

	cJSON_ReplaceItemInObject(o, "nodes", cJSON_CreateArray());
	cJSON_ReplaceItemInObject(o, "networks", cJSON_CreateArray());
	cJSON_ReplaceItemInObject(o, "countries", cJSON_CreateArray());
	cJSON_ReplaceItemInObject(o, "totals", figs(0, 0, 0, 0));
	s = render_ok(o);
	assert_page(s);
	ASSERT(strstr(s, "No requests in this period."));
	ASSERT(strstr(s, "no requests</text>"));
	ASSERT_EQ(count(s, ">no data</text>"), 5);
	free(s);
	cJSON_Delete(o);
}

TEST(rhtml_escapes_everything)
{
	cJSON *o = base_report(), *n;
	const char *evil = "<b>&\"'x";
	char *s;

	n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "nodes"), 0);
	cJSON_ReplaceItemInObject(n, "node", cJSON_CreateString(evil));
	n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "networks"), 0);
	cJSON_ReplaceItemInObject(n, "network", cJSON_CreateString("<script>alert(1)</script>"));
	cJSON_ReplaceItemInObject(n, "node", cJSON_CreateString("N\xff\x01"));
	n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "countries"), 0);
	cJSON_ReplaceItemInObject(n, "country", cJSON_CreateString("</td>"));
	cJSON_ReplaceItemInObject(o, "generated_at", cJSON_CreateString("<i>"));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(o, "source"), "stamp",
	                          cJSON_CreateString("\"><svg onload=x>"));
	s = render_ok(o);
	assert_page(s);
	ASSERT(!strstr(s, "<b>") && !strstr(s, "<i>") && !strstr(s, "</td>\"") &&
	       !strstr(s, "<svg onload"));
	ASSERT(strstr(s, "&lt;b&gt;&amp;&quot;&#39;x"));
	ASSERT(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	ASSERT(strstr(s, "N\xef\xbf\xbd\xef\xbf\xbd"));
	ASSERT(strstr(s, "&lt;/td&gt;"));
	ASSERT(strstr(s, "&quot;&gt;&lt;svg onload=x&gt;"));
	free(s);
	cJSON_Delete(o);
}

TEST(rhtml_node_report)
{
	cJSON *o = base_report(), *a, *n;
	char *s;

	cJSON_ReplaceItemInObject(o, "scope", cJSON_CreateString("node"));
	cJSON_AddStringToObject(o, "node", "ALPHA");
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(o, "nodes"), 1);
	a = cJSON_GetObjectItem(o, "networks");
	n = cJSON_GetArrayItem(a, 1);
	cJSON_ReplaceItemInObject(n, "node", cJSON_CreateString("ALPHA"));
	cJSON_ReplaceItemInObject(n, "network", cJSON_CreateString("XR"));
	cJSON_ReplaceItemInObject(n, "restricted", cJSON_CreateTrue());
	a = cJSON_AddArrayToObject(o, "stations");
	n = figs(9, 8, 7, 6);
	cJSON_AddStringToObject(n, "network", "FR");
	cJSON_AddStringToObject(n, "station", "CALF");
	cJSON_AddItemToArray(a, n);
	a = cJSON_AddArrayToObject(o, "new_networks");
	n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "network", "ZZ");
	cJSON_AddFalseToObject(n, "restricted");
	cJSON_AddFalseToObject(n, "policy_defined");
	cJSON_AddItemToArray(a, n);
	n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "network", "XR");
	cJSON_AddTrueToObject(n, "restricted");
	cJSON_AddTrueToObject(n, "policy_defined");
	cJSON_AddItemToArray(a, n);
	s = render_ok(o);
	assert_page(s);
	ASSERT(strstr(s, "<title>Node ALPHA: January 2025</title>"));
	ASSERT(strstr(s, "<strong>Missing 2 days:</strong> 2025-01-07 to 2025-01-08"));
	ASSERT_EQ(count(s, "class=\"day miss\""), 2);
	ASSERT_EQ(count(s, "class=\"day ok\""), 29);
	ASSERT(strstr(s, "XR</td><td><span class=\"badge\">restricted</span>"));
	ASSERT(strstr(s, "XR (restricted)"));
	ASSERT(strstr(s, "1 new network is public by default"));
	ASSERT(strstr(s, "<tr class=\"dead\"><td>ZZ</td><td>public</td><td><span class=\"badge pub\">"
	              "public by default</span>"));
	ASSERT(strstr(s, "<td>FR</td><td>CALF</td>"));
	ASSERT(!strstr(s, "id=\"nodes\""));
	ASSERT(!strstr(s, "<nav>"));   /* Mailed as an attachment: no links to follow. */
	free(s);
	/* A node that sent nothing is flagged at a glance. */
	n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "nodes"), 0);
	a = cJSON_CreateArray();
	for (int d = 1; d <= 31; d++) {
		char day[16];

		snprintf(day, sizeof(day), "2025-01-%02d", d);
		cJSON_AddItemToArray(a, cJSON_CreateString(day));
	}
	cJSON_ReplaceItemInObject(n, "missing_days", a);
	cJSON_ReplaceItemInObject(n, "days_covered", cJSON_CreateNumber(0));
	s = render_ok(o);
	ASSERT(strstr(s, "No statistics arrived for this period."));
	ASSERT_EQ(count(s, "class=\"day miss\""), 31);
	free(s);
	cJSON_Delete(o);
}

static cJSON *with(cJSON *o, const char *key, cJSON *v);
static cJSON *item(cJSON *o, const char *key, int i);

TEST(rhtml_network_and_year_report)
{
	cJSON *o = base_report(), *md;
	char *s;

	cJSON_ReplaceItemInObject(o, "scope", cJSON_CreateString("network"));
	cJSON_AddStringToObject(o, "node", "ALPHA");
	cJSON_AddStringToObject(o, "network", "FR");
	cJSON_ReplaceItemInObject(o, "kind", cJSON_CreateString("year"));
	cJSON_ReplaceItemInObject(o, "period", cJSON_CreateString("2024"));
	cJSON_ReplaceItemInObject(o, "start", cJSON_CreateString("2024-01-01"));
	cJSON_ReplaceItemInObject(o, "end", cJSON_CreateString("2024-12-31"));
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(o, "nodes"), 1);
	md = cJSON_CreateArray();
	cJSON_AddItemToArray(md, cJSON_CreateString("2024-01-31"));
	cJSON_AddItemToArray(md, cJSON_CreateString("2024-02-01"));
	cJSON_AddItemToArray(md, cJSON_CreateString("2024-02-29"));
	cJSON_AddItemToArray(md, cJSON_CreateString("2024-12-30"));
	cJSON_AddItemToArray(md, cJSON_CreateString("2024-12-31"));
	with(item(o, "nodes", 0), "missing_days", md);
	s = render_ok(o);
	assert_page(s);
	ASSERT(strstr(s, "<title>Network FR at ALPHA: 2024</title>"));
	/* Runs across a month's end are one range; a year has 366 cells here. */
	ASSERT(strstr(s, "Missing 5 days:</strong> 2024-01-31 to 2024-02-01, 2024-02-29, "
	              "2024-12-30 to 2024-12-31</div>"));
	ASSERT_EQ(count(s, "class=\"day "), 366);
	ASSERT(strstr(s, "yearly report &middot; 366 days"));
	ASSERT(!strstr(s, "id=\"networks\""));
	ASSERT(strstr(s, "id=\"stations\"") && strstr(s, "id=\"countries\""));
	free(s);
	cJSON_Delete(o);
}

TEST(rhtml_bad_json_text)
{
	char err[256], *out;
	size_t n;
	char deep[4001];

	ASSERT_ERR(rhtml_report("{", 1, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT(out == NULL && n == 0 && strstr(err, "not JSON"));
	ASSERT_ERR(rhtml_report("", 0, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT_ERR(rhtml_report(NULL, 0, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT(strstr(err, "no input"));
	ASSERT_ERR(rhtml_report("{} x", 4, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT(strstr(err, "data after the value"));
	ASSERT_ERR(rhtml_report("[1]", 3, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT(strstr(err, "not a JSON object"));
	ASSERT_ERR(rhtml_report("{}", 2, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT_STREQ(err, "schema: missing");
	/* Too big is refused before it is read. */
	ASSERT_ERR(rhtml_report("{}", (size_t)RHTML_MAX_INPUT + 1, &out, &n, err, sizeof(err)),
	           ES_ELIMIT);
	/* Deep nesting is refused by the parser, not by the stack. */
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	ASSERT_ERR(rhtml_report(deep, strlen(deep), &out, &n, err, sizeof(err)), ES_EFORMAT);
	/* No room for a message: still the code, no write. */
	ASSERT_ERR(rhtml_report("{", 1, &out, &n, NULL, 0), ES_EFORMAT);
	/* A short buffer gets a truncated, terminated message. */
	ASSERT_ERR(rhtml_report("{}", 2, &out, &n, err, 4), ES_EFORMAT);
	ASSERT_STREQ(err, "sch");
}

static cJSON *with(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
	return o;
}

static cJSON *without(cJSON *o, const char *key)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	return o;
}

static cJSON *item(cJSON *o, const char *key, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, key), i);
}

TEST(rhtml_bad_header_keys)
{
	cJSON *o;

	EXPECT_ERROR(with(base_report(), "schema", cJSON_CreateNumber(2)), ES_EFORMAT,
	             "schema: 2 is not 1");
	EXPECT_ERROR(with(base_report(), "schema", cJSON_CreateString("1")), ES_EFORMAT,
	             "schema: not a non-negative integer");
	EXPECT_ERROR(without(base_report(), "scope"), ES_EFORMAT, "scope: missing");
	EXPECT_ERROR(with(base_report(), "scope", cJSON_CreateString("planet")), ES_EFORMAT,
	             "scope: not federation, node or network");
	EXPECT_ERROR(with(base_report(), "scope", cJSON_CreateNumber(1)), ES_EFORMAT,
	             "scope: not a string");
	EXPECT_ERROR(with(base_report(), "kind", cJSON_CreateString("week")), ES_EFORMAT,
	             "kind: not month or year");
	EXPECT_ERROR(with(base_report(), "period", cJSON_CreateString("2025")), ES_EFORMAT,
	             "period: not YYYY-MM");
	EXPECT_ERROR(with(base_report(), "period", cJSON_CreateString("2025-13")), ES_EFORMAT,
	             "period: not YYYY-MM");
	EXPECT_ERROR(with(base_report(), "period", cJSON_CreateString("../x/")), ES_EFORMAT,
	             "period: not YYYY-MM");
	EXPECT_ERROR(with(base_report(), "kind", cJSON_CreateString("year")), ES_EFORMAT,
	             "period: not YYYY");
	EXPECT_ERROR(with(base_report(), "start", cJSON_CreateString("2025-02-29")), ES_EFORMAT,
	             "start: not a date YYYY-MM-DD");
	EXPECT_ERROR(with(base_report(), "end", cJSON_CreateNull()), ES_EFORMAT, "end: missing");
	EXPECT_ERROR(with(base_report(), "end", cJSON_CreateString("2024-12-31")), ES_EFORMAT,
	             "not a period of 1 to 366 days");
	EXPECT_ERROR(with(base_report(), "end", cJSON_CreateString("2026-01-31")), ES_EFORMAT,
	             "not a period of 1 to 366 days");
	EXPECT_ERROR(with(base_report(), "generated_at", cJSON_CreateNumber(5)), ES_EFORMAT,
	             "generated_at: not a string");
	EXPECT_ERROR(with(base_report(), "source", cJSON_CreateString("db")), ES_EFORMAT,
	             "source: not an object");
	EXPECT_ERROR(with(with(base_report(), "scope", cJSON_CreateString("node")), "node",
	                  cJSON_CreateNull()), ES_EFORMAT, "node: missing");
	o = with(base_report(), "scope", cJSON_CreateString("network"));
	EXPECT_ERROR(with(o, "node", cJSON_CreateString("A")), ES_EFORMAT, "network: missing");
}

TEST(rhtml_bad_figures)
{
	cJSON *o;

	EXPECT_ERROR(without(base_report(), "totals"), ES_EFORMAT, "totals: missing");
	EXPECT_ERROR(with(base_report(), "totals", cJSON_CreateArray()), ES_EFORMAT,
	             "totals: not an object");
	o = base_report();
	without(cJSON_GetObjectItem(o, "totals"), "clients");
	EXPECT_ERROR(o, ES_EFORMAT, "totals.clients: missing");
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "nb_reqs", cJSON_CreateString("150"));
	EXPECT_ERROR(o, ES_EFORMAT, "totals.nb_reqs: not a non-negative integer");
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "bytes", cJSON_CreateNumber(-1));
	EXPECT_ERROR(o, ES_EFORMAT, "totals.bytes: not a non-negative integer");
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "bytes", cJSON_CreateNumber(1.5));
	EXPECT_ERROR(o, ES_EFORMAT, "totals.bytes: not a non-negative integer");
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "bytes", cJSON_CreateNumber(1e300));
	EXPECT_ERROR(o, ES_ELIMIT, "totals.bytes: larger than 2^53");
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "nb_failed_reqs", cJSON_CreateString("1"));
	EXPECT_ERROR(o, ES_EFORMAT, "totals.nb_failed_reqs: not a non-negative integer");
	/* Counts that do not add up (a payload's nb_requests is kept as sent) still render. */
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "nb_successful_reqs", cJSON_CreateNumber(300));
	with(cJSON_GetObjectItem(o, "totals"), "nb_failed_reqs", cJSON_CreateNumber(100));
	{
		char *s = render_ok(o);

		ASSERT(strstr(s, "75.0 % of the requests succeeded: 300 successful, 100 failed."));
		ASSERT(strstr(s, "<div class=\"k\">Failed requests</div><div class=\"v\">100</div>"));
		free(s);
	}
	cJSON_Delete(o);
	/* Without nb_failed_reqs, failures are the difference, never below zero. */
	o = base_report();
	without(cJSON_GetObjectItem(o, "totals"), "nb_failed_reqs");
	with(cJSON_GetObjectItem(o, "totals"), "nb_successful_reqs", cJSON_CreateNumber(160));
	{
		char *s = render_ok(o);

		ASSERT(strstr(s, "<div class=\"k\">Failed requests</div><div class=\"v\">0</div>"));
		free(s);
	}
	cJSON_Delete(o);
	o = base_report();
	without(cJSON_GetObjectItem(o, "previous"), "period");
	EXPECT_ERROR(o, ES_EFORMAT, "previous.period: missing");
	o = base_report();
	with(cJSON_GetObjectItem(o, "year_before"), "totals", cJSON_CreateTrue());
	EXPECT_ERROR(o, ES_EFORMAT, "year_before.totals: not an object");
	/* The largest exact integer is accepted and printed whole. */
	o = base_report();
	with(cJSON_GetObjectItem(o, "totals"), "bytes", cJSON_CreateRaw("9007199254740992"));
	{
		char *s = render_ok(o);

		ASSERT(strstr(s, "9,007,199,254,740,992 bytes") && strstr(s, "8.00 PiB"));
		free(s);
	}
	cJSON_Delete(o);
}

TEST(rhtml_bad_arrays)
{
	cJSON *o, *a;

	EXPECT_ERROR(without(base_report(), "nodes"), ES_EFORMAT, "nodes: missing");
	EXPECT_ERROR(with(base_report(), "nodes", cJSON_CreateObject()), ES_EFORMAT,
	             "nodes: not an array");
	EXPECT_ERROR(with(base_report(), "networks", cJSON_CreateString("x")), ES_EFORMAT,
	             "networks: not an array");
	o = base_report();
	cJSON_AddItemToArray(cJSON_GetObjectItem(o, "nodes"), cJSON_CreateNumber(3));
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[2]: not an object");
	o = base_report();
	without(item(o, "nodes", 1), "node");
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[1].node: missing");
	o = base_report();
	with(item(o, "nodes", 0), "missing_days", cJSON_CreateString("2025-01-07"));
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[0].missing_days: not an array");
	o = base_report();
	cJSON_AddItemToArray(cJSON_GetObjectItem(item(o, "nodes", 0), "missing_days"),
	                     cJSON_CreateString("7 Jan"));
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[0].missing_days[2]: not a date YYYY-MM-DD");
	o = base_report();
	cJSON_AddItemToArray(cJSON_GetObjectItem(item(o, "nodes", 0), "missing_days"),
	                     cJSON_CreateNumber(20250107));
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[0].missing_days[2]: not a date YYYY-MM-DD");
	o = base_report();
	cJSON_AddItemToArray(cJSON_GetObjectItem(item(o, "nodes", 0), "missing_days"),
	                     cJSON_CreateString("2025-02-01"));
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[0].missing_days[2]: 2025-02-01 is outside the period");
	o = base_report();
	with(item(o, "nodes", 0), "last_submission", cJSON_CreateFalse());
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[0].last_submission: not a string");
	o = base_report();
	with(item(o, "nodes", 0), "days_expected", cJSON_CreateNumber(-31));
	EXPECT_ERROR(o, ES_EFORMAT, "nodes[0].days_expected: not a non-negative integer");
	o = base_report();
	with(item(o, "networks", 0), "restricted", cJSON_CreateString("no"));
	EXPECT_ERROR(o, ES_EFORMAT, "networks[0].restricted: not true or false");
	o = base_report();
	without(item(o, "networks", 1), "network");
	EXPECT_ERROR(o, ES_EFORMAT, "networks[1].network: missing");
	o = base_report();
	with(item(o, "countries", 0), "country", cJSON_CreateNull());
	{
		char *s = render_ok(o);

		ASSERT(strstr(s, "<td>unknown</td>"));
		free(s);
	}
	cJSON_Delete(o);
	o = base_report();
	with(item(o, "countries", 0), "country", cJSON_CreateNumber(250));
	EXPECT_ERROR(o, ES_EFORMAT, "countries[0].country: not a string");
	o = base_report();
	without(item(o, "countries", 0), "nb_reqs");
	EXPECT_ERROR(o, ES_EFORMAT, "countries[0].nb_reqs: missing");
	EXPECT_ERROR(with(base_report(), "stations", cJSON_CreateArray()), 0, "");
	o = with(base_report(), "stations", a = cJSON_CreateArray());
	cJSON_AddItemToArray(a, figs(1, 1, 1, 1));
	EXPECT_ERROR(o, ES_EFORMAT, "stations[0].network: missing");
	o = with(base_report(), "new_networks", a = cJSON_CreateArray());
	cJSON_AddItemToArray(a, cJSON_CreateString("ZZ"));
	EXPECT_ERROR(o, ES_EFORMAT, "new_networks[0]: not an object");
	o = with(base_report(), "new_networks", a = cJSON_CreateArray());
	cJSON_AddItemToArray(a, cJSON_CreateObject());
	EXPECT_ERROR(o, ES_EFORMAT, "new_networks[0].network: missing");
	o = base_report();
	with(item(o, "trend", 3), "month", cJSON_CreateString("2023-00"));
	EXPECT_ERROR(o, ES_EFORMAT, "trend[3].month: not YYYY-MM");
	o = base_report();
	without(item(o, "trend", 5), "bytes");
	EXPECT_ERROR(o, ES_EFORMAT, "trend[5].bytes: missing");
	o = base_report();
	a = cJSON_GetObjectItem(o, "trend");
	for (int i = 0; i < 100; i++)
		cJSON_AddItemToArray(a, cJSON_Duplicate(cJSON_GetArrayItem(a, 0), 1));
	EXPECT_ERROR(o, ES_ELIMIT, "trend: more than 120 months");
}

static int index_render(const char *txt, char **out, char *err, size_t errcap)
{
	size_t n;

	return rhtml_index(txt, strlen(txt), out, &n, err, errcap);
}

TEST(rhtml_index_page)
{
	char err[256], *s;
	cJSON *o = unit_json(unit_data("report/index.json")), *p;
	char *txt = cJSON_PrintUnformatted(o);
	const char *first, *second;

	ASSERT_OK(index_render(txt, &s, err, sizeof(err)));
	assert_page(s);
	/* One linked row per period, in the given (newest first) order. */
	ASSERT_EQ(count(s, "<td><a href=\""), cJSON_GetArraySize(cJSON_GetObjectItem(o, "periods")));
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "periods"), 0);
	{
		char want[64];

		snprintf(want, sizeof(want), "<a href=\"%s/index.html\">",
		         cJSON_GetObjectItem(p, "period")->valuestring);
		first = strstr(s, want);
		p = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "periods"), 1);
		snprintf(want, sizeof(want), "<a href=\"%s/index.html\">",
		         cJSON_GetObjectItem(p, "period")->valuestring);
		second = strstr(s, want);
		ASSERT(first && second && first < second);
	}
	ASSERT_EQ(count(s, "<svg "), 2);
	free(s);
	free(txt);
	cJSON_Delete(o);

	ASSERT_OK(index_render("{\"schema\":1,\"periods\":[]}", &s, err, sizeof(err)));
	ASSERT(strstr(s, "No report yet."));
	free(s);
}

TEST(rhtml_index_errors)
{
	char err[256], *s;
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "nope", "not JSON" },
		{ "[]", "the index is not a JSON object" },
		{ "{\"periods\":[]}", "schema: missing" },
		{ "{\"schema\":1}", "periods: missing" },
		{ "{\"schema\":1,\"periods\":{}}", "periods: not an array" },
		{ "{\"schema\":1,\"periods\":[1]}", "periods[0]: not an object" },
		{ "{\"schema\":1,\"periods\":[{\"kind\":\"month\"}]}", "periods[0].period: missing" },
		{ "{\"schema\":1,\"periods\":[{\"period\":\"2025-01\",\"kind\":\"day\"}]}",
		  "periods[0].kind: not month or year" },
		{ "{\"schema\":1,\"periods\":[{\"period\":\"2025-01\\\"><b>\",\"kind\":\"month\"}]}",
		  "periods[0].period: not YYYY-MM" },
		{ "{\"schema\":1,\"periods\":[{\"period\":\"2025-01\",\"kind\":\"year\"}]}",
		  "periods[0].period: not YYYY" },
		{ "{\"schema\":1,\"periods\":[{\"period\":\"2025\",\"kind\":\"year\"}]}",
		  "periods[0].totals: missing" },
		{ "{\"schema\":1,\"periods\":[{\"period\":\"2025\",\"kind\":\"year\",\"totals\":"
		  "{\"nb_reqs\":1,\"nb_successful_reqs\":1,\"bytes\":1,\"clients\":-1}}]}",
		  "periods[0].totals.clients: not a non-negative integer" },
		{ "{\"schema\":1,\"periods\":[{\"period\":\"2025\",\"kind\":\"year\",\"nodes\":\"3\"}]}",
		  "periods[0].nodes: not a non-negative integer" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = index_render(bad[i].json, &s, err, sizeof(err));

		if (rc == 0 || !strstr(err, bad[i].msg) || s != NULL)
			unit_fail(__FILE__, __LINE__, "case %zu: %d \"%s\", expected \"%s\"", i, rc,
			          err, bad[i].msg);
	}
}

/* Every bundled fixture renders (tests/sh/report-render.sh loads them in a browser). */
TEST(rhtml_fixtures_render)
{
	static const char *const f[] = { "federation-month", "federation-year", "node-month",
	                                 "network-month", "node-hostile" };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char rel[64], err[256], *out;
		size_t len, n;
		char *txt;
		int rc;

		snprintf(rel, sizeof(rel), "report/%s.json", f[i]);
		txt = unit_slurp(unit_data(rel), &len);
		rc = rhtml_report(txt, len, &out, &n, err, sizeof(err));
		if (rc)
			unit_fail(__FILE__, __LINE__, "%s: %s", rel, err);
		assert_page(out);
		free(out);
		free(txt);
	}
}

/* The k-th value of the tree in document order (the root is 0), with its parent; NULL past the end. */
static cJSON *nth(cJSON *o, cJSON *parent, int *k, cJSON **par)
{
	cJSON *c, *hit;

	if ((*k)-- == 0) {
		*par = parent;
		return o;
	}
	for (c = o->child; c; c = c->next)
		if ((hit = nth(c, o, k, par)))
			return hit;
	return NULL;
}

/*
 * Every value of a valid report replaced in turn by a value of each other
 * type: each render either succeeds (the key was optional, or the type fits)
 * or fails with ES_EFORMAT / ES_ELIMIT and a message; nothing crashes (the
 * sanitizer build runs this too) and every page made is valid UTF-8.
 */
TEST(rhtml_every_value_of_every_type)
{
	cJSON *base = base_report();
	int total = 0, failed = 0;

	for (int i = 1;; i++) {
		for (int t = 0; t < 9; t++) {
			cJSON *o = cJSON_Duplicate(base, 1), *par = NULL, *v, *nv;
			char err[256], *out;
			int k = i, rc;

			v = nth(o, NULL, &k, &par);
			if (!v) {
				cJSON_Delete(o);
				ASSERT(total > 1000);
				ASSERT(failed > total / 3);
				cJSON_Delete(base);
				return;
			}
			switch (t) {
			case 0: nv = cJSON_CreateNull(); break;
			case 1: nv = cJSON_CreateString("<x>"); break;
			case 2: nv = cJSON_CreateNumber(-1); break;
			case 3: nv = cJSON_CreateNumber(0.5); break;
			case 4: nv = cJSON_CreateRaw("1e300"); break;
			case 5: nv = cJSON_CreateArray(); break;
			case 6: nv = cJSON_CreateObject(); break;
			case 7: nv = cJSON_CreateTrue(); break;
			default: nv = cJSON_CreateNumber(0); break;
			}
			ASSERT(cJSON_ReplaceItemViaPointer(par, v, nv));
			err[0] = 'x';
			rc = render(o, &out, err, sizeof(err));
			if (rc) {
				ASSERT(rc == ES_EFORMAT || rc == ES_ELIMIT);
				ASSERT(err[0] != '\0' && err[0] != 'x');
				failed++;
			}
			free(out);
			cJSON_Delete(o);
			total++;
		}
	}
}
