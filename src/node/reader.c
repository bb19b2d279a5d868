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

/* Parallel bzip2: see the comment above par_scan(). */
#define PAR_MAX_THREADS 16
#define PAR_MIN_SIZE (2u << 20)
#define PAR_RAW_MAX (4u << 20)
#define PAR_OUT_MIN (1u << 20)
#define PAR_OUT_MAX (8u << 20)
#define PAR_SWAP_MAX (2u << 20)
#define BZ_BLOCK_MAGIC 0x314159265359ULL
#define BZ_EOS_MAGIC 0x177245385090ULL
#define BZ_MASK48 0xFFFFFFFFFFFFULL

/* Returned by the producer when reader_close() asked it to stop. */
#define READER_STOPPED (-ECANCELED)

struct reader_block {
	char *data;
	size_t len, cap;    /* cap >= READER_BLOCK_SIZE; fills use READER_BLOCK_SIZE. */
	uint64_t in_total;  /* Compressed bytes consumed when the block was complete. */
};

enum par_kind { PJ_BLOCK, PJ_STREAM_END, PJ_FALLBACK, PJ_END };
enum scan_state { SC_HEADER, SC_BLOCKS, SC_EOS_TAIL, SC_DONE };

/* One unit of the file in order: a block to decode, or a marker. */
struct par_job {
	enum par_kind kind;
	int done;               /* Set by a worker (or at once for markers), under par.mu. */
	unsigned char *raw;     /* Compressed bytes holding the block's bits. */
	size_t raw_len, raw_cap;
	unsigned shift;         /* Bit of raw[0] where the block magic starts. */
	uint64_t nbits;         /* Bits from the block magic to the next magic. */
	int level;
	char *out;              /* Decoded text. */
	size_t out_len, out_cap;
	int rc;                 /* 0, or the block does not decode on its own. */
	uint32_t crc;           /* Block CRC, or the stored combined CRC (PJ_STREAM_END). */
	uint64_t stream_off;    /* Offset of the stream the unit belongs to. */
};

/*
 * Parallel bzip2 decoding.  The reader's thread scans the compressed bytes
 * for block boundaries and queues the blocks; workers decode them; the
 * reader's thread hands their text on in file order.  Anything unexpected
 * (a block that does not decode alone, a bad combined CRC, a truncated or
 * damaged stream, an I/O error) switches to the sequential decoder from the
 * start of the stream concerned, skipping the text already handed on, so
 * that lines and errors are exactly those of the sequential path.
 */
