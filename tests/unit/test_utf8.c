#include "config.h"

#include "unit.h"
#include "utf8.h"

TEST(utf8_decode_strict)
{
	static const struct { const char *s; size_t len; uint32_t cp; } good[] = {
		{ "A", 1, 0x41 }, { "\xC2\x80", 2, 0x80 }, { "\xDF\xBF", 2, 0x7FF },
		{ "\xE0\xA0\x80", 3, 0x800 }, { "\xED\x9F\xBF", 3, 0xD7FF },
		{ "\xEE\x80\x80", 3, 0xE000 }, { "\xF0\x90\x80\x80", 4, 0x10000 },
		{ "\xF4\x8F\xBF\xBF", 4, 0x10FFFF },
	};
	static const char *const bad[] = {
		"\x80", "\xC0\x80", "\xC1\xBF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
		"\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\xC2",
		"\xE0\xA0", "\xC2\x41",
	};
	uint32_t cp;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ASSERT_EQ(utf8_decode((const unsigned char *)good[i].s, good[i].len, &cp), good[i].len);
		ASSERT_EQ(cp, good[i].cp);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (utf8_decode((const unsigned char *)bad[i], strlen(bad[i]), &cp) != 0)
			unit_fail(__FILE__, __LINE__, "bad sequence %zu accepted", i);
}

TEST(utf8_encode_round_trip)
{
	static const uint32_t cps[] = { 0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF,
	                                0x10000, 0x10FFFF };
	char buf[4];
	uint32_t back;

	for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
		size_t n = utf8_encode(cps[i], buf);
		ASSERT(n >= 1 && n <= 4);
		ASSERT_EQ(utf8_decode((const unsigned char *)buf, n, &back), n);
		ASSERT_EQ(back, cps[i]);
	}
	ASSERT(utf8_valid("caf\xC3\xA9 and more than eight bytes", 29));
	ASSERT(!utf8_valid("more than eight bytes, then \xC3", 29));
	ASSERT(utf8_valid("", 0));
}
