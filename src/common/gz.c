#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "error.h"
#include "fsx.h"
#include "gz.h"
#include "mem.h"

#define GZ_OUT (1u << 17)

struct gz {
	z_stream zs;
	gz_header head;
	char *name;
	gz_sink_fn sink;
	void *ctx;
	int err, finished;
	uint64_t total_in;
	unsigned char out[GZ_OUT];
};

int gz_new(gz_t **out, const gz_opts_t *opts, gz_sink_fn sink, void *ctx)
{
	*out = NULL;
	gz_t *g = es_calloc(1, sizeof *g);
	int level = opts && opts->level ? opts->level : 6;
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
	g->zs.next_in = NULL;
	g->zs.avail_in = 0;
	int rc = gz_run(g, Z_FINISH);
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
