#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "error.h"
#include "gz.h"
#include "unit.h"

/* Inflates a whole gzip member with zlib; checks that nothing follows it. */
static char *gunzip_buf(const char *in, size_t len, size_t *outlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	ASSERT(inflateInit2(&zs, 15 + 16) == Z_OK);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	int zr;
	do {
		if (n == cap)
			out = realloc(out, cap *= 2);
		zs.next_out = (Bytef *)out + n;
		zs.avail_out = (uInt)(cap - n);
		zr = inflate(&zs, Z_NO_FLUSH);
		n = cap - zs.avail_out;
		ASSERT(zr == Z_OK || zr == Z_STREAM_END);
	} while (zr != Z_STREAM_END);
	ASSERT_EQ(zs.avail_in, 0);
	inflateEnd(&zs);
	*outlen = n;
	return out;
}

static char *test_text(size_t n)
{
	char *t = malloc(n);
	uint32_t x = 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		t[i] = (char)(" {}\"abcdefgh0123:,\n"[(x >> 16) % 19]);
	}
	return t;
}

struct mem {
	char *buf;
	size_t len, cap;
	int fail_after;  /* Calls before the sink fails; < 0: never. */
};

static int mem_sink(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;
	if (m->fail_after == 0)
		return -ENOSPC;
	if (m->fail_after > 0)
		m->fail_after--;
	if (m->len + len > m->cap) {
		m->cap = 2 * (m->len + len);
		m->buf = realloc(m->buf, m->cap);
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

/* Writes t[0..n) to g in pieces of growing size (step = step * mul + add),
 * so piece boundaries fall everywhere; 0 or gz_write()'s error. */
static int write_in_steps(gz_t *g, const char *t, size_t n, size_t mul, size_t add)
{
	size_t pos = 0, step = 1;
	while (pos < n) {
		size_t k = step < n - pos ? step : n - pos;
		int rc = gz_write(g, t + pos, k);
		if (rc)
			return rc;
		pos += k;
		step = step * mul + add;
	}
	return 0;
}

TEST(gz_buf_roundtrip_and_default_header)
{
	size_t n = 3u << 20;
	char *t = test_text(n);
	char *z;
	size_t zl, back_len;
	ASSERT_OK(gz_buf(t, n, NULL, &z, &zl));
	ASSERT(zl < n);
	/* zlib's own header: no name, time 0, OS Unix. */
	ASSERT(z[0] == 0x1f && (unsigned char)z[1] == 0x8b && z[2] == 8 && z[3] == 0);
	ASSERT(z[4] == 0 && z[5] == 0 && z[6] == 0 && z[7] == 0);
	ASSERT_EQ(z[9], 3);
	char *back = gunzip_buf(z, zl, &back_len);
	ASSERT_EQ(back_len, n);
	ASSERT_MEMEQ(back, t, n);
	free(back);
	free(z);
	/* Empty input is a valid empty member. */
	ASSERT_OK(gz_buf("", 0, NULL, &z, &zl));
	back = gunzip_buf(z, zl, &back_len);
	ASSERT_EQ(back_len, 0);
	free(back);
	free(z);
	free(t);
}

TEST(gz_streaming_in_pieces_equals_one_buffer)
{
	size_t n = (2u << 20) + 12345;
	char *t = test_text(n);
	gz_opts_t o = { .level = 6, .name = "x.json", .mtime = 1795904847, .os_unknown = 1 };
	char *whole;
	size_t wl;
	ASSERT_OK(gz_buf(t, n, &o, &whole, &wl));
	struct mem m = { NULL, 0, 0, -1 };
	gz_t *g;
	ASSERT_OK(gz_new(&g, &o, mem_sink, &m));
	ASSERT_OK(write_in_steps(g, t, n, 3, 1));
	ASSERT_EQ(gz_total_in(g), n);
	ASSERT_OK(gz_finish(g));
	ASSERT_OK(gz_finish(g));
	gz_free(g);
	ASSERT_EQ(m.len, wl);
	ASSERT_MEMEQ(m.buf, whole, wl);
	/* The header: FNAME set, mtime little-endian, OS unknown, the name. */
	ASSERT(whole[3] & 0x08);
	uint32_t mt = (uint32_t)(unsigned char)whole[4] | (uint32_t)(unsigned char)whole[5] << 8
	              | (uint32_t)(unsigned char)whole[6] << 16 | (uint32_t)(unsigned char)whole[7] << 24;
	ASSERT_EQ(mt, 1795904847u);
	ASSERT_EQ((unsigned char)whole[9], 255);
	ASSERT_STREQ(whole + 10, "x.json");
	free(m.buf);
	free(whole);
	free(t);
}

TEST(gz_sink_error_sticks)
{
	size_t n = 4u << 20;
	char *t = test_text(n);
	struct mem m = { NULL, 0, 0, 2 };
	gz_t *g;
	ASSERT_OK(gz_new(&g, NULL, mem_sink, &m));
	int rc = 0;
	for (size_t pos = 0; pos < n && rc == 0; pos += 65536)
		rc = gz_write(g, t + pos, 65536);
	if (rc == 0)
		rc = gz_finish(g);
	ASSERT_ERR(rc, -ENOSPC);
	ASSERT_ERR(gz_write(g, "x", 1), -ENOSPC);
	ASSERT_ERR(gz_finish(g), -ENOSPC);
	gz_free(g);
	gz_free(NULL);
	free(m.buf);
	free(t);
	/* A level zlib refuses. */
	gz_opts_t bad = { .level = 12 };
	ASSERT_ERR(gz_new(&g, &bad, mem_sink, &m), ES_EINTERNAL);
	ASSERT(g == NULL);
}

/* Threaded mode: one member any gunzip reads back to the same bytes, with the
 * header of the single-thread mode, whatever the piece boundaries. */
TEST(gz_threaded_one_member_same_text)
{
	const size_t sizes[] = { 0, 1, 1u << 20, (1u << 20) + 1, (5u << 20) + 777 };
	gz_opts_t o1 = { .level = 6, .name = "x.json", .mtime = 1795904847, .os_unknown = 1 };
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		size_t n = sizes[si];
		char *t = test_text(n ? n : 1);
		char *single;
		size_t sl;
		ASSERT_OK(gz_buf(t, n, &o1, &single, &sl));
		for (unsigned threads = 2; threads <= 3; threads++) {
			gz_opts_t o = o1;
			o.threads = threads;
			struct mem m = { NULL, 0, 0, -1 };
			gz_t *g;
			ASSERT_OK(gz_new(&g, &o, mem_sink, &m));
			ASSERT_OK(write_in_steps(g, t, n, 5, 3));
			ASSERT_EQ(gz_total_in(g), n);
			ASSERT_OK(gz_finish(g));
			ASSERT_OK(gz_finish(g));
			ASSERT_ERR(gz_write(g, "x", 1), -EINVAL);
			gz_free(g);
			/* The same header bytes (up to the name's NUL). */
			ASSERT_MEMEQ(m.buf, single, 10 + strlen("x.json") + 1);
			size_t bl;
			char *back = gunzip_buf(m.buf, m.len, &bl);
			ASSERT_EQ(bl, n);
			if (n)
				ASSERT_MEMEQ(back, t, n);
			/* The dictionary keeps the size close to one stream's. */
			ASSERT(m.len <= sl + sl / 100 + 64);
			free(back);
			free(m.buf);
		}
		free(single);
		free(t);
	}
}

TEST(gz_threaded_errors)
{
	size_t n = 6u << 20;
	char *t = test_text(n);
	gz_opts_t o = { .threads = 2 };
	/* The sink fails on its third call: the header, then a piece, then this one. */
	struct mem m = { NULL, 0, 0, 2 };
	gz_t *g;
	ASSERT_OK(gz_new(&g, &o, mem_sink, &m));
	int rc = 0;
	for (size_t pos = 0; pos < n && rc == 0; pos += 65536)
		rc = gz_write(g, t + pos, 65536);
	if (rc == 0)
		rc = gz_finish(g);
	ASSERT_ERR(rc, -ENOSPC);
	ASSERT_ERR(gz_write(g, "x", 1), -ENOSPC);
	ASSERT_ERR(gz_finish(g), -ENOSPC);
	gz_free(g);
	free(m.buf);
	/* The header cannot be written. */
	struct mem m0 = { NULL, 0, 0, 0 };
	ASSERT_ERR(gz_new(&g, &o, mem_sink, &m0), -ENOSPC);
	ASSERT(g == NULL);
	/* Abandoned mid-stream: gz_free() joins the threads. */
	struct mem m2 = { NULL, 0, 0, -1 };
	ASSERT_OK(gz_new(&g, &o, mem_sink, &m2));
	ASSERT_OK(gz_write(g, t, n));
	gz_free(g);
	free(m2.buf);
	gz_opts_t bad = { .level = 12, .threads = 2 };
	ASSERT_ERR(gz_new(&g, &bad, mem_sink, &m2), ES_EINTERNAL);
	ASSERT(g == NULL);
	free(t);
}
