#include "config.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "error.h"
#include "mem.h"
#include "reader.h"

#define READER_BLOCK_SIZE (1u << 20)
#define READER_RING 6
#define READER_INBUF (256u << 10)
#define READER_CARRY_MIN (64u << 10)

/* Returned by the producer when reader_close() asked it to stop. */
#define READER_STOPPED (-ECANCELED)

struct reader_block {
	char *data;
	size_t len;
	uint64_t in_total;  /* Compressed bytes consumed when the block was complete. */
};

struct reader {
	char *path;
	int fd;
	int is_regular;
	enum reader_kind kind;
	size_t max_line;
	uint64_t file_size;
	int want_digest;

	/* Producer side: used only by the decompression thread (or by the
	 * caller's thread with no_thread) once the reader is open. */
	unsigned char *in;
	size_t in_len, in_pos;
	int in_eof;
	uint64_t in_total;
	bz_stream bz;
	int bz_active;
	z_stream gz;
	int gz_inited, gz_active;
	int digest_in_producer;

	/* The ring of decompressed blocks, guarded by mu. */
	pthread_mutex_t mu;
	pthread_cond_t can_fill, can_take;
	struct reader_block ring[READER_RING];
	unsigned nblocks, head, count;
	int done, prod_err, stop;
	uint64_t final_in_total;
	int threaded;
	pthread_t thread;
	int wake[2];

	/* Consumer side: used only by the caller's thread. */
	EVP_MD_CTX *sha;
	struct reader_block *cur;
	size_t pos;
	char *carry;
	size_t carry_len, carry_cap;
	int carry_emitted, skipping, source_done, finished, err;
	uint64_t bytes_in, bytes_out;
	int have_digest;
	uint8_t digest[32];
};

static int reader_wait_input(reader_t *r)
{
	/* A pipe may block forever; polling the wake pipe lets reader_close()
	 * interrupt the thread.  Regular files never block for long. */
	if (r->is_regular || !r->threaded)
		return 0;
	struct pollfd p[2] = { { .fd = r->fd, .events = POLLIN }, { .fd = r->wake[0], .events = POLLIN } };
	for (;;) {
		int n = poll(p, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[1].revents)
			return READER_STOPPED;
		return 0;
	}
}

