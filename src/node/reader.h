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
 * is still a line.  A line longer than max_line bytes (counted before the
 * '\n', a '\r' included) is reported once with *too_long set, as an empty
 * line, and its content skipped (it is a malformed line, not an error).
 *
 * Layout: the thread decodes into a ring of six 1 MiB blocks; the caller
 * finds line ends with memchr() and gets pointers into the blocks, copying
 * only lines that straddle two blocks (into a buffer of at most max_line).
 * Memory is about 6 MiB + 256 KiB + the decoder's state + that buffer.
 * Parallel bzip2 adds, per worker plus two, a block's compressed bytes and
 * text; a block's text is handed on by exchanging buffers with a ring block
 * (no copy), so the ring's blocks may then hold up to 2 MiB each.
 * Multi-stream bzip2 and multi-member gzip are read to the end; bytes after
 * the last stream that do not start another one are ES_ECORRUPT.  From a pipe
 * the thread hands over what it has decoded before it waits for more input,
 * so lines are not held back by a slow writer.  Complete lines before a
 * decoding error are delivered first; a partial last line of a damaged
 * stream is dropped, then the error is returned.
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
	/*
	 * Threads that decode bzip2 blocks in parallel (regular files of at
	 * least par_min_size bytes): 0 → the number of online CPUs; 1 → one
	 * decoding thread, the sequential path.  At most 16 are started.
	 */
	unsigned threads;
	uint64_t par_min_size;  /* 0 → 2 MiB of compressed input; tests set it lower. */
	int no_digest;          /* 1: no SHA-256 (reader_digest() then says -EINVAL). */
} reader_opts_t;

/*
 * Opens path (or adopts fd when fd >= 0; the reader then owns and closes it,
 * also when reader_open() fails; path is only used in messages), reads the
 * first bytes to choose the kind and starts the thread.  Errors: -errno from
 * open/read/pipe/pthread_create, for example -ENOENT, -EACCES, -EISDIR.
 * *out is NULL on failure.
 */
int reader_open(reader_t **out, const char *path, int fd, const reader_opts_t *opts);

/*
 * Returns 1 and a line (*line, *len without '\n'; too_long must not be
 * NULL; the line is not NUL-terminated), 0 at the proper end of
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
/*
 * SHA-256 of all decompressed bytes; valid only after reader_next() returned
 * 0 (-EINVAL before, after an error, or with no_digest).  Hashing runs in the
 * caller's thread for compressed input (decompression is the slower side) and
 * in the reader's thread for plain input.
 */
int reader_digest(const reader_t *r, uint8_t out[32]);

/* Stops and joins the thread (also mid-file or while it waits on a pipe),
 * closes the file and frees everything.  NULL is allowed. */
void reader_close(reader_t *r);

/*
 * Finds the first bzip2 block magic (0x314159265359) or end-of-stream magic
 * (0x177245385090), 48 bits at any bit offset, that starts at bit from or
 * later of b[0..len) (bit 0 is the most significant bit of b[0]) and ends
 * inside it.  Returns 1 with *at (its first bit) and *eos (1: end of stream),
 * else 0 with *at the bit to search from again once bytes are appended to b
 * (no magic starting before it can end inside b[0..len)).  at may point to
 * from.  Runs at about memory speed (a byte prefilter, then a 48-bit check).
 * Pure; any thread.
 */
int reader_bz_find_magic(const unsigned char *b, size_t len, uint64_t from, uint64_t *at,
                         int *eos);

/*
 * Checks that a compressed file is complete without keeping its content:
 * decodes to the end of the last stream.  Returns 0, ES_ETRUNC, ES_ECORRUPT
 * or -errno.  Plain files are always complete.  (Used by the daemon's settle
 * step.)  Runs in the caller's thread, computes no digest and keeps one 1 MiB
 * block.
 */
int reader_check_complete(const char *path);

#endif
