/* Tests of svg.h: escaping, numbers for people, axis ticks and chart geometry. */
#include "unit.h"

#include "svg.h"

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
	ASSERT_STREQ(svg_fmt_value(b, sizeof(b), -1, SVG_COUNT), "n/a");
}
