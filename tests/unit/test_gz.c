#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "error.h"
#include "gz.h"
#include "reader.h"
#include "submit.h"
#include "unit.h"

/* Inflates gzip data with zlib, member after member as gunzip does (inflateReset()
 * at each member's end); checks that nothing else follows and counts the members. */
static char *gunzip_members(const char *in, size_t len, size_t *outlen, size_t *members)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	ASSERT(inflateInit2(&zs, 15 + 16) == Z_OK);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	*members = 0;
	for (;;) {
		if (n == cap)
			out = realloc(out, cap *= 2);
		zs.next_out = (Bytef *)out + n;
		zs.avail_out = (uInt)(cap - n);
		int zr = inflate(&zs, Z_NO_FLUSH);
		n = cap - zs.avail_out;
		ASSERT(zr == Z_OK || zr == Z_STREAM_END);
		if (zr == Z_STREAM_END) {
			++*members;
			if (zs.avail_in == 0)
				break;
			ASSERT(inflateReset(&zs) == Z_OK);
		}
	}
	inflateEnd(&zs);
	*outlen = n;
	return out;
}

/* Inflates a whole gzip member with zlib; checks that nothing follows it. */
static char *gunzip_buf(const char *in, size_t len, size_t *outlen)
{
	size_t members;
	char *out = gunzip_members(in, len, outlen, &members);
	ASSERT_EQ(members, 1);
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

/* Threaded mode: a member per 1 MiB piece that gunzip reads back to the same
 * bytes, the first with the header of the single-thread mode, whatever the
 * boundaries of the writes. */
TEST(gz_threaded_members_same_text)
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
			size_t bl, members;
			char *back = gunzip_members(m.buf, m.len, &bl, &members);
			ASSERT_EQ(bl, n);
			if (n)
				ASSERT_MEMEQ(back, t, n);
			/* One member per started MiB, one for no text at all. */
			ASSERT_EQ(members, n ? (n + (1u << 20) - 1) >> 20 : 1);
			/* Members after the first: no name, the same MTIME, XFL and OS. */
			if (members > 1) {
				size_t first = 0;
				/* The second member starts after the first's 8-byte trailer:
				 * find it by its magic followed by this header. */
				unsigned char h2[10] = { 0x1f, 0x8b, 8, 0 };
				memcpy(h2 + 4, m.buf + 4, 6);
				for (size_t i = 11; i + 10 <= m.len && !first; i++)
					if (memcmp(m.buf + i, h2, 10) == 0)
						first = i;
				ASSERT(first > 0);
			}
			/* libdeflate's members stay within 2 % of zlib's one stream. */
			ASSERT(m.len <= sl + sl / 50 + 64);
			free(back);
			free(m.buf);
		}
		free(single);
		free(t);
	}
}

/* Pieces of gz_write_made(): piece i is i * 37813 bytes of t from offset i * 1000 (so piece
 * 0 is empty, and sizes cross 1 MiB); a piece number in fail fails with -EIO. */
struct made {
	const char *t;
	size_t fail;
	size_t exact;  /* When not 0: every piece is exactly this long. */
};

static size_t made_len(const struct made *md, size_t i)
{
	return md->exact ? md->exact : i * 37813;
}

static int made_piece(void *ctx, size_t i, jsonw_t *w)
{
	const struct made *md = ctx;
	if (i == md->fail)
		return -EIO;
	return jsonw_raw(w, md->t + i * 1000, made_len(md, i));
}

/* Made pieces give the same text as writing them in order, in either mode,
 * after bytes given by gz_write(), whatever their sizes. */
TEST(gz_write_made_same_text)
{
	const size_t npieces = 40, head = 5000;
	const size_t exact[] = { 0, 1u << 20, (1u << 20) - 1 };
	char *t = test_text((3u << 20) + 40 * 38000);
	for (size_t ei = 0; ei < sizeof exact / sizeof exact[0]; ei++) {
		struct made md = { t, (size_t)-1, exact[ei] };
		size_t np = exact[ei] ? 3 : npieces;
		/* The expected text: the head, then each piece. */
		size_t n = head;
		for (size_t i = 0; i < np; i++)
			n += made_len(&md, i);
		char *want = malloc(n), *o = want;
		memcpy(o, t, head);
		o += head;
		for (size_t i = 0; i < np; i++) {
			memcpy(o, t + i * 1000, made_len(&md, i));
			o += made_len(&md, i);
		}
		for (unsigned threads = 1; threads <= 3; threads++) {
			gz_opts_t o1 = { .name = "y", .threads = threads };
			struct mem m = { NULL, 0, 0, -1 };
			gz_t *g;
			ASSERT_OK(gz_new(&g, &o1, mem_sink, &m));
			ASSERT_OK(gz_write(g, t, head));
			ASSERT_OK(gz_write_made(g, np, made_piece, &md, UINT64_MAX));
			ASSERT_OK(gz_finish(g));
			ASSERT_EQ(gz_total_in(g), n);
			gz_free(g);
			size_t bl, members;
			char *back = gunzip_members(m.buf, m.len, &bl, &members);
			ASSERT_EQ(bl, n);
			ASSERT_MEMEQ(back, want, n);
			/* Single thread: one zlib member; threaded: the head's member and
			 * one per non-empty piece. */
			ASSERT_EQ(members, threads == 1 ? 1 : 1 + (exact[ei] ? np : np - 1));
			free(back);
			free(m.buf);
		}
		free(want);
	}
	free(t);
}

