#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "error.h"
#include "fsx.h"
#include "gz.h"
#include "mem.h"
#include "wpool.h"

#define GZ_OUT (1u << 17)
/* Threaded mode: input pieces, each deflated on its own with the previous
 * piece's last 32 KiB as dictionary (the window a single stream would have). */
#define GZ_PIECE ((size_t)1 << 20)
#define GZ_DICT ((size_t)32 << 10)

struct gz_piece {
	unsigned char *in;      /* GZ_DICT of dictionary, then up to GZ_PIECE of data. */
	size_t dict, len;       /* Dictionary and data bytes in in. */
	unsigned char *out;
	size_t out_cap, out_len;
	uLong crc;              /* CRC-32 of the data. */
	int last, err;
};

struct gz_pool {
	wpool_t *wp;
	z_stream zs[GZ_MAX_THREADS];  /* One raw deflate stream per thread. */
	unsigned nzs;
	size_t nring;
	struct gz_piece *ring;  /* The wpool's slots. */
	uLong crc;              /* Of the pieces written so far. */
};

struct gz {
	z_stream zs;
	gz_header head;
	char *name;
	gz_sink_fn sink;
	void *ctx;
	int err, finished;
	uint64_t total_in;
	struct gz_pool *pool;   /* Threaded mode, else NULL. */
	unsigned char out[GZ_OUT];
};

/* Deflates one piece into raw deflate data ending on a byte boundary (sync
 * flush) or, for the last piece, with the final block. */
static int gz_piece_run(z_stream *zs, struct gz_piece *pc)
{
	if (deflateReset(zs) != Z_OK)
		return ES_EINTERNAL;
	if (pc->dict && deflateSetDictionary(zs, pc->in, (uInt)pc->dict) != Z_OK)
		return ES_EINTERNAL;
	zs->next_in = pc->in + pc->dict;
	zs->avail_in = (uInt)pc->len;
	zs->next_out = pc->out;
	zs->avail_out = (uInt)pc->out_cap;
	int zr = deflate(zs, pc->last ? Z_FINISH : Z_SYNC_FLUSH);
	if (zr != (pc->last ? Z_STREAM_END : Z_OK) || zs->avail_in != 0)
		return ES_EINTERNAL;
	pc->out_len = pc->out_cap - zs->avail_out;
	pc->crc = crc32_z(crc32_z(0, NULL, 0), pc->in + pc->dict, pc->len);
	return 0;
}

static void gz_piece_work(void *ctx, unsigned worker, size_t slot)
{
	struct gz_pool *p = ctx;
	struct gz_piece *pc = &p->ring[slot];
	pc->err = gz_piece_run(&p->zs[worker], pc);
}

static void gz_pool_free(struct gz_pool *p)
{
	if (!p)
		return;
	wpool_free(p->wp);
	for (unsigned i = 0; i < p->nzs; i++)
		deflateEnd(&p->zs[i]);
	for (size_t i = 0; i < p->nring; i++) {
		free(p->ring[i].in);
		free(p->ring[i].out);
	}
	free(p->ring);
	free(p);
}