struct par {
	unsigned nthreads, nslots, started;
	pthread_t th[PAR_MAX_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int stop;
	struct par_job *slots;
	uint64_t head, tail, next_run;  /* Sequence numbers; slot = seq % nslots. */
	/* Scanner (reader's thread). */
	enum scan_state sc;
	uint64_t off;          /* Offset of the next byte to scan. */
	uint64_t win;          /* The last 64 bits scanned. */
	int level;
	uint64_t stream_off;
	uint64_t blk_bit;      /* Bit offset of the current block's magic. */
	uint64_t raw_base;     /* Offset of the first byte the current block needs. */
	unsigned char carry[16];
	size_t carry_len;
	uint64_t eos_bit;
	/* Delivery (reader's thread). */
	uint64_t deliv_stream, deliv_in_stream;
	uint32_t combined;
	struct par_job *outj;   /* Whose text is being handed on. */
	size_t out_pos;
	unsigned advance;       /* Units it stands for (2 for a joined block). */
	struct par_job merge;
	unsigned char *merge_buf;
	size_t merge_cap;
	int ended, fallback;
	uint64_t skip;
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
	struct par *par;

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

/* Reads the next piece of the file into r->in: 0 (r->in_eof set at the end) or an error. */
static int reader_refill(reader_t *r)
{
	ssize_t n = reader_read_raw(r, r->in, READER_INBUF);
	if (n < 0)
		return (int)n;
	r->in_pos = 0;
	r->in_len = (size_t)n;
	if (n == 0)
		r->in_eof = 1;
	return 0;
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
	return reader_refill(r);
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

/* ---- Parallel bzip2 ---- */

/* Appends n bits of v (most significant first) at bit *pos of p. */
static void par_put_bits(unsigned char *p, uint64_t *pos, uint64_t v, unsigned n)
{
	while (n-- > 0) {
		uint64_t b = *pos >> 3;
		unsigned o = 7 - (unsigned)(*pos & 7);
		if (o == 7)
			p[b] = 0;
		p[b] |= (unsigned char)(((v >> n) & 1) << o);
		(*pos)++;
	}
}

/*
 * For each bit shift s of a magic's start in its first byte B (and for each
 * kind: bits 0-7 the block magic, bits 8-15 the end-of-stream magic), the
 * bytes B+1 and B+2 are fixed by the magic.  A position passes only if both
 * bytes allow one same shift: about 1 position in 4 000 of random data.
 */
static const uint16_t bz_pre1[256] = {
	[0x14] = 0x0010, [0x28] = 0x0008, [0x2e] = 0x8000, [0x41] = 0x0001,
	[0x50] = 0x0004, [0x5d] = 0x4000, [0x62] = 0x0080, [0x72] = 0x0100,
	[0x77] = 0x1000, [0x8a] = 0x0020, [0xa0] = 0x0002, [0xb9] = 0x0200,
	[0xbb] = 0x2000, [0xc5] = 0x0040, [0xdc] = 0x0400, [0xee] = 0x0800,
};
static const uint16_t bz_pre2[256] = {
	[0x05] = 0x0040, [0x0a] = 0x0020, [0x15] = 0x0010, [0x22] = 0x0200,
	[0x24] = 0x1000, [0x2b] = 0x0008, [0x45] = 0x0100, [0x48] = 0x0800,
	[0x56] = 0x0004, [0x59] = 0x0001, [0x82] = 0x0080, [0x91] = 0x0400,
	[0x92] = 0x2000, [0xac] = 0x0002, [0xc9] = 0x4000, [0xe4] = 0x8000,
};

int reader_bz_find_magic(const unsigned char *b, size_t len, uint64_t from, uint64_t *at, int *eos)
{
	*eos = 0;
	*at = from;
	if (len < 6)
		return 0;
	uint64_t last = (uint64_t)len * 8 - 48;
	if (from > last)
		return 0;
	*at = last + 1;
	size_t end = (size_t)(last / 8);
	for (size_t i = (size_t)(from / 8); i <= end; i++) {
		unsigned t = bz_pre1[b[i + 1]] & bz_pre2[b[i + 2]];
		if (__builtin_expect(t == 0, 1))
			continue;
		uint64_t w = 0;
		for (size_t k = 0; k < 8; k++)
			w = w << 8 | (i + k < len ? b[i + k] : 0);
		for (unsigned sh = 0; sh < 8; sh++) {
			uint64_t a = (uint64_t)i * 8 + sh;
			if (!(t & (0x101u << sh)) || a < from || a > last)
				continue;
			uint64_t m = (w >> (16 - sh)) & BZ_MASK48;
			if (m == BZ_BLOCK_MAGIC || m == BZ_EOS_MAGIC) {
				*at = a;
				*eos = m == BZ_EOS_MAGIC;
				return 1;
			}
		}
	}
	return 0;
}

/* Not bytes_get_be64(): that one is out of line and byte by byte; this runs
 * for every compressed byte of a block. */
static uint64_t par_load_be64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* dst[i] = the 8 bits of src starting at bit sh of src[i], for i < n; src holds avail bytes. */
static void par_shift_copy(unsigned char *dst, const unsigned char *src, size_t n, size_t avail,
                           unsigned sh)
{
	size_t i = 0;
	for (; i + 8 <= n && i + 9 <= avail; i += 8) {
		uint64_t v = par_load_be64(src + i) << sh | src[i + 8] >> (8 - sh);
		v = __builtin_bswap64(v);
		memcpy(dst + i, &v, 8);
	}
	for (; i < n; i++) {
		unsigned v = (unsigned)src[i] << sh;
		if (i + 1 < avail)
			v |= src[i + 1] >> (8 - sh);
		dst[i] = (unsigned char)v;
	}
}

/*
 * Decodes one block as a stream of its own: "BZh<level>", the block's bits
 * moved to a byte boundary, the end-of-stream magic and the block's CRC as
 * the combined CRC.  libbz2 then checks the block CRC; a block cut at a magic
 * found by chance inside compressed data fails here.  *buf is the worker's
 * scratch buffer.
 */
static int par_decode(struct par_job *j, unsigned char **buf, size_t *cap)
{
	if (j->nbits < 80 || (j->shift + j->nbits + 7) / 8 > j->raw_len)
		return ES_ECORRUPT;
	size_t nbytes = (size_t)((j->nbits + 7) / 8);
	size_t need = 4 + nbytes + 12;
	if (need > *cap) {
		free(*buf);
		*buf = es_malloc(need);
		*cap = need;
	}
	unsigned char *s = *buf;
	memcpy(s, "BZh", 3);
	s[3] = (unsigned char)('0' + j->level);
	const unsigned char *raw = j->raw;
	unsigned sh = j->shift;
	if (sh == 0)
		memcpy(s + 4, raw, nbytes);
	else
		par_shift_copy(s + 4, raw, nbytes, j->raw_len, sh);
	unsigned tail = (unsigned)(j->nbits & 7);
	if (tail)
		s[4 + nbytes - 1] &= (unsigned char)(0xFF << (8 - tail));
	uint32_t crc = (uint32_t)s[10] << 24 | (uint32_t)s[11] << 16 | (uint32_t)s[12] << 8 | s[13];
	j->crc = crc;
	uint64_t pos = 32 + j->nbits;
	par_put_bits(s, &pos, BZ_EOS_MAGIC, 48);
	par_put_bits(s, &pos, crc, 32);
	size_t total = (size_t)((pos + 7) / 8);

	bz_stream bz;
	memset(&bz, 0, sizeof bz);
	if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK)
		return -ENOMEM;
	bz.next_in = (char *)s;
	bz.avail_in = (unsigned)total;
	j->out_len = 0;
	int rc;
	for (;;) {
		if (j->out_len == j->out_cap) {
			size_t nc = j->out_cap ? 2 * j->out_cap : PAR_OUT_MIN;
			if (nc > PAR_OUT_MAX) {
				rc = ES_ELIMIT;
				break;
			}
			j->out = es_realloc(j->out, nc);
			j->out_cap = nc;
		}
		bz.next_out = j->out + j->out_len;
		bz.avail_out = (unsigned)(j->out_cap - j->out_len);
		unsigned before_in = bz.avail_in;
		rc = BZ2_bzDecompress(&bz);
		size_t made = (j->out_cap - j->out_len) - bz.avail_out;
		j->out_len += made;
		if (rc == BZ_STREAM_END) {
			rc = bz.avail_in == 0 ? 0 : ES_ECORRUPT;
			break;
		}
		if (rc != BZ_OK) {
			rc = ES_ECORRUPT;
			break;
		}
		if (made == 0 && bz.avail_in == before_in) {
			rc = ES_ECORRUPT;
			break;
		}
	}
	BZ2_bzDecompressEnd(&bz);
	return rc;
}

static void *par_worker(void *arg)
{
	struct par *p = arg;
	unsigned char *buf = NULL;
	size_t cap = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next_run == p->tail)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		struct par_job *j = &p->slots[p->next_run++ % p->nslots];
		if (j->done)
			continue;
		int skip = p->fallback;
		pthread_mutex_unlock(&p->mu);
		j->rc = skip ? ES_ECORRUPT : par_decode(j, &buf, &cap);
		pthread_mutex_lock(&p->mu);
		j->done = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	free(buf);
	return NULL;
}

static void par_stop(struct par *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
}

static void par_free(struct par *p)
{
	if (!p)
		return;
	par_stop(p);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->th[i], NULL);
	for (unsigned i = 0; i < p->nslots; i++) {
		free(p->slots[i].raw);
		free(p->slots[i].out);
	}
	free(p->slots);
	free(p->merge.raw);
	free(p->merge.out);
	free(p->merge_buf);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}

