/*
 * reader.h - streaming line reader for request logs: bzip2 (multi-stream),
 * gzip (multi-member) or plain text, chosen by the first bytes, never by the
 * file name.  Memory is bounded by the line limit plus fixed buffers: it does
 * not grow with the file.
 *
 * Decompression runs in a thread of the reader's own so that it overlaps the
 * caller's parsing (the two cores of a node are both used); the caller sees a
 * plain pull API.  While reading, the reader computes the SHA-256 (OpenSSL
 * EVP) of the decompressed bytes: the content identity the ledger uses.
 *
 * Lines end with '\n'; a trailing '\r' is removed; a last line without '\n'
 * is still a line.  A line longer than max_line is reported once with
 * *too_long set and its content skipped (it is a malformed line, not an error).
 *
 * Ownership: reader_open() allocates the reader and opens the file;
 * reader_close() joins the thread, closes the file and frees everything.  A
 * line returned by reader_next() belongs to the reader and stays valid until
 * the next call.  A reader is used by one thread at a time.
 */
#ifndef ES_READER_H
#define ES_READER_H

#include <stddef.h>
#include <stdint.h>

#define READER_DEFAULT_MAX_LINE (16u << 20)

enum reader_kind {
	READER_PLAIN = 0,
	READER_BZIP2 = 1,
	READER_GZIP = 2
};

typedef struct reader reader_t;

typedef struct reader_opts {
	size_t max_line;  /* 0 → READER_DEFAULT_MAX_LINE. */
	int no_thread;    /* Decompress in the caller's thread (for tests). */
} reader_opts_t;

/*
 * Opens path (or adopts fd when fd >= 0; the reader then owns and closes it;
 * path is only used in messages).  Errors: -errno from open/read, for example
 * -ENOENT, -EACCES, -EISDIR.
 */
int reader_open(reader_t **out, const char *path, int fd, const reader_opts_t *opts);

/*
 * Returns 1 and a line (*line, *len without '\n'), 0 at the proper end of
 * the data, or a negative code: ES_ECORRUPT (invalid compressed data, also a
 * text file starting with "BZh"), ES_ETRUNC (the compressed stream stops
 * before its end marker), -errno on I/O errors.  After an error every further
 * call returns the same error.
 */
int reader_next(reader_t *r, const char **line, size_t *len, int *too_long);

enum reader_kind reader_kind(const reader_t *r);
const char *reader_kind_name(enum reader_kind k);
/* Compressed bytes consumed so far, and decompressed bytes produced so far. */
uint64_t reader_bytes_in(const reader_t *r);
uint64_t reader_bytes_out(const reader_t *r);
/* Size of the input file at open time (0 for pipes). */
uint64_t reader_file_size(const reader_t *r);
/* SHA-256 of all decompressed bytes; valid only after reader_next() returned 0. */
int reader_digest(const reader_t *r, uint8_t out[32]);

void reader_close(reader_t *r);

/*
 * Checks that a compressed file is complete without keeping its content:
 * decodes to the end of the last stream.  Returns 0, ES_ETRUNC, ES_ECORRUPT
 * or -errno.  Plain files are always complete.  (Used by the daemon's settle
 * step.)
 */
int reader_check_complete(const char *path);

#endif
