/* Tests of svg.h: escaping, numbers for people, axis ticks and chart geometry. */
#include "unit.h"

#include <math.h>

#include "svg.h"
#include "utf8.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* The text written by a chart call, NUL-terminated; the test frees it. */
static char *take(jsonw_t *w)
{
	size_t n;
	char *s = jsonw_take(w, &n);

	ASSERT(s);
	ASSERT(utf8_valid(s, n));
	return s;
}

/* The numeric value of attribute attr in the k-th element starting with tag (k from 0), or NAN. */
static double attr_of(const char *s, const char *tag, size_t k, const char *attr)
{
	const char *p = s, *end;
	char key[32];

	for (size_t i = 0;; i++) {
		p = strstr(p, tag);
		if (!p)
			return NAN;
		if (i == k)
			break;
		p += strlen(tag);
	}
	end = strchr(p, '>');
	snprintf(key, sizeof(key), " %s=\"", attr);
	p = strstr(p, key);
	if (!p || p > end)
		return NAN;
	return strtod(p + strlen(key), NULL);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Every chart is sized: width, height and viewBox on its <svg>, and an accessible title. */
static void assert_sized(const char *s, const char *title)
{
	char want[256];

	ASSERT(!strncmp(s, "<svg ", 5));
	ASSERT(attr_of(s, "<svg", 0, "width") > 0);
	ASSERT(attr_of(s, "<svg", 0, "height") > 0);
	ASSERT(strstr(s, "viewBox=\"0 0 "));
	snprintf(want, sizeof(want), "<title>%s</title><desc>", title);
	ASSERT(strstr(s, want));
	ASSERT(!strcmp(s + strlen(s) - 6, "</svg>"));
}

TEST(svg_fmt_value_count)
{
	char b[32];

	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 0, SVG_COUNT), "0");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 999, SVG_COUNT), "999");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 1000, SVG_COUNT), "1.00k");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 12345, SVG_COUNT), "12.3k");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 999499, SVG_COUNT), "999k");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 999500, SVG_COUNT), "1.00M");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 4560000, SVG_COUNT), "4.56M");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 7.89e9, SVG_COUNT), "7.89G");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 1.2e12, SVG_COUNT), "1.20T");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), -1, SVG_COUNT), "n/a");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), NAN, SVG_COUNT), "n/a");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), INFINITY, SVG_COUNT), "n/a");
	/* The largest unit is the last: no index past the table. */
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 5e21, SVG_COUNT), "5000E");
}

TEST(svg_fmt_value_bytes)
{
	char b[32];

	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 0, SVG_BYTES), "0 B");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 1023, SVG_BYTES), "1023 B");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 1024, SVG_BYTES), "1.00 KiB");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 1536, SVG_BYTES), "1.50 KiB");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 12.5 * 1048576, SVG_BYTES), "12.5 MiB");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 300.0 * 1073741824, SVG_BYTES), "300 GiB");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 1023.9 * 1073741824, SVG_BYTES), "1.00 TiB");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 9007199254740992.0, SVG_BYTES), "8.00 PiB");
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), 3 * 1152921504606846976.0, SVG_BYTES), "3.00 EiB");
}

TEST(svg_fmt_int_groups)
{
	char b[40];

	ASSERT_STREQ(svg_fmt_int(b, sizeof(b), 0), "0");
	ASSERT_STREQ(svg_fmt_int(b, sizeof(b), 999), "999");
	ASSERT_STREQ(svg_fmt_int(b, sizeof(b), 1000), "1,000");
	ASSERT_STREQ(svg_fmt_int(b, sizeof(b), 1234567), "1,234,567");
	ASSERT_STREQ(svg_fmt_int(b, sizeof(b), 9007199254740992.0), "9,007,199,254,740,992");
	ASSERT_STREQ(svg_fmt_int(b, sizeof(b), -5), "n/a");
	/* A small buffer truncates, never overruns. */
	ASSERT_STREQ(svg_fmt_int(b, 6, 1234567), "1,234");
}

