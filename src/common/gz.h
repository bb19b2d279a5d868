/*
 * gz.h - the one gzip (RFC 1952) compressor of the project: a streaming
 * writer that hands compressed bytes to a sink as they are made, so a large
 * text never has to be held whole, and a whole-buffer helper.  zlib does the
 * deflating (one member, memLevel 8, the largest window).
 *
 * Threaded mode (gz_opts_t.threads > 1): the input is cut into 1 MiB pieces
 * deflated on the writer's own threads, each with the previous piece's last
 * 32 KiB as its dictionary and ending in a sync flush, and written in order
 * as ONE member with the combined CRC-32: any gunzip reads it and gets the
 * same bytes; the compressed bytes differ from the single-thread mode's (a
 * few bytes more per piece).  The sink is still called only from the thread
 * calling gz_write()/gz_finish().
 *
 * Ownership: gz_new() allocates the writer and about 300 KB of zlib state and
 * buffers (threaded: about 4.2 MiB per thread, and the threads, which
 * gz_free() joins); gz_free() frees them (after gz_finish() or instead of it,
 * to abandon the stream).  The sink and its context are borrowed.  A writer
 * is used by one thread at a time; separate writers are independent.
 */
#ifndef ES_GZ_H
#define ES_GZ_H

#include <stddef.h>
#include <stdint.h>

/* Receives len compressed bytes; returns 0 or a negative code, which gz_write/gz_finish return. */
typedef int (*gz_sink_fn)(void *ctx, const void *buf, size_t len);

typedef struct gz gz_t;

/* Most threads of one writer. */
#define GZ_MAX_THREADS 16u  /* = WPOOL_MAX_THREADS */

/* What the gzip header says.  With name NULL and mtime 0, zlib's default
 * header is written (no name, time 0, OS "Unix"). */
typedef struct gz_opts {
	int level;          /* 1-9; 0 → 6. */
	const char *name;   /* Original file name (FNAME), or NULL. */
	uint32_t mtime;     /* Modification time (MTIME), seconds since 1970, or 0. */
	int os_unknown;     /* OS byte 255 ("unknown", as Python's gzip writes) instead of zlib's. */
	unsigned threads;   /* 0 or 1: deflate in the caller's thread; more: threaded mode
	                     * (at most GZ_MAX_THREADS). */
} gz_opts_t;

/* Starts a member.  Returns 0 with *out set, ES_EINTERNAL if zlib refuses, -ENOMEM,
 * -errno of pthread_create() or the sink's error (threaded mode writes the header here). */
int gz_new(gz_t **out, const gz_opts_t *opts, gz_sink_fn sink, void *ctx);
/* Compresses len bytes of buf (any length).  0 or the sink's error / ES_EINTERNAL;
 * after an error every further call returns it. */
int gz_write(gz_t *g, const void *buf, size_t len);
/* Ends the member (trailer with CRC-32 and length) and flushes it to the sink. */
int gz_finish(gz_t *g);
/* Uncompressed bytes written so far. */
uint64_t gz_total_in(const gz_t *g);
/* Frees the writer.  NULL is allowed. */
void gz_free(gz_t *g);

/* gzip of a whole buffer into a malloc()ed one (*out, freed by the caller). */
int gz_buf(const void *in, size_t len, const gz_opts_t *opts, char **out, size_t *outlen);

/* A sink writing to a file descriptor: ctx points to an int holding it (fsx_write_all). */
int gz_fd_sink(void *ctx, const void *buf, size_t len);

#endif