TEST(gz_write_made_errors)
{
	char *t = test_text(3u << 20);
	for (unsigned threads = 1; threads <= 2; threads++) {
		gz_opts_t o = { .threads = threads };
		/* make's error, at a piece after others, sticks. */
		struct made md = { t, 7, 0 };
		struct mem m = { NULL, 0, 0, -1 };
		gz_t *g;
		ASSERT_OK(gz_new(&g, &o, mem_sink, &m));
		int rc = gz_write_made(g, 20, made_piece, &md, UINT64_MAX);
		if (rc == 0)
			rc = gz_finish(g);
		ASSERT_ERR(rc, -EIO);
		ASSERT_ERR(gz_finish(g), -EIO);
		ASSERT_ERR(gz_write(g, "x", 1), -EIO);
		gz_free(g);
		free(m.buf);
		/* The limit: pieces 0..5 make 15 * 37813 bytes; the piece passing
		 * the limit is not written. */
		md.fail = (size_t)-1;
		uint64_t limit = 15 * 37813;
		struct mem m2 = { NULL, 0, 0, -1 };
		ASSERT_OK(gz_new(&g, &o, mem_sink, &m2));
		rc = gz_write_made(g, 20, made_piece, &md, limit);
		if (rc == 0)
			rc = gz_finish(g);
		ASSERT_ERR(rc, ES_ELIMIT);
		ASSERT(gz_total_in(g) <= limit);
		gz_free(g);
		free(m2.buf);
		/* Exactly at the limit is allowed. */
		struct mem m3 = { NULL, 0, 0, -1 };
		ASSERT_OK(gz_new(&g, &o, mem_sink, &m3));
		ASSERT_OK(gz_write_made(g, 6, made_piece, &md, limit));
		ASSERT_OK(gz_finish(g));
		ASSERT_EQ(gz_total_in(g), limit);
		gz_free(g);
		free(m3.buf);
	}
	free(t);
}

TEST(gz_threaded_errors)
{
	size_t n = 6u << 20;
	char *t = test_text(n);
	gz_opts_t o = { .threads = 2 };
	/* The sink fails on its third call: the header, the first member's deflate data, then its trailer. */
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

/* Lines of text for the readers: n bytes ending in '\n'. */
static char *test_lines(size_t n)
{
	char *t = test_text(n);
	for (size_t i = 0; i < n; i++)
		if (t[i] == '\n')
			t[i] = ' ';
	for (size_t i = 97; i < n; i += 97 + i % 13)
		t[i] = '\n';
	t[n - 1] = '\n';
	return t;
}

/* Every reader of the project's .json.gz files, and gzip -d and Python's
 * gzip module, read the threaded mode's members as the whole text. */
TEST(gz_members_read_by_every_reader)
{
	size_t n = (3u << 20) + 12345;
	char *t = test_lines(n);
	gz_opts_t o = { .name = "m.json", .mtime = 1795904847, .os_unknown = 1, .threads = 2 };
	struct mem m = { NULL, 0, 0, -1 };
	gz_t *g;
	ASSERT_OK(gz_new(&g, &o, mem_sink, &m));
	ASSERT_OK(gz_write(g, t, n));
	ASSERT_OK(gz_finish(g));
	gz_free(g);
	size_t bl, members;
	free(gunzip_members(m.buf, m.len, &bl, &members));
	ASSERT_EQ(members, 4);
	/* The centre's submit_gunzip() (inflateReset() loop). */
	char *back;
	ASSERT_OK(submit_gunzip(m.buf, m.len, n, &back, &bl));
	ASSERT_EQ(bl, n);
	ASSERT_MEMEQ(back, t, n);
	free(back);
	/* The node's reader (a gzip log, member after member). */
	char path[4096], cmd[8400];
	snprintf(path, sizeof path, "%s/m.json.gz", unit_tmpdir());
	unit_write(path, m.buf, m.len);
	reader_t *r;
	reader_opts_t ro = { .no_digest = 1 };
	ASSERT_OK(reader_open(&r, path, -1, &ro));
	ASSERT_EQ(reader_kind(r), READER_GZIP);
	size_t pos = 0;
	const char *line;
	size_t len;
	int too_long, rc;
	while ((rc = reader_next(r, &line, &len, &too_long)) == 1) {
		ASSERT(pos + len < n);
		ASSERT_MEMEQ(line, t + pos, len);
		ASSERT_EQ(t[pos + len], '\n');
		pos += len + 1;
	}
	ASSERT_OK(rc);
	ASSERT_EQ(pos, n);
	reader_close(r);
	/* gzip -d, and Python's gzip module (what upstream's centre reads with). */
	char out[4200];
	snprintf(out, sizeof out, "%s/m.out", unit_tmpdir());
	snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", path, out);
	ASSERT_EQ(system(cmd), 0);
	char *got;
	size_t gl;
	got = unit_slurp(out, &gl);
	ASSERT_EQ(gl, n);
	ASSERT_MEMEQ(got, t, n);
	free(got);
	snprintf(cmd, sizeof cmd,
	         "python3 -c 'import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())' "
	         "'%s' > '%s'", path, out);
	ASSERT_EQ(system(cmd), 0);
	got = unit_slurp(out, &gl);
	ASSERT_EQ(gl, n);
	ASSERT_MEMEQ(got, t, n);
	free(got);
	ASSERT_OK(unlink(out));
	ASSERT_OK(unlink(path));
	free(m.buf);
	free(t);
}
