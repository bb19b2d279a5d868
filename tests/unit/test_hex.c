#include "config.h"

#include "bytes.h"
#include "hex.h"
#include "unit.h"

TEST(hex_round_trip)
{
	const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	uint8_t back[sizeof in];
	char text[2 * sizeof in + 1];

	hex_encode(text, in, sizeof in);
	ASSERT_STREQ(text, "00017f80abff");
	ASSERT_OK(hex_decode(back, text, sizeof in));
	ASSERT_MEMEQ(back, in, sizeof in);
	/* One spelling: upper case and non-digits are refused. */
	ASSERT_ERR(hex_decode(back, "00017F80abff", sizeof in), ES_EFORMAT);
	ASSERT_ERR(hex_decode(back, "0g", 1), ES_EFORMAT);
	ASSERT_ERR(hex_decode(back, "0", 1), ES_EFORMAT);
	ASSERT_EQ(hex_digit('f'), 15);
	ASSERT_EQ(hex_digit('F'), -1);
	ASSERT_EQ(hex_digit_any('F'), 15);
	ASSERT_EQ(hex_digit_any('g'), -1);
}

TEST(bytes_be64)
{
	uint8_t b[8];

	bytes_put_be64(b, 0x0102030405060708ull);
	ASSERT_MEMEQ(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	ASSERT_EQ(bytes_get_be64(b), 0x0102030405060708ull);
	bytes_put_be64(b, UINT64_MAX);
	ASSERT(bytes_get_be64(b) == UINT64_MAX);
}

TEST(bytes_be32_be16)
{
	uint8_t b[6] = { 0 };

	bytes_put_be32(b, 0x01020304u);
	bytes_put_be16(b + 4, 0xFFFEu);
	ASSERT_MEMEQ(b, "\x01\x02\x03\x04\xFF\xFE", 6);
	/* -1 as PostgreSQL's binary COPY ends its data: every bit set. */
	bytes_put_be16(b, (uint16_t)-1);
	bytes_put_be32(b + 2, (uint32_t)-2);
	ASSERT_MEMEQ(b, "\xFF\xFF\xFF\xFF\xFF\xFE", 6);
}
