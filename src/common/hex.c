#include "config.h"

#include "error.h"
#include "hex.h"

const char hex_digits[16] = "0123456789abcdef";

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hex_digit_any(int c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return hex_digit(c);
}

void hex_encode(char *out, const void *in, size_t n)
{
	const uint8_t *p = in;

	for (size_t i = 0; i < n; i++) {
		*out++ = hex_digits[p[i] >> 4];
		*out++ = hex_digits[p[i] & 15];
	}
	*out = '\0';
}

int hex_decode(void *out, const char *in, size_t n)
{
	uint8_t *o = out;

	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit((unsigned char)in[2 * i]);
		int lo = hi < 0 ? -1 : hex_digit((unsigned char)in[2 * i + 1]);
		if (lo < 0)
			return ES_EFORMAT;
		o[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