static int par_new(struct par **out, unsigned nthreads)
{
	struct par *p = es_calloc(1, sizeof *p);
	p->nthreads = nthreads > PAR_MAX_THREADS ? PAR_MAX_THREADS : nthreads;
	p->nslots = p->nthreads + 2;
	p->slots = es_calloc(p->nslots, sizeof *p->slots);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->sc = SC_HEADER;
	for (unsigned i = 0; i < p->nthreads; i++) {
		int rc = pthread_create(&p->th[i], NULL, par_worker, p);
		if (rc) {
			par_free(p);
			return -rc;
		}
		p->started++;
	}
	*out = p;
	return 0;
}

/* Refills r->in once it is used up: 0, 1 at the end of the file, or an error. */
static int par_fill(reader_t *r)
{
	if (r->in_pos < r->in_len)
		return 0;
	if (r->in_eof)
		return 1;
	int rc = reader_refill(r);
	return rc ? rc : r->in_eof;
}

/* Next compressed byte (the file's bytes as read into r->in), -1 at the end. */
static int par_byte(reader_t *r, int *c)
{
	int rc = par_fill(r);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		*c = -1;
		return 0;
	}
	*c = r->in[r->in_pos++];
	r->par->off++;
	return 0;
}

static void par_raw_add(struct par_job *j, const unsigned char *b, size_t n)
{
	if (j->raw_len + n > j->raw_cap) {
		size_t nc = j->raw_cap ? 2 * j->raw_cap : (1u << 20);
		while (nc < j->raw_len + n)
			nc *= 2;
		j->raw = es_realloc(j->raw, nc);
		j->raw_cap = nc;
	}
	memcpy(j->raw + j->raw_len, b, n);
	j->raw_len += n;
}

