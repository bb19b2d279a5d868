/* test_fsx.c - fsx_safe_name(): the file-name form of node and network names. */
#include "config.h"

#include "error.h"
#include "fsx.h"
#include "unit.h"

TEST(fsx_safe_name)
{
	static const struct { const char *name, *want; } cases[] = {
		{ "GFZ", "GFZ" },
		{ "RESIF-SI.x_1", "RESIF-SI.x_1" },
		{ "NODE-1_a.b", "NODE-1_a.b" },
		{ "a b", "_612062" },
		{ ".x", "_2e78" },
		{ ".hidden", "_2e68696464656e" },
		{ "a/b", "_612f62" },
		{ "..", "_2e2e" },
		{ "", "_" },
		{ "\xc3\xa9", "_c3a9" },
	};
	char out[FSX_SAFE_NAME_MAX(16)];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ASSERT_OK(fsx_safe_name(cases[i].name, out, sizeof out));
		ASSERT_STREQ(out, cases[i].want);
	}
	/* Too long for the buffer, plain or hex. */
	ASSERT_ERR(fsx_safe_name("abcdef", out, 4), ES_ELIMIT);
	ASSERT_ERR(fsx_safe_name("a/b", out, 6), ES_ELIMIT);
	ASSERT_OK(fsx_safe_name("a/b", out, 8));
}