TEST(svg_esc_entities_and_bad_bytes)
{
	jsonw_t w;
	char *s;

	jsonw_init(&w, 0);
	ASSERT_OK(svg_esc(&w, "<a href='x'>&\"</a>"));
	s = take(&w);
	ASSERT_STREQ(s, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
	free(s);
	/* Valid UTF-8 stays; a bad byte and control characters become U+FFFD; tab and newline stay. */
	ASSERT_OK(svg_esc(&w, "\xc3\xa9\xe6\xbc\xa2|\xff|\x01|\x7f|\t\n|\xe2\x82"));
	s = take(&w);
	ASSERT_STREQ(s, "\xc3\xa9\xe6\xbc\xa2|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd|\t\n|"
	             "\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	ASSERT_OK(svg_esc(&w, NULL));
	ASSERT_OK(svg_esc_trunc(&w, "abcdef", 3));
	ASSERT_OK(svg_esc(&w, "|"));
	ASSERT_OK(svg_esc_trunc(&w, "\xc3\xa9\xc3\xa9\xc3\xa9", 2));
	ASSERT_OK(svg_esc(&w, "|"));
	ASSERT_OK(svg_esc_trunc(&w, "abc", 3));
	ASSERT_OK(svg_esc(&w, "|"));
	ASSERT_OK(svg_esc_trunc(&w, "<<<<", 2));
	s = take(&w);
	ASSERT_STREQ(s, "abc\xe2\x80\xa6|\xc3\xa9\xc3\xa9\xe2\x80\xa6|abc|&lt;&lt;\xe2\x80\xa6");
	free(s);
	jsonw_fini(&w);
}

TEST(svg_printf_limits)
{
	jsonw_t w;
	char big[1100];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	jsonw_init(&w, 0);
	ASSERT_OK(svg_printf(&w, "%d-%s", 7, "ok"));
	ASSERT_EQ(w.len, 4);
	ASSERT_ERR(svg_printf(&w, "%s", big), ES_ELIMIT);
	/* Sticky: later writes do nothing. */
	ASSERT_ERR(svg_esc(&w, "y"), ES_ELIMIT);
	jsonw_fini(&w);
	/* The buffer's own limit. */
	jsonw_init(&w, 10);
	ASSERT_ERR(svg_esc(&w, "0123456789<"), ES_ELIMIT);
	jsonw_fini(&w);
}

/* The mantissa of step / unit^k is 1, 2 or 5 times a power of ten. */
static int nice(double step, double scale)
{
	double m = step / scale, e = pow(10, floor(log10(m) + 1e-9)), r = m / e;

	return fabs(r - 1) < 1e-9 || fabs(r - 2) < 1e-9 || fabs(r - 5) < 1e-9;
}

TEST(svg_ticks_nice_and_tight)
{
	double step;
	int n;

	svg_ticks(0, 4, SVG_COUNT, &step, &n);
	ASSERT(step == 1 && n == 1);
	svg_ticks(-3, 4, SVG_COUNT, &step, &n);
	ASSERT(step == 1 && n == 1);
	svg_ticks(NAN, 4, SVG_COUNT, &step, &n);
	ASSERT(step == 1 && n == 1);
	/* Whole units: never a step below one request. */
	svg_ticks(1, 4, SVG_COUNT, &step, &n);
	ASSERT(step == 1 && n == 1);
	svg_ticks(3, 4, SVG_COUNT, &step, &n);
	ASSERT(step == 1 && n == 3);
	/* Bytes step by a power of 1024 times 1, 2 or 5 times a power of ten. */
	svg_ticks(3.0 * 1073741824, 4, SVG_BYTES, &step, &n);
	ASSERT(step == 1073741824.0 && n == 3);
	for (double max = 1.7; max < 1e16; max *= 3.1) {
		for (int unit = 0; unit < 2; unit++) {
			double scale = 1;

			svg_ticks(max, 4, (enum svg_unit)unit, &step, &n);
			if (unit == SVG_BYTES)
				while (max / scale >= 1024)
					scale *= 1024;
			ASSERT(n >= 1 && n <= 9);
			ASSERT(step * n >= max);
			ASSERT(step * (n - 1) < max);
			ASSERT(step >= 1);
			if (step > 1)
				ASSERT(nice(step, scale));
		}
	}
}

/* Widths of the bars (class "bar") in order. */
static size_t bar_widths(const char *s, double *w, size_t cap)
{
	size_t n = 0;

	for (const char *p = strstr(s, "<rect class=\"bar"); p && n < cap;
	     p = strstr(p + 1, "<rect class=\"bar")) {
		const char *q = strstr(p, " width=\"");

		ASSERT(q);
		w[n++] = strtod(q + 8, NULL);
	}
	return n;
}

TEST(svg_bars_proportional)
{
	struct svg_bar bars[] = {
		{ "BGR", 800, 0, NULL }, { "KOERI", 400, 1, "missing 4 days" },
		{ "<NIEP>", 0, 1, "no data" }, { "ODC", 100, 0, NULL },
	};
	double w[8];
	jsonw_t jw;
	char *s;

	jsonw_init(&jw, 0);
	ASSERT_OK(svg_bars(&jw, "Requests per node", "desc", "Requests", SVG_COUNT, bars, NP(bars)));
	s = take(&jw);
	assert_sized(s, "Requests per node");
	ASSERT_EQ(bar_widths(s, w, NP(w)), 4);
	ASSERT(fabs(w[0] / w[1] - 2) < 0.01);
	ASSERT(fabs(w[0] / w[3] - 8) < 0.05);
	ASSERT(w[2] == 0);
	/* The longest bar fills the axis to at least half and never passes it. */
	ASSERT(w[0] <= SVG_BAR_W && w[0] >= SVG_BAR_W / 2);
	ASSERT_EQ(count(s, "class=\"bar warn\""), 2);
	ASSERT(strstr(s, "&lt;NIEP&gt;"));
	ASSERT(!strstr(s, "<NIEP>"));
	ASSERT(strstr(s, "missing 4 days"));
	/* Ticks read as people write them, and the axis names its measure. */
	ASSERT(strstr(s, ">0</text>"));
	ASSERT(strstr(s, ">800</text>") || strstr(s, ">1k</text>"));
	ASSERT(strstr(s, ">Requests</text>"));
	free(s);
	jsonw_fini(&jw);
}

TEST(svg_bars_bytes_ticks_and_empty)
{
	struct svg_bar bars[] = { { "FR", 3.0 * 1073741824, 0, NULL }, { "CH", 1.5 * 1073741824, 0, NULL } };
	double w[4];
	jsonw_t jw;
	char *s;

	jsonw_init(&jw, 0);
	ASSERT_OK(svg_bars(&jw, "Bytes", "d", "Bytes", SVG_BYTES, bars, NP(bars)));
	s = take(&jw);
	ASSERT(strstr(s, ">1 GiB</text>") && strstr(s, ">3 GiB</text>"));
	ASSERT(strstr(s, ">3.00 GiB"));
	ASSERT_EQ(bar_widths(s, w, NP(w)), 2);
	ASSERT(fabs(w[0] - SVG_BAR_W) < 0.01 && fabs(w[1] - SVG_BAR_W / 2.0) < 0.01);
	free(s);
	ASSERT_OK(svg_bars(&jw, "Nothing", "d", "Bytes", SVG_BYTES, NULL, 0));
	s = take(&jw);
	assert_sized(s, "Nothing");
	ASSERT(strstr(s, "no data"));
	ASSERT_EQ(bar_widths(s, w, NP(w)), 0);
	free(s);
	jsonw_fini(&jw);
}

TEST(svg_line_geometry)
{
	double v[24], half[24];
	const char *months[24];
	char names[24][8];
	struct svg_series s2[2] = { { "all", v }, { "half", half } };
	double base = SVG_LINE_Y0 + SVG_LINE_H, c0, c1, c23;
	jsonw_t jw;
	char *s;

	for (int i = 0; i < 24; i++) {
		v[i] = 4e6 * i / 23.0;
		half[i] = v[i] / 2;
		snprintf(names[i], sizeof(names[i]), "%04d-%02d", 2023 + (i + 1) / 12, (i + 1) % 12 + 1);
		months[i] = names[i];
	}
	jsonw_init(&jw, 0);
	ASSERT_OK(svg_line(&jw, "Requests per month", "desc", "Requests", SVG_COUNT, months, 24, s2, 2));
	s = take(&jw);
	assert_sized(s, "Requests per month");
	ASSERT_EQ(count(s, "<circle"), 48);
	ASSERT_EQ(count(s, "<polyline"), 2);
	/* y is linear in the value from the baseline: the top point is 23 times the second. */
	c0 = attr_of(s, "<circle", 0, "cy");
	c1 = attr_of(s, "<circle", 1, "cy");
	c23 = attr_of(s, "<circle", 23, "cy");
	ASSERT(fabs(c0 - base) < 0.06);
	ASSERT(fabs((base - c23) / (base - c1) - 23) < 0.1);
	ASSERT(base - c23 <= SVG_LINE_H && base - c23 >= SVG_LINE_H / 2);
	/* The half series lies halfway. */
	ASSERT(fabs((base - attr_of(s, "<circle", 47, "cy")) * 2 - (base - c23)) < 0.2);
	/* x runs evenly over the plot. */
	ASSERT(fabs(attr_of(s, "<circle", 0, "cx") - SVG_LINE_X0) < 0.06);
	ASSERT(fabs(attr_of(s, "<circle", 23, "cx") - (SVG_LINE_X0 + SVG_LINE_W)) < 0.06);
	/* Ticks without trailing zeros, the last month labelled, a legend for two series. */
	ASSERT(strstr(s, ">1M</text>") && strstr(s, ">4M</text>"));
	ASSERT(strstr(s, ">2025-01</text>"));
	ASSERT(count(s, "class=\"tick\"") < 5 + 24);
	ASSERT(strstr(s, ">half</text>"));
	ASSERT(strstr(s, ">Month</text>") && strstr(s, ">Requests</text>"));
	free(s);
	jsonw_fini(&jw);
}

TEST(svg_line_bad_arguments)
{
	double v[1] = { 1 };
	const char *m[1] = { "2025-01" };
	struct svg_series s = { "x", v };
	jsonw_t jw;

	jsonw_init(&jw, 0);
	ASSERT_ERR(svg_line(&jw, "t", "d", "a", SVG_COUNT, m, 0, &s, 1), ES_EINTERNAL);
	ASSERT_ERR(svg_line(&jw, "t", "d", "a", SVG_COUNT, m, 121, &s, 1), ES_EINTERNAL);
	ASSERT_ERR(svg_line(&jw, "t", "d", "a", SVG_COUNT, m, 1, &s, 0), ES_EINTERNAL);
	ASSERT_ERR(svg_line(&jw, "t", "d", "a", SVG_COUNT, m, 1, &s, 5), ES_EINTERNAL);
	ASSERT_EQ(jw.len, 0);
	/* One point draws (no division by zero). */
	ASSERT_OK(svg_line(&jw, "t", "d", "a", SVG_COUNT, m, 1, &s, 1));
	jsonw_fini(&jw);
}

TEST(svg_share_parts)
{
	struct svg_part p[2] = { { "Successful", 750 }, { "Failed", 250 } };
	jsonw_t jw;
	char *s;

	jsonw_init(&jw, 0);
	ASSERT_OK(svg_share(&jw, "Share", "d", p, 2));
	s = take(&jw);
	assert_sized(s, "Share");
	ASSERT(fabs(attr_of(s, "<rect class=\"part\"", 0, "width") -
	            3 * attr_of(s, "<rect class=\"part\"", 1, "width")) < 0.01);
	ASSERT(strstr(s, "Successful: 75.0 %") && strstr(s, "Failed: 25.0 %"));
	free(s);
	p[0].value = p[1].value = 0;
	ASSERT_OK(svg_share(&jw, "Share", "d", p, 2));
	s = take(&jw);
	ASSERT(strstr(s, "no requests"));
	ASSERT_EQ(count(s, "class=\"part\""), 0);
	free(s);
	ASSERT_ERR(svg_share(&jw, "Share", "d", p, 5), ES_EINTERNAL);
	jsonw_fini(&jw);
}

TEST(svg_coverage_month_and_year)
{
	uint8_t cov[366];
	jsonw_t jw;
	char *s;

	memset(cov, 1, sizeof(cov));
	cov[6] = cov[7] = 0;
	jsonw_init(&jw, 0);
	ASSERT_OK(svg_coverage(&jw, "Days", "d", 2025, 1, 1, 31, cov));
	s = take(&jw);
	assert_sized(s, "Days");
	ASSERT_EQ(count(s, "class=\"day ok\""), 29);
	ASSERT_EQ(count(s, "class=\"day miss\""), 2);
	ASSERT(strstr(s, "<title>2025-01-07: missing</title>"));
	ASSERT(strstr(s, "<title>2025-01-31: statistics received</title>"));
	ASSERT_EQ(count(s, ">Jan</text>"), 1);
	free(s);
	/* A leap year: 12 rows, 366 cells, the last on 31 December. */
	ASSERT_OK(svg_coverage(&jw, "Days", "d", 2024, 1, 1, 366, cov));
	s = take(&jw);
	ASSERT_EQ(count(s, "class=\"day "), 366);
	ASSERT(strstr(s, "2024-02-29: statistics received"));
	ASSERT(strstr(s, "2024-12-31: statistics received"));
	ASSERT(strstr(s, ">Dec</text>"));
	ASSERT(attr_of(s, "<svg", 0, "height") > 12 * 18);
	free(s);
	/* A period across the new year. */
	ASSERT_OK(svg_coverage(&jw, "Days", "d", 2024, 12, 30, 4, cov));
	s = take(&jw);
	ASSERT(strstr(s, "2025-01-02: statistics received") && strstr(s, ">Jan</text>"));
	free(s);
	ASSERT_ERR(svg_coverage(&jw, "Days", "d", 2025, 1, 1, 0, cov), ES_EINTERNAL);
	ASSERT_ERR(svg_coverage(&jw, "Days", "d", 2025, 1, 1, 367, cov), ES_EINTERNAL);
	ASSERT_ERR(svg_coverage(&jw, "Days", "d", 2025, 2, 29, 1, cov), ES_EINTERNAL);
	jsonw_fini(&jw);
}

TEST(svg_charts_stop_at_the_buffer_limit)
{
	struct svg_bar bars[50];
	jsonw_t jw;

	for (size_t i = 0; i < NP(bars); i++)
		bars[i] = (struct svg_bar){ "node", (double)i, 0, NULL };
	jsonw_init(&jw, 2000);
	ASSERT_ERR(svg_bars(&jw, "t", "d", "a", SVG_COUNT, bars, NP(bars)), ES_ELIMIT);
	jsonw_fini(&jw);
}