static void par_marker(struct par *p, struct par_job *j, enum par_kind k)
{
	j->kind = k;
	j->done = 1;
	j->stream_off = p->stream_off;
	if (k == PJ_FALLBACK || k == PJ_END)
		p->sc = SC_DONE;
}

/*
 * Scans on to the next unit and describes it in j: a block (from one block
 * magic, at any bit offset, to the next magic of either kind), the end of a
 * stream (its combined CRC), the end of the file, or a fall-back to the
 * sequential decoder at the current stream.
 */
static void par_scan(reader_t *r, struct par_job *j)
{
	struct par *p = r->par;
	int c;
	j->done = 0;
	j->rc = 0;
	j->raw_len = 0;
	j->out_len = 0;
	for (;;) {
		switch (p->sc) {
		case SC_DONE:
			par_marker(p, j, PJ_END);
			return;
		case SC_HEADER: {
			unsigned char h[10];
			p->stream_off = p->off;
			for (int i = 0; i < 10; i++) {
				if (par_byte(r, &c) < 0 || (c < 0 && i > 0)) {
					par_marker(p, j, PJ_FALLBACK);
					return;
				}
				if (c < 0) {
					par_marker(p, j, PJ_END);
					return;
				}
				h[i] = (unsigned char)c;
			}
			uint64_t m = 0;
			for (int i = 4; i < 10; i++)
				m = m << 8 | h[i];
			/* An empty stream, or anything but a block right after the header, is unusual. */
			if (memcmp(h, "BZh", 3) != 0 || h[3] < '1' || h[3] > '9' || m != BZ_BLOCK_MAGIC) {
				par_marker(p, j, PJ_FALLBACK);
				return;
			}
			p->level = h[3] - '0';
			p->win = m;
			p->blk_bit = (p->stream_off + 4) * 8;
			p->raw_base = p->stream_off + 4;
			memcpy(p->carry, h + 4, 6);
			p->carry_len = 6;
			p->sc = SC_BLOCKS;
			break;
		}
		case SC_BLOCKS: {
			j->kind = PJ_BLOCK;
			j->level = p->level;
			j->stream_off = p->stream_off;
			j->shift = (unsigned)(p->blk_bit - p->raw_base * 8);
			par_raw_add(j, p->carry, p->carry_len);
			/* A magic may start after the block's own and end after the bytes
			 * already searched. */
			uint64_t at = j->shift + 1;
			if (j->raw_len * 8 > at + 47)
				at = j->raw_len * 8 - 47;
			int eos;
			for (;;) {
				if (par_fill(r) != 0 || j->raw_len >= PAR_RAW_MAX) {
					par_marker(p, j, PJ_FALLBACK);
					return;
				}
				size_t n = r->in_len - r->in_pos;
				if (n > PAR_RAW_MAX - j->raw_len)
					n = PAR_RAW_MAX - j->raw_len;
				par_raw_add(j, r->in + r->in_pos, n);
				r->in_pos += n;
				p->off += n;
				if (reader_bz_find_magic(j->raw, j->raw_len, at, &at, &eos))
					break;
			}
			/* Input past the byte holding the magic's last bit is scanned again
			 * as the next unit: give it back. */
			size_t end = (size_t)((at + 48 + 7) / 8);
			size_t excess = j->raw_len - end;
			r->in_pos -= excess;
			p->off -= excess;
			j->raw_len = end;
			uint64_t abs_at = p->raw_base * 8 + at;
			j->nbits = abs_at - p->blk_bit;
			/* The bytes from the one holding the magic's first bit on start the next unit. */
			uint64_t from_byte = abs_at / 8;
			p->carry_len = (size_t)(p->off - from_byte);
			memcpy(p->carry, j->raw + j->raw_len - p->carry_len, p->carry_len);
			p->win = 0;
			for (size_t k = end > 8 ? end - 8 : 0; k < end; k++)
				p->win = p->win << 8 | j->raw[k];
			if (!eos) {
				p->blk_bit = abs_at;
				p->raw_base = from_byte;
			} else {
				p->eos_bit = abs_at;
				p->sc = SC_EOS_TAIL;
			}
			return;
		}
		case SC_EOS_TAIL:
			/* The combined CRC: the 32 bits after the end-of-stream magic. */
			while (p->off * 8 < p->eos_bit + 80) {
				if (par_byte(r, &c) < 0 || c < 0) {
					par_marker(p, j, PJ_FALLBACK);
					return;
				}
				p->win = p->win << 8 | (unsigned)c;
			}
			par_marker(p, j, PJ_STREAM_END);
			j->crc = (uint32_t)(p->win >> (p->off * 8 - (p->eos_bit + 80)));
			p->sc = SC_HEADER;
			return;
		}
	}
}