static ssize_t reader_read_raw(reader_t *r, void *buf, size_t cap)
{
	int rc = reader_wait_input(r);
	if (rc < 0)
		return rc;
	for (;;) {
		ssize_t n = read(r->fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		r->in_total += (uint64_t)n;
		return n;
	}
}

/*
 * Refills the input buffer once it is used up.  From a pipe, data already
 * decompressed is handed over first (1 when made > 0), so that lines do not
 * wait for a writer that may pause for a long time.
 */
static int reader_fill_input(reader_t *r, size_t made)
{
	if (r->in_pos < r->in_len || r->in_eof)
		return 0;
	if (made > 0 && !r->is_regular)
		return 1;
	ssize_t n = reader_read_raw(r, r->in, READER_INBUF);
	if (n < 0)
		return (int)n;
	r->in_pos = 0;
	r->in_len = (size_t)n;
	if (n == 0)
		r->in_eof = 1;
	return 0;
}

static int reader_produce_plain(reader_t *r, char *buf, size_t cap, size_t *len)
{
	if (r->in_pos < r->in_len) {
		size_t n = r->in_len - r->in_pos;
		if (n > cap - *len)
			n = cap - *len;
		memcpy(buf + *len, r->in + r->in_pos, n);
		r->in_pos += n;
		*len += n;
	}
	while (*len < cap && !r->in_eof && (*len == 0 || r->is_regular)) {
		ssize_t n = reader_read_raw(r, buf + *len, cap - *len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			r->in_eof = 1;
		*len += (size_t)n;
	}
	return 0;
}

static int reader_produce_bzip2(reader_t *r, char *buf, size_t cap, size_t *len)
{
	while (*len < cap) {
		int rc = reader_fill_input(r, *len);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		if (!r->bz_active) {
			/* Between streams: the end of the input is the proper end;
			 * anything else must be one more stream (multi-stream files). */
			if (r->in_pos == r->in_len)
				return 0;
			memset(&r->bz, 0, sizeof r->bz);
			rc = BZ2_bzDecompressInit(&r->bz, 0, 0);
			if (rc != BZ_OK)
				return rc == BZ_MEM_ERROR ? -ENOMEM : ES_EINTERNAL;
			r->bz_active = 1;
		}
		r->bz.next_in = (char *)r->in + r->in_pos;
		r->bz.avail_in = (unsigned)(r->in_len - r->in_pos);
		r->bz.next_out = buf + *len;
		r->bz.avail_out = (unsigned)(cap - *len);
		rc = BZ2_bzDecompress(&r->bz);
		size_t used = (r->in_len - r->in_pos) - r->bz.avail_in;
		size_t made = (cap - *len) - r->bz.avail_out;
		r->in_pos += used;
		*len += made;
		if (rc == BZ_STREAM_END) {
			BZ2_bzDecompressEnd(&r->bz);
			r->bz_active = 0;
			continue;
		}
		if (rc == BZ_MEM_ERROR)
			return -ENOMEM;
		if (rc != BZ_OK)
			return ES_ECORRUPT;
		if (used == 0 && made == 0 && r->in_eof)
			return ES_ETRUNC;
	}
	return 0;
}

static int reader_produce_gzip(reader_t *r, char *buf, size_t cap, size_t *len)
{
	while (*len < cap) {
		int rc = reader_fill_input(r, *len);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		if (!r->gz_active) {
			if (r->in_pos == r->in_len)
				return 0;
			if (!r->gz_inited) {
				memset(&r->gz, 0, sizeof r->gz);
				/* 15 + 16: a gzip wrapper with the largest window. */
				rc = inflateInit2(&r->gz, 15 + 16);
				if (rc != Z_OK)
					return rc == Z_MEM_ERROR ? -ENOMEM : ES_EINTERNAL;
				r->gz_inited = 1;
			} else if (inflateReset(&r->gz) != Z_OK) {
				return ES_EINTERNAL;
			}
			r->gz_active = 1;
		}
		r->gz.next_in = r->in + r->in_pos;
		r->gz.avail_in = (uInt)(r->in_len - r->in_pos);
		r->gz.next_out = (unsigned char *)buf + *len;
		r->gz.avail_out = (uInt)(cap - *len);
		rc = inflate(&r->gz, Z_NO_FLUSH);
		size_t used = (r->in_len - r->in_pos) - r->gz.avail_in;
		size_t made = (cap - *len) - r->gz.avail_out;
		r->in_pos += used;
		*len += made;
		if (rc == Z_STREAM_END) {
			r->gz_active = 0;
			continue;
		}
		if (rc == Z_MEM_ERROR)
			return -ENOMEM;
		if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR)
			return ES_ECORRUPT;
		if (used == 0 && made == 0 && r->in_eof)
			return ES_ETRUNC;
	}
	return 0;
}

/* Fills buf with up to cap decompressed bytes; *len == 0 on return 0 is the end. */
static int reader_produce(reader_t *r, char *buf, size_t cap, size_t *len)
{
	int rc;
	*len = 0;
	switch (r->kind) {
	case READER_BZIP2:
		rc = reader_produce_bzip2(r, buf, cap, len);
		break;
	case READER_GZIP:
		rc = reader_produce_gzip(r, buf, cap, len);
		break;
	default:
		rc = reader_produce_plain(r, buf, cap, len);
		break;
	}
	if (r->digest_in_producer && *len > 0 && EVP_DigestUpdate(r->sha, buf, *len) != 1)
		rc = rc < 0 ? rc : ES_EINTERNAL;
	return rc;
}

static void *reader_thread(void *arg)
{
	reader_t *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (r->count == r->nblocks && !r->stop)
			pthread_cond_wait(&r->can_fill, &r->mu);
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		struct reader_block *b = &r->ring[(r->head + r->count) % r->nblocks];
		pthread_mutex_unlock(&r->mu);

		size_t len;
		int rc = reader_produce(r, b->data, READER_BLOCK_SIZE, &len);

		pthread_mutex_lock(&r->mu);
		if (len > 0) {
			b->len = len;
			b->in_total = r->in_total;
			r->count++;
		}
		if (rc < 0 || len == 0) {
			r->done = 1;
			r->prod_err = rc;
			r->final_in_total = r->in_total;
		}
		pthread_cond_signal(&r->can_take);
		int end = r->done;
		pthread_mutex_unlock(&r->mu);
		if (end)
			return NULL;
	}
}

/*
 * Releases the current block and makes the next one current.  Returns 0 with
 * r->cur set, 0 with r->cur NULL at the end of the data, or an error.
 */
