#include "config.h"

#include "hll.h"

static inline uint32_t rotl32(uint32_t x, unsigned r)
{
	return (x << r) | (x >> (32 - r));
}

static inline uint32_t mix_k(uint32_t k)
{
	k *= 0xCC9E2D51u;
	k = rotl32(k, 15);
	k *= 0x1B873593u;
	return k;
}

uint32_t murmur3_x86_32(const void *key, size_t len, uint32_t seed)
{
	const uint8_t *p = key;
	uint32_t h = seed;
	size_t nblocks = len / 4;

	/* Blocks are assembled byte by byte so the result is the little-endian one on every host. */
	for (size_t i = 0; i < nblocks; i++, p += 4) {
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		             (uint32_t)p[3] << 24;
		h ^= mix_k(k);
		h = rotl32(h, 13);
		h = h * 5 + 0xE6546B64u;
	}

	uint32_t k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)p[2] << 16;
		/* fall through */
	case 2:
		k ^= (uint32_t)p[1] << 8;
		/* fall through */
	case 1:
		k ^= p[0];
		h ^= mix_k(k);
	}

	/* The specification xors the length as a 32-bit quantity. */
	h ^= (uint32_t)len;
	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	return h;
}

int64_t hll_client_raw(const char *text, size_t len)
{
	/* Sign extension through int32_t is what python-hll sees from mmh3.hash(). */
	return (int64_t)(int32_t)murmur3_x86_32(text, len, 0);
}