/*
 * Switches to the sequential decoder at the stream starting at off, text
 * already handed on from that stream to be skipped.  Input is read in the
 * same chunks as the sequential path reads it, so the byte counters agree.
 */
static int par_fallback(reader_t *r, uint64_t off)
{
	struct par *p = r->par;
	pthread_mutex_lock(&p->mu);
	p->fallback = 1;
	pthread_mutex_unlock(&p->mu);
	p->skip = off == p->deliv_stream ? p->deliv_in_stream : 0;
	uint64_t base = off / READER_INBUF * READER_INBUF;
	if (lseek(r->fd, (off_t)base, SEEK_SET) < 0)
		return -errno;
	r->in_total = base;
	r->in_len = r->in_pos = 0;
	r->in_eof = 0;
	int rc = reader_fill_input(r, 0);
	if (rc < 0)
		return rc;
	r->in_pos = off - base <= r->in_len ? (size_t)(off - base) : r->in_len;
	return 0;
}

/*
 * A block that does not decode alone may have been cut at a magic found by
 * chance inside its compressed data: decode it joined with the next unit
 * (in this thread; such magics are rare).  Returns 0 with the text in p->merge.
 */
static int par_merge(reader_t *r, struct par_job *a)
{
	struct par *p = r->par;
	if (p->tail - p->head < 2 && p->sc != SC_DONE) {
		par_scan(r, &p->slots[p->tail % p->nslots]);
		pthread_mutex_lock(&p->mu);
		p->tail++;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	if (p->tail - p->head < 2)
		return ES_ECORRUPT;
	struct par_job *b = &p->slots[(p->head + 1) % p->nslots];
	pthread_mutex_lock(&p->mu);
	while (!b->done && !p->stop)
		pthread_cond_wait(&p->done, &p->mu);
	int stop = p->stop;
	pthread_mutex_unlock(&p->mu);
	if (stop)
		return READER_STOPPED;
	if (b->kind != PJ_BLOCK || b->stream_off != a->stream_off || b->rc == 0)
		return ES_ECORRUPT;
	struct par_job *m = &p->merge;
	size_t keep = (size_t)((a->shift + a->nbits) / 8);
	m->raw_len = 0;
	par_raw_add(m, a->raw, keep);
	par_raw_add(m, b->raw, b->raw_len);
	m->shift = a->shift;
	m->nbits = a->nbits + b->nbits;
	m->level = a->level;
	m->stream_off = a->stream_off;
	return par_decode(m, &p->merge_buf, &p->merge_cap);
}

/*
 * Fills block b with decoded text in file order.  A unit's whole text is
 * handed on by exchanging buffers with the block (no copy) when it starts
 * the block and its buffer is not over PAR_SWAP_MAX, which bounds the ring.
 */
static int par_produce(reader_t *r, struct reader_block *b, size_t *len)
{
	struct par *p = r->par;
	char *buf = b->data;
	size_t cap = READER_BLOCK_SIZE;
	while (*len < cap) {
		if (p->outj) {
			struct par_job *o = p->outj;
			if (*len == 0 && p->out_pos == 0 && o->out_cap <= PAR_SWAP_MAX) {
				char *d = b->data;
				size_t c = b->cap;
				b->data = o->out;
				b->cap = o->out_cap;
				o->out = d;
				o->out_cap = c;
				*len = o->out_len;
				o->out_len = 0;
				p->outj = NULL;
				p->head += p->advance;
				return 0;
			}
			size_t n = o->out_len - p->out_pos;
			if (n > cap - *len)
				n = cap - *len;
			memcpy(buf + *len, o->out + p->out_pos, n);
			p->out_pos += n;
			*len += n;
			if (p->out_pos == o->out_len) {
				p->outj = NULL;
				p->head += p->advance;
			}
			continue;
		}
		if (p->ended)
			return 0;
		while (p->sc != SC_DONE && p->tail - p->head < p->nslots) {
			par_scan(r, &p->slots[p->tail % p->nslots]);
			pthread_mutex_lock(&p->mu);
			p->tail++;
			pthread_cond_signal(&p->work);
			pthread_mutex_unlock(&p->mu);
		}
		struct par_job *j = &p->slots[p->head % p->nslots];
		pthread_mutex_lock(&p->mu);
		while (!j->done && !p->stop)
			pthread_cond_wait(&p->done, &p->mu);
		int stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			return READER_STOPPED;
		if (j->stream_off != p->deliv_stream) {
			p->deliv_stream = j->stream_off;
			p->deliv_in_stream = 0;
			p->combined = 0;
		}
		switch (j->kind) {
		case PJ_BLOCK: {
			struct par_job *o = j;
			p->advance = 1;
			if (j->rc != 0) {
				int rc = par_merge(r, j);
				if (rc == READER_STOPPED)
					return rc;
				if (rc != 0)
					return par_fallback(r, j->stream_off);
				o = &p->merge;
				p->advance = 2;
			}
			p->combined = (p->combined << 1 | p->combined >> 31) ^ o->crc;
			p->deliv_in_stream += o->out_len;
			p->out_pos = 0;
			if (o->out_len > 0)
				p->outj = o;
			else
				p->head += p->advance;
			break;
		}
		case PJ_STREAM_END:
			if (j->crc != p->combined)
				return par_fallback(r, j->stream_off);
			p->head++;
			break;
		case PJ_FALLBACK:
			return par_fallback(r, j->stream_off);
		case PJ_END:
			p->head++;
			p->ended = 1;
			return 0;
		}
	}
	return 0;
}

/* bzip2 output: the parallel engine until it hands over, then the sequential decoder. */
static int reader_produce_bz(reader_t *r, struct reader_block *b, size_t *len)
{
	struct par *p = r->par;
	if (p && !p->fallback) {
		int rc = par_produce(r, b, len);
		if (rc < 0 || !p->fallback || *len > 0)
			return rc;
	}
	char *buf = b->data;
	size_t cap = READER_BLOCK_SIZE;
	while (p && p->skip > 0) {
		size_t before = *len;
		int rc = reader_produce_bzip2(r, buf, cap, len);
		size_t got = *len - before;
		size_t d = got < p->skip ? got : (size_t)p->skip;
		memmove(buf + before, buf + before + d, got - d);
		*len -= d;
		p->skip -= d;
		if (rc < 0 || got == 0)
			return rc;
	}
	return reader_produce_bzip2(r, buf, cap, len);
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

/*
 * Fills block b with up to READER_BLOCK_SIZE decompressed bytes (the parallel
 * bzip2 path may give it another buffer, holding more); *len == 0 on return 0
 * is the end.
 */
static int reader_produce(reader_t *r, struct reader_block *b, size_t *len)
{
	int rc;
	char *buf = b->data;
	size_t cap = READER_BLOCK_SIZE;
	*len = 0;
	switch (r->kind) {
	case READER_BZIP2:
		rc = reader_produce_bz(r, b, len);
		break;
	case READER_GZIP:
		rc = reader_produce_gzip(r, buf, cap, len);
		break;
	default:
		rc = reader_produce_plain(r, buf, cap, len);
		break;
	}
	if (r->digest_in_producer && *len > 0 && EVP_DigestUpdate(r->sha, b->data, *len) != 1)
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
		int rc = reader_produce(r, b, &len);

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
		int rc = reader_produce(r, b, &b->len);
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
	par_free(r->par);
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
	unsigned nthreads = opts ? opts->threads : 0;
	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = n > 0 ? (unsigned)n : 1;
	}
	uint64_t par_min = opts && opts->par_min_size ? opts->par_min_size : PAR_MIN_SIZE;
	if (threaded && r->kind == READER_BZIP2 && r->is_regular && nthreads > 1
	    && r->file_size >= par_min) {
		rc = par_new(&r->par, nthreads);
		if (rc < 0)
			goto fail;
	}
	r->nblocks = r->threaded ? READER_RING : 1;
	for (unsigned i = 0; i < r->nblocks; i++) {
		r->ring[i].data = es_malloc(READER_BLOCK_SIZE);
		r->ring[i].cap = READER_BLOCK_SIZE;
	}
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
	return reader_open_internal(out, path, fd, opts, !(opts && opts->no_digest), 1);
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
		if (r->par)
			par_stop(r->par);
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
			rc = reader_produce(r, b, &b->len);
		while (rc == 0 && b->len > 0);
	}
	reader_close(r);
	return rc;
}
