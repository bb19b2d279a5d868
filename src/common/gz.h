/*
 * gz.h - the one gzip (RFC 1952) compressor of the project: a streaming
 * writer that hands compressed bytes to a sink as they are made, so a large
 * text never has to be held whole, and a whole-buffer helper.  In the
 * caller's thread zlib does the deflating (one member, memLevel 8, the
 * largest window); threaded mode, below, uses libdeflate.
 *
 * Threaded mode (gz_opts_t.threads > 1): the input is cut into pieces (1 MiB
 * of gz_write()'s bytes, or the texts gz_write_made() has made on the
 * threads) and each piece is deflated on the writer's own threads by
 * libdeflate into a gzip member of its own; the members are written in order,
 * so the file is a series of members (RFC 1952 2.2), which gzip -d, Python's
 * gzip module, zlib's inflate with inflateReset() between members (reader.c,
 * submit.c) and gzread() all read as the concatenated text.  Only the first
 * member's header carries the name; every member has the same MTIME, XFL and
 * OS bytes.  No member is empty unless the whole text is.  The sink is still
 * called only from the thread calling gz_write()/gz_write_made()/gz_finish().
 *
 * Ownership: gz_new() allocates the writer and about 300 KB of zlib state and
 * buffers (threaded: two pieces in flight per thread, each a text buffer of
 * up to 2 MiB, about half of it used, and 1 MiB of deflate output, plus
 * libdeflate's compressor per thread, and the threads, which gz_free() joins);
 * gz_free() frees them (after gz_finish() or instead of it, to abandon the
 * stream).  The sink and its context are borrowed.  A writer is used by one
 * thread at a time; separate writers are independent.
 */
#ifndef ES_GZ_H
#define ES_GZ_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"

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
/*
 * Makes the text of piece number piece (0..npieces-1) of gz_write_made():
 * appends it to w (empty, limit GZ_MADE_MAX) and returns 0 or a negative
 * code.  In threaded mode it runs on the writer's threads, several pieces at
 * once and in any order, so it may only read shared data; otherwise in the
 * caller's thread, in order.  A piece of about 1 MiB keeps memory and the
 * threads' balance as gz_write()'s.
 */
typedef int (*gz_make_fn)(void *ctx, size_t piece, jsonw_t *w);
/* Largest text of one made piece (ES_ELIMIT beyond). */
#define GZ_MADE_MAX ((size_t)64 << 20)
/*
 * Compresses the texts of npieces pieces made by make (after anything
 * gz_write() gave), in piece order.  Returns 0, make's or jsonw's error,
 * ES_ELIMIT when the uncompressed bytes of the stream would pass limit
 * (checked before a piece is written, so none of that piece reaches the
 * sink), or as gz_write(); errors stick as gz_write()'s.
 */
int gz_write_made(gz_t *g, size_t npieces, gz_make_fn make, void *ctx, uint64_t limit);
/* Uncompressed bytes written so far. */
uint64_t gz_total_in(const gz_t *g);
/* Frees the writer.  NULL is allowed. */
void gz_free(gz_t *g);

/* gzip of a whole buffer into a malloc()ed one (*out, freed by the caller). */
int gz_buf(const void *in, size_t len, const gz_opts_t *opts, char **out, size_t *outlen);

/* A sink writing to a file descriptor: ctx points to an int holding it (fsx_write_all). */
int gz_fd_sink(void *ctx, const void *buf, size_t len);

#endif
