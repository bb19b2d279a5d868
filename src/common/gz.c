#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "error.h"
#include "fsx.h"
#include "gz.h"
#include "mem.h"
#include "wpool.h"

#define GZ_OUT (1u << 17)
/* Threaded mode: gz_write()'s bytes are cut into pieces of this size, each
 * its own member (a member costs 18 bytes and a fresh window). */
#define GZ_PIECE ((size_t)1 << 20)

struct gz_piece {
	jsonw_t in;             /* The piece's text. */
	gz_make_fn make;        /* Makes in on the worker (else the owner filled it). */
	void *make_ctx;
	size_t no;              /* Piece number for make. */
	uint64_t limit;         /* Most uncompressed bytes of the stream with this piece. */
	unsigned char *out;     /* Raw deflate data of in. */
	size_t out_cap, out_len;
	uint32_t crc;           /* CRC-32 of in. */
	int last, err;
};

struct gz_pool {
	wpool_t *wp;
	struct libdeflate_compressor *dc[GZ_MAX_THREADS];  /* One per thread. */
	unsigned ndc;
	size_t nring;
	struct gz_piece *ring;  /* The wpool's slots. */
	uint64_t members;       /* Members written. */
	unsigned char head[10]; /* Header of the members after the first (no name). */
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

/* Makes the piece's text if it is to be made, and deflates it whole. */
static int gz_piece_run(struct libdeflate_compressor *dc, struct gz_piece *pc)
{
	if (pc->make) {
		jsonw_reset(&pc->in);
		int rc = pc->make(pc->make_ctx, pc->no, &pc->in);
		if (rc == 0)
			rc = jsonw_error(&pc->in);
		if (rc)
			return rc;
	}
	const char *in = pc->in.buf ? pc->in.buf : "";
	size_t bound = libdeflate_deflate_compress_bound(dc, pc->in.len);
	if (bound > pc->out_cap) {
		free(pc->out);
		pc->out = es_malloc(bound);
		pc->out_cap = bound;
	}
	pc->out_len = libdeflate_deflate_compress(dc, in, pc->in.len, pc->out, pc->out_cap);
	if (pc->out_len == 0)
		return ES_EINTERNAL;
	pc->crc = libdeflate_crc32(0, in, pc->in.len);
	return 0;
}

static void gz_piece_work(void *ctx, unsigned worker, size_t slot)
{
	struct gz_pool *p = ctx;
	struct gz_piece *pc = &p->ring[slot];
	pc->err = gz_piece_run(p->dc[worker], pc);
}

static void gz_pool_free(struct gz_pool *p)
{
	if (!p)
		return;
	wpool_free(p->wp);
	for (unsigned i = 0; i < p->ndc; i++)
		libdeflate_free_compressor(p->dc[i]);
	for (size_t i = 0; i < p->nring; i++) {
		jsonw_fini(&p->ring[i].in);
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
	for (size_t i = 0; i < p->nring; i++)
		jsonw_init(&p->ring[i].in, GZ_MADE_MAX);
	for (; p->ndc < nthreads; p->ndc++) {
		p->dc[p->ndc] = libdeflate_alloc_compressor(level);
		if (!p->dc[p->ndc]) {
			gz_pool_free(p);
			return -ENOMEM;
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

/* The gzip header zlib would write for these options (RFC 1952); the
 * header of later members, without the name, is kept in the pool. */
static int gz_header_write(gz_t *g, const gz_opts_t *opts, int level)
{
	unsigned char h[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	uint32_t mtime = opts ? opts->mtime : 0;
	for (int i = 0; i < 4; i++)
		h[4 + i] = (unsigned char)(mtime >> (8 * i));
	h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
	if (opts && opts->os_unknown)
		h[9] = 255;
	memcpy(g->pool->head, h, sizeof h);
	if (opts && opts->name)
		h[3] = 0x08;
	int rc = g->sink(g->ctx, h, sizeof h);
	if (rc == 0 && opts && opts->name)
		rc = g->sink(g->ctx, opts->name, strlen(opts->name) + 1);
	return rc;
}

/* Waits for the oldest piece in flight and writes it as a member (the first
 * member's header is already written); an empty piece is skipped unless the
 * stream would otherwise have no member. */
static int gz_pool_write_one(gz_t *g)
{
	struct gz_pool *p = g->pool;
	struct gz_piece *pc = &p->ring[wpool_collect(p->wp)];
	if (g->err)
		return g->err;  /* An earlier piece failed: the rest are only drained. */
	if (pc->err)
		return g->err = pc->err;
	size_t len = pc->in.len;
	if (len == 0 && !(pc->last && p->members == 0))
		return 0;
	if (pc->make && len > pc->limit - (g->total_in < pc->limit ? g->total_in : pc->limit))
		return g->err = ES_ELIMIT;
	int rc = 0;
	if (p->members > 0)
		rc = g->sink(g->ctx, p->head, sizeof p->head);
	if (rc == 0)
		rc = g->sink(g->ctx, pc->out, pc->out_len);
	unsigned char t[8];
	for (int i = 0; i < 4; i++) {
		t[i] = (unsigned char)(pc->crc >> (8 * i));
		t[4 + i] = (unsigned char)(len >> (8 * i));
	}
	if (rc == 0)
		rc = g->sink(g->ctx, t, sizeof t);
	if (rc < 0)
		return g->err = rc;
	p->members++;
	if (pc->make)
		g->total_in += len;
	return 0;
}

/* Hands the filling slot to the threads (as the last piece if last) and
 * makes room for the next: the filling slot is then free to fill. */
static int gz_pool_queue(gz_t *g, int last)
{
	struct gz_pool *p = g->pool;
	p->ring[wpool_filling(p->wp)].last = last;
	wpool_submit(p->wp);
	struct gz_piece *nx = &p->ring[wpool_filling(p->wp)];
	int rc = 0;
	if (wpool_full(p->wp))
		rc = gz_pool_write_one(g);
	jsonw_reset(&nx->in);
	nx->make = NULL;
	return rc;
}

static int gz_pool_write(gz_t *g, const unsigned char *buf, size_t len)
{
	struct gz_pool *p = g->pool;
	while (len > 0) {
		struct gz_piece *pc = &p->ring[wpool_filling(p->wp)];
		size_t n = GZ_PIECE - pc->in.len;
		if (n > len)
			n = len;
		int rc = jsonw_raw(&pc->in, (const char *)buf, n);
		if (rc)
			return g->err = rc;
		buf += n;
		len -= n;
		g->total_in += n;
		if (pc->in.len == GZ_PIECE) {
			rc = gz_pool_queue(g, 0);
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
	return rc;
}

int gz_write_made(gz_t *g, size_t npieces, gz_make_fn make, void *ctx, uint64_t limit)
{
	if (g->err)
		return g->err;
	if (g->finished)
		return g->err = -EINVAL;
	struct gz_pool *p = g->pool;
	if (!p) {
		jsonw_t w;
		int rc = 0;
		jsonw_init(&w, GZ_MADE_MAX);
		for (size_t i = 0; i < npieces && rc == 0; i++) {
			jsonw_reset(&w);
			rc = make(ctx, i, &w);
			if (rc == 0)
				rc = jsonw_error(&w);
			if (rc == 0 && w.len > limit - (g->total_in < limit ? g->total_in : limit))
				rc = ES_ELIMIT;
			if (rc)
				g->err = rc;
			else
				rc = gz_write(g, w.buf, w.len);
		}
		jsonw_fini(&w);
		return rc;
	}
	struct gz_piece *pc = &p->ring[wpool_filling(p->wp)];
	if (pc->in.len > 0) {
		int rc = gz_pool_queue(g, 0);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < npieces; i++) {
		pc = &p->ring[wpool_filling(p->wp)];
		pc->make = make;
		pc->make_ctx = ctx;
		pc->no = i;
		pc->limit = limit;
		int rc = gz_pool_queue(g, 0);
		if (rc)
			return rc;
	}
	return 0;
}

int gz_new(gz_t **out, const gz_opts_t *opts, gz_sink_fn sink, void *ctx)
{
	*out = NULL;
	gz_t *g = es_calloc(1, sizeof *g);
	int level = opts && opts->level ? opts->level : 6;
	unsigned threads = opts ? opts->threads : 0;
	if (threads > 1) {
		if (level == Z_DEFAULT_COMPRESSION)
			level = 6;
		if (level < 1 || level > Z_BEST_COMPRESSION) {
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