static int gz_pool_new(struct gz_pool **out, unsigned nthreads, int level)
{
	struct gz_pool *p = es_calloc(1, sizeof *p);
	*out = NULL;
	p->nring = 2 * (size_t)nthreads;
	p->ring = es_calloc(p->nring, sizeof *p->ring);
	p->crc = crc32_z(0, NULL, 0);
	/* deflateBound() of a piece plus the sync flush's empty block and slack. */
	size_t cap = GZ_PIECE + GZ_PIECE / 1000 + 64 + 4096;
	for (size_t i = 0; i < p->nring; i++) {
		p->ring[i].in = es_malloc(GZ_DICT + GZ_PIECE);
		p->ring[i].out = es_malloc(cap);
		p->ring[i].out_cap = cap;
	}
	for (; p->nzs < nthreads; p->nzs++) {
		int zr = deflateInit2(&p->zs[p->nzs], level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		if (zr != Z_OK) {
			gz_pool_free(p);
			return zr == Z_MEM_ERROR ? -ENOMEM : ES_EINTERNAL;
		}
	}
	int rc = wpool_new(&p->wp, nthreads, p->nring, gz_piece_work, p);
	if (rc) {
		gz_pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* The gzip header zlib would write for these options (RFC 1952). */
static int gz_header_write(gz_t *g, const gz_opts_t *opts, int level)
{
	unsigned char h[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	uint32_t mtime = opts ? opts->mtime : 0;
	if (opts && opts->name)
		h[3] = 0x08;
	for (int i = 0; i < 4; i++)
		h[4 + i] = (unsigned char)(mtime >> (8 * i));
	h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
	if (opts && opts->os_unknown)
		h[9] = 255;
	int rc = g->sink(g->ctx, h, sizeof h);
	if (rc == 0 && opts && opts->name)
		rc = g->sink(g->ctx, opts->name, strlen(opts->name) + 1);
	return rc;
}

/* Waits for the oldest piece in flight and hands its output to the sink. */
static int gz_pool_write_one(gz_t *g)
{
	struct gz_pool *p = g->pool;
	struct gz_piece *pc = &p->ring[wpool_collect(p->wp)];
	if (pc->err)
		return g->err = pc->err;
	p->crc = crc32_combine(p->crc, pc->crc, (z_off_t)pc->len);
	if (pc->out_len) {
		int rc = g->sink(g->ctx, pc->out, pc->out_len);
		if (rc < 0)
			return g->err = rc;
	}
	return 0;
}

/* Queues the piece being filled (as the last one if last), then starts the
 * next with the end of this one as its dictionary. */
static int gz_pool_queue(gz_t *g, int last)
{
	struct gz_pool *p = g->pool;
	struct gz_piece *pc = &p->ring[wpool_filling(p->wp)];
	pc->last = last;
	wpool_submit(p->wp);
	if (wpool_full(p->wp)) {
		int rc = gz_pool_write_one(g);
		if (rc)
			return rc;
	}
	if (last)
		return 0;
	/* The worker only reads pc->in: the dictionary is copied while it deflates. */
	struct gz_piece *nx = &p->ring[wpool_filling(p->wp)];
	size_t total = pc->dict + pc->len;
	nx->dict = total < GZ_DICT ? total : GZ_DICT;
	memcpy(nx->in, pc->in + total - nx->dict, nx->dict);
	nx->len = 0;
	return 0;
}

static int gz_pool_write(gz_t *g, const unsigned char *buf, size_t len)
{
	struct gz_pool *p = g->pool;
	while (len > 0) {
		struct gz_piece *pc = &p->ring[wpool_filling(p->wp)];
		size_t n = GZ_PIECE - pc->len;
		if (n > len)
			n = len;
		memcpy(pc->in + pc->dict + pc->len, buf, n);
		pc->len += n;
		buf += n;
		len -= n;
		g->total_in += n;
		if (pc->len == GZ_PIECE) {
			int rc = gz_pool_queue(g, 0);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int gz_pool_finish(gz_t *g)
{
	struct gz_pool *p = g->pool;
	int rc = gz_pool_queue(g, 1);
	while (rc == 0 && wpool_pending(p->wp) > 0)
		rc = gz_pool_write_one(g);
	if (rc)
		return rc;
	unsigned char t[8];
	for (int i = 0; i < 4; i++) {
		t[i] = (unsigned char)(p->crc >> (8 * i));
		t[4 + i] = (unsigned char)(g->total_in >> (8 * i));
	}
	rc = g->sink(g->ctx, t, sizeof t);
	return rc < 0 ? (g->err = rc) : 0;
}

int gz_new(gz_t **out, const gz_opts_t *opts, gz_sink_fn sink, void *ctx)
{
	*out = NULL;
	gz_t *g = es_calloc(1, sizeof *g);
	int level = opts && opts->level ? opts->level : 6;
	unsigned threads = opts ? opts->threads : 0;
	if (threads > 1) {
		if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION) {
			free(g);
			return ES_EINTERNAL;  /* What deflateInit2() says of such a level. */
		}
		if (threads > GZ_MAX_THREADS)
			threads = GZ_MAX_THREADS;
		g->sink = sink;
		g->ctx = ctx;
		int rc = gz_pool_new(&g->pool, threads, level);
		if (rc == 0)
			rc = gz_header_write(g, opts, level);
		if (rc) {
			gz_free(g);
			return rc;
		}
		*out = g;
		return 0;
	}
	/* windowBits 15 + 16 asks zlib for a gzip wrapper; memLevel 8 as Python's gzip. */
	int zr = deflateInit2(&g->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zr != Z_OK) {
		free(g);
		return zr == Z_MEM_ERROR ? -ENOMEM : ES_EINTERNAL;
	}
	if (opts && (opts->name || opts->mtime || opts->os_unknown)) {
		if (opts->name)
			g->name = es_strdup(opts->name);
		g->head.time = opts->mtime;
		g->head.os = opts->os_unknown ? 255 : 3;
		g->head.name = (Bytef *)g->name;
		if (deflateSetHeader(&g->zs, &g->head) != Z_OK) {
			gz_free(g);
			return ES_EINTERNAL;
		}
	}
	g->sink = sink;
	g->ctx = ctx;
	*out = g;
	return 0;
}

/* Runs deflate over the pending input with flush, handing full output buffers to the sink. */
static int gz_run(gz_t *g, int flush)
{
	int zr;
	do {
		g->zs.next_out = g->out;
		g->zs.avail_out = GZ_OUT;
		zr = deflate(&g->zs, flush);
		if (zr == Z_STREAM_ERROR)
			return g->err = ES_EINTERNAL;
		size_t n = GZ_OUT - g->zs.avail_out;
		if (n > 0) {
			int rc = g->sink(g->ctx, g->out, n);
			if (rc < 0)
				return g->err = rc;
		}
	} while (g->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int gz_write(gz_t *g, const void *buf, size_t len)
{
	if (g->err)
		return g->err;
	if (g->finished)
		return g->err = -EINVAL;
	const unsigned char *p = buf;
	if (g->pool)
		return gz_pool_write(g, p, len);
	while (len > 0) {
		/* zlib counts in uInt: feed at most 1 GiB at a time. */
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		g->zs.next_in = (Bytef *)p;
		g->zs.avail_in = chunk;
		int rc = gz_run(g, Z_NO_FLUSH);
		if (rc < 0)
			return rc;
		p += chunk;
		len -= chunk;
		g->total_in += chunk;
	}
	return 0;
}

int gz_finish(gz_t *g)
{
	if (g->err)
		return g->err;
	if (g->finished)
		return 0;
	int rc;
	if (g->pool) {
		rc = gz_pool_finish(g);
		if (rc == 0)
			g->finished = 1;
		return rc;
	}
	g->zs.next_in = NULL;
	g->zs.avail_in = 0;
	rc = gz_run(g, Z_FINISH);
	if (rc == 0)
		g->finished = 1;
	return rc;
}

uint64_t gz_total_in(const gz_t *g)
{
	return g->total_in;
}

void gz_free(gz_t *g)
{
	if (!g)
		return;
	if (g->pool)
		gz_pool_free(g->pool);
	else
		deflateEnd(&g->zs);
	free(g->name);
	free(g);
}

struct gz_mem {
	char *buf;
	size_t len, cap;
};

static int gz_mem_sink(void *ctx, const void *buf, size_t len)
{
	struct gz_mem *m = ctx;
	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap : (64u << 10);
		while (cap < m->len + len)
			cap *= 2;
		m->buf = es_realloc(m->buf, cap);
		m->cap = cap;
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

int gz_buf(const void *in, size_t len, const gz_opts_t *opts, char **out, size_t *outlen)
{
	struct gz_mem m = { NULL, 0, 0 };
	gz_t *g;
	*out = NULL;
	*outlen = 0;
	int rc = gz_new(&g, opts, gz_mem_sink, &m);
	if (rc < 0)
		return rc;
	rc = gz_write(g, in, len);
	if (rc == 0)
		rc = gz_finish(g);
	gz_free(g);
	if (rc < 0) {
		free(m.buf);
		return rc;
	}
	*out = m.buf;
	*outlen = m.len;
	return 0;
}

int gz_fd_sink(void *ctx, const void *buf, size_t len)
{
	return fsx_write_all(*(const int *)ctx, buf, len);
}