static int reader_take_block(reader_t *r)
{
	if (!r->threaded) {
		r->cur = NULL;
		if (r->done)
			return r->prod_err;
		struct reader_block *b = &r->ring[0];
		int rc = reader_produce(r, b->data, READER_BLOCK_SIZE, &b->len);
		b->in_total = r->in_total;
		if (rc < 0 || b->len == 0) {
			r->done = 1;
			r->prod_err = rc;
			r->final_in_total = r->in_total;
		}
		/* Complete lines before a decoding error are still delivered. */
		if (b->len > 0)
			r->cur = b;
		return r->cur ? 0 : rc;
	}
	pthread_mutex_lock(&r->mu);
	if (r->cur) {
		r->head = (r->head + 1) % r->nblocks;
		r->count--;
		r->cur = NULL;
		pthread_cond_signal(&r->can_fill);
	}
	while (r->count == 0 && !r->done)
		pthread_cond_wait(&r->can_take, &r->mu);
	int rc = 0;
	if (r->count > 0)
		r->cur = &r->ring[r->head];
	else
		rc = r->prod_err;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static void reader_carry_append(reader_t *r, const char *p, size_t n)
{
	if (r->carry_len + n > r->carry_cap) {
		size_t cap = r->carry_cap ? r->carry_cap : READER_CARRY_MIN;
		while (cap < r->carry_len + n)
			cap *= 2;
		if (cap > r->max_line)
			cap = r->max_line;
		r->carry = es_realloc(r->carry, cap);
		r->carry_cap = cap;
	}
	memcpy(r->carry + r->carry_len, p, n);
	r->carry_len += n;
}

static int reader_emit(const char *p, size_t n, const char **line, size_t *len, int *too_long)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	*line = p;
	*len = n;
	*too_long = 0;
	return 1;
}

static int reader_emit_too_long(const char **line, size_t *len, int *too_long)
{
	*line = "";
	*len = 0;
	*too_long = 1;
	return 1;
}

static int reader_finish(reader_t *r)
{
	r->finished = 1;
	if (r->want_digest) {
		unsigned int n = 0;
		if (EVP_DigestFinal_ex(r->sha, r->digest, &n) != 1 || n != 32)
			return r->err = ES_EINTERNAL;
		r->have_digest = 1;
	}
	return 0;
}

int reader_next(reader_t *r, const char **line, size_t *len, int *too_long)
{
	if (r->err)
		return r->err;
	if (r->finished)
		return 0;
	if (r->carry_emitted) {
		r->carry_len = 0;
		r->carry_emitted = 0;
	}
	for (;;) {
		if (r->cur && r->pos < r->cur->len) {
			char *start = r->cur->data + r->pos;
			size_t avail = r->cur->len - r->pos;
			char *nl = memchr(start, '\n', avail);
			if (nl) {
				size_t n = (size_t)(nl - start);
				r->pos += n + 1;
				if (r->skipping) {
					r->skipping = 0;
					continue;
				}
				if (r->carry_len + n > r->max_line) {
					r->carry_len = 0;
					return reader_emit_too_long(line, len, too_long);
				}
				if (r->carry_len == 0)
					return reader_emit(start, n, line, len, too_long);
				reader_carry_append(r, start, n);
				r->carry_emitted = 1;
				return reader_emit(r->carry, r->carry_len, line, len, too_long);
			}
			r->pos = r->cur->len;
			if (r->skipping)
				continue;
			if (r->carry_len + avail > r->max_line) {
				/* Report the line now and drop the rest of it as it comes. */
				r->carry_len = 0;
				r->skipping = 1;
				return reader_emit_too_long(line, len, too_long);
			}
			reader_carry_append(r, start, avail);
			continue;
		}
		if (r->source_done)
			return reader_finish(r);
		int rc = reader_take_block(r);
		if (rc < 0) {
			/* A partial last line of a damaged stream is not a line. */
			r->carry_len = 0;
			r->err = rc;
			return rc;
		}
		r->pos = 0;
		if (r->cur) {
			r->bytes_out += r->cur->len;
			r->bytes_in = r->cur->in_total;
			if (r->want_digest && !r->digest_in_producer &&
			    EVP_DigestUpdate(r->sha, r->cur->data, r->cur->len) != 1)
				return r->err = ES_EINTERNAL;
			continue;
		}
		r->bytes_in = r->final_in_total;
		r->source_done = 1;
		if (r->carry_len > 0 && !r->skipping) {
			r->carry_emitted = 1;
			return reader_emit(r->carry, r->carry_len, line, len, too_long);
		}
		return reader_finish(r);
	}
}

static int reader_sniff(reader_t *r)
{
	while (r->in_len < 3 && !r->in_eof) {
		ssize_t n = read(r->fd, r->in + r->in_len, READER_INBUF - r->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			r->in_eof = 1;
		r->in_len += (size_t)n;
		r->in_total += (uint64_t)n;
	}
	if (r->in_len >= 3 && memcmp(r->in, "BZh", 3) == 0)
		r->kind = READER_BZIP2;
	else if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b)
		r->kind = READER_GZIP;
	else
		r->kind = READER_PLAIN;
	return 0;
}

static void reader_free(reader_t *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->wake[0] >= 0)
		close(r->wake[0]);
	if (r->wake[1] >= 0)
		close(r->wake[1]);
	if (r->bz_active)
		BZ2_bzDecompressEnd(&r->bz);
	if (r->gz_inited)
		inflateEnd(&r->gz);
	for (unsigned i = 0; i < r->nblocks; i++)
		free(r->ring[i].data);
	EVP_MD_CTX_free(r->sha);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->can_fill);
	pthread_cond_destroy(&r->can_take);
	free(r->in);
	free(r->carry);
	free(r->path);
	free(r);
}

static int reader_open_internal(reader_t **out, const char *path, int fd,
                                const reader_opts_t *opts, int want_digest, int threaded)
{
	*out = NULL;
	if (fd < 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}

	reader_t *r = es_calloc(1, sizeof *r);
	r->fd = fd;
	r->wake[0] = r->wake[1] = -1;
	r->path = es_strdup(path ? path : "(fd)");
	r->is_regular = S_ISREG(st.st_mode);
	r->file_size = r->is_regular ? (uint64_t)st.st_size : 0;
	r->max_line = opts && opts->max_line ? opts->max_line : READER_DEFAULT_MAX_LINE;
	r->want_digest = want_digest;
	r->threaded = threaded && !(opts && opts->no_thread);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->can_fill, NULL);
	pthread_cond_init(&r->can_take, NULL);
	r->in = es_malloc(READER_INBUF);

	int rc = reader_sniff(r);
	if (rc < 0)
		goto fail;
	/* Hash where there is slack: decompression is the slower side, so the
	 * caller's thread hashes decompressed data; plain reading is cheap, so
	 * its thread hashes plain data. */
	r->digest_in_producer = want_digest && r->threaded && r->kind == READER_PLAIN;
	if (want_digest) {
		r->sha = EVP_MD_CTX_new();
		if (!r->sha || EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1) {
			rc = ES_EINTERNAL;
			goto fail;
		}
	}
	r->nblocks = r->threaded ? READER_RING : 1;
	for (unsigned i = 0; i < r->nblocks; i++)
		r->ring[i].data = es_malloc(READER_BLOCK_SIZE);
	if (r->threaded) {
		if (pipe2(r->wake, O_CLOEXEC) < 0) {
			rc = -errno;
			goto fail;
		}
		rc = -pthread_create(&r->thread, NULL, reader_thread, r);
		if (rc < 0)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	r->threaded = 0;
	reader_free(r);
	return rc;
}

int reader_open(reader_t **out, const char *path, int fd, const reader_opts_t *opts)
{
	return reader_open_internal(out, path, fd, opts, 1, 1);
}

void reader_close(reader_t *r)
{
	if (!r)
		return;
	if (r->threaded) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_signal(&r->can_fill);
		pthread_mutex_unlock(&r->mu);
		ssize_t n;
		do
			n = write(r->wake[1], "x", 1);
		while (n < 0 && errno == EINTR);
		pthread_join(r->thread, NULL);
	}
	reader_free(r);
}

enum reader_kind reader_kind(const reader_t *r)
{
	return r->kind;
}

const char *reader_kind_name(enum reader_kind k)
{
	switch (k) {
	case READER_BZIP2:
		return "bzip2";
	case READER_GZIP:
		return "gzip";
	case READER_PLAIN:
		return "plain";
	}
	return "unknown";
}

uint64_t reader_bytes_in(const reader_t *r)
{
	return r->bytes_in;
}

uint64_t reader_bytes_out(const reader_t *r)
{
	return r->bytes_out;
}

uint64_t reader_file_size(const reader_t *r)
{
	return r->file_size;
}

int reader_digest(const reader_t *r, uint8_t out[32])
{
	if (!r->have_digest)
		return -EINVAL;
	memcpy(out, r->digest, 32);
	return 0;
}

int reader_check_complete(const char *path)
{
	reader_t *r;
	int rc = reader_open_internal(&r, path, -1, NULL, 0, 0);
	if (rc < 0)
		return rc;
	if (r->kind != READER_PLAIN) {
		struct reader_block *b = &r->ring[0];
		do
			rc = reader_produce(r, b->data, READER_BLOCK_SIZE, &b->len);
		while (rc == 0 && b->len > 0);
	}
	reader_close(r);
	return rc;
}
