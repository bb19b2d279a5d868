#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "crash.h"
#include "error.h"
#include "hex.h"
#include "ledger.h"
#include "mem.h"

#define LEDGER_NAME "ledger"
#define LINE_MAX_LEN 2048     /* A record line is at most ~1 KiB (a name escaped to 765 bytes). */
#define READ_CHUNK 65536

/* A record as kept in memory: the name is allocated to its length. */
struct rec {
	uint8_t digest[32];
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	uint64_t payload_id;
	int64_t done_at;
	int status;
	char *name;
};

/* Open-addressing hash index: slots hold record index + 1, 0 = empty. */
struct index {
	uint32_t *slot;
	size_t mask;    /* capacity - 1; capacity is a power of two */
	size_t used;
};

struct ledger {
	pthread_mutex_t mu;
	char *path;
	int fd, dir_fd;
	off_t end;          /* Length of the file up to its last complete line. */
	off_t file_len;     /* Actual length; above end when a torn line is left. */
	struct rec *recs;
	size_t n, cap;
	struct index by_digest, by_file;
	size_t bad_lines;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_digest(const uint8_t d[32])
{
	uint64_t h;

	memcpy(&h, d, sizeof h);
	return mix64(h);
}

static uint64_t hash_file(uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime_ns)
{
	return mix64(dev ^ mix64(ino ^ mix64(size ^ mix64((uint64_t)mtime_ns))));
}

static int same_file(const struct rec *r, uint64_t dev, uint64_t ino, uint64_t size,
                     int64_t mtime_ns)
{
	return r->dev == dev && r->ino == ino && r->size == size && r->mtime_ns == mtime_ns;
}

static void index_grow(struct ledger *l, struct index *ix, int by_digest);

/*
 * Sets the slot of the record's key to record i: a record with the same key
 * is replaced, so the latest record wins.
 */
static void index_put(struct ledger *l, struct index *ix, int by_digest, size_t i)
{
	const struct rec *r = &l->recs[i];
	size_t pos;

	if ((ix->used + 1) * 2 > ix->mask + 1)
		index_grow(l, ix, by_digest);
	pos = (by_digest ? hash_digest(r->digest)
	                 : hash_file(r->dev, r->ino, r->size, r->mtime_ns)) & ix->mask;
	for (;; pos = (pos + 1) & ix->mask) {
		uint32_t s = ix->slot[pos];
		if (s == 0) {
			ix->slot[pos] = (uint32_t)(i + 1);
			ix->used++;
			return;
		}
		const struct rec *o = &l->recs[s - 1];
		if (by_digest ? memcmp(o->digest, r->digest, 32) == 0
		              : same_file(o, r->dev, r->ino, r->size, r->mtime_ns)) {
			ix->slot[pos] = (uint32_t)(i + 1);
			return;
		}
	}
}

static void index_grow(struct ledger *l, struct index *ix, int by_digest)
{
	size_t cap = ix->mask ? (ix->mask + 1) * 2 : 1024;
	uint32_t *old = ix->slot;
	size_t old_cap = ix->mask ? ix->mask + 1 : 0;

	ix->slot = es_calloc(cap, sizeof *ix->slot);
	ix->mask = cap - 1;
	ix->used = 0;
	for (size_t j = 0; j < old_cap; j++)
		if (old[j])
			index_put(l, ix, by_digest, old[j] - 1);
	free(old);
}

static const struct rec *find_by_digest(const struct ledger *l, const uint8_t d[32])
{
	const struct index *ix = &l->by_digest;

	if (!ix->slot)
		return NULL;
	for (size_t pos = hash_digest(d) & ix->mask;; pos = (pos + 1) & ix->mask) {
		uint32_t s = ix->slot[pos];
		if (s == 0)
			return NULL;
		if (memcmp(l->recs[s - 1].digest, d, 32) == 0)
			return &l->recs[s - 1];
	}
}

static const struct rec *find_by_file(const struct ledger *l, uint64_t dev, uint64_t ino,
                                      uint64_t size, int64_t mtime_ns)
{
	const struct index *ix = &l->by_file;

	if (!ix->slot)
		return NULL;
	for (size_t pos = hash_file(dev, ino, size, mtime_ns) & ix->mask;;
	     pos = (pos + 1) & ix->mask) {
		uint32_t s = ix->slot[pos];
		if (s == 0)
			return NULL;
		if (same_file(&l->recs[s - 1], dev, ino, size, mtime_ns))
			return &l->recs[s - 1];
	}
}

/* Escapes a file name into one space-free token: bytes outside '!'..'~' and '%' as %XX. */
static size_t escape_name(const char *name, char *out)
{
	size_t o = 0;

	if (name[0] == '\0') {
		out[o++] = '-';
	} else if (strcmp(name, "-") == 0) {
		memcpy(out, "%2d", 3);
		o = 3;
	} else {
		for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
			if (*p > 0x20 && *p < 0x7f && *p != '%') {
				out[o++] = (char)*p;
			} else {
				out[o++] = '%';
				out[o++] = hex_digits[*p >> 4];
				out[o++] = hex_digits[*p & 15];
			}
		}
	}
	out[o] = '\0';
	return o;
}

static int unescape_name(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	if (strcmp(s, "-") == 0) {
		out[0] = '\0';
		return 0;
	}
	for (; *s; s++) {
		char c = *s;
		if (c == '%') {
			int hi = hex_digit((unsigned char)s[1]), lo = hi < 0 ? -1 : hex_digit((unsigned char)s[2]);
			if (hi < 0 || lo < 0)
				return ES_EFORMAT;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return ES_EFORMAT;
			s += 2;
		}
		if (o + 1 >= outlen)
			return ES_EFORMAT;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Formats a record as its line, newline included; returns the length. */
static size_t format_line(const ledger_rec_t *r, char *line, size_t linelen)
{
	char hex[65], esc[256 * 3 + 1];
	size_t n;

	hex_encode(hex, r->digest, 32);
	escape_name(r->name, esc);
	n = (size_t)snprintf(line, linelen, "L1 %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64
	                     " %" PRIu64 " %" PRId64 " %d %s", hex, r->dev, r->ino, r->size,
	                     r->mtime_ns, r->payload_id, r->done_at, r->status, esc);
	n += (size_t)snprintf(line + n, linelen - n, " %08lx\n",
	                      (unsigned long)crc32(0L, (const Bytef *)line, (uInt)n));
	return n;
}

static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return ES_EFORMAT;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return ES_EFORMAT;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
	uint64_t x;
	int neg = s[0] == '-';

	if (parse_u64(s + neg, &x) != 0 || x > (uint64_t)INT64_MAX + neg)
		return ES_EFORMAT;
	*v = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

int ledger_parse_line(char *line, size_t len, ledger_rec_t *r)
{
	char *tok[11], *save = NULL;
	unsigned long want, got;
	int ntok = 0;
	uint64_t status;

	/* The CRC field is the last 8 characters, after one space. */
	if (len < 10 || line[len - 9] != ' ')
		return ES_EFORMAT;
	want = crc32(0L, (const Bytef *)line, (uInt)(len - 9));
	/* Exactly 8 lower-case digits, as written (strtoul would take "0x", signs, blanks). */
	got = 0;
	for (size_t i = len - 8; i < len; i++) {
		int v = hex_digit((unsigned char)line[i]);
		if (v < 0)
			return ES_EFORMAT;
		got = got << 4 | (unsigned long)v;
	}
	if (got != want)
		return ES_ECHECKSUM;
	line[len - 9] = '\0';
	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (ntok == 10)
			return ES_EFORMAT;
		tok[ntok++] = t;
	}
	if (ntok != 10 || strcmp(tok[0], "L1") != 0 || strlen(tok[1]) != 64)
		return ES_EFORMAT;
	memset(r, 0, sizeof *r);
	if (hex_decode(r->digest, tok[1], 32) != 0)
		return ES_EFORMAT;
	if (parse_u64(tok[2], &r->dev) || parse_u64(tok[3], &r->ino) ||
	    parse_u64(tok[4], &r->size) || parse_i64(tok[5], &r->mtime_ns) ||
	    parse_u64(tok[6], &r->payload_id) || parse_i64(tok[7], &r->done_at) ||
	    parse_u64(tok[8], &status) || (status != LEDGER_DONE && status != LEDGER_EMPTY))
		return ES_EFORMAT;
	r->status = (int)status;
	return unescape_name(tok[9], r->name, sizeof r->name);
}

static int add_memory(struct ledger *l, const ledger_rec_t *r)
{
	struct rec *m;

	if (l->n >= LEDGER_MAX_RECORDS)
		return ES_ELIMIT;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->recs = es_reallocarray(l->recs, l->cap, sizeof *l->recs);
	}
	m = &l->recs[l->n];
	memcpy(m->digest, r->digest, 32);
	m->dev = r->dev;
	m->ino = r->ino;
	m->size = r->size;
	m->mtime_ns = r->mtime_ns;
	m->payload_id = r->payload_id;
	m->done_at = r->done_at;
	m->status = r->status;
	m->name = es_strndup(r->name, strnlen(r->name, 255));
	l->n++;
	index_put(l, &l->by_digest, 1, l->n - 1);
	index_put(l, &l->by_file, 0, l->n - 1);
	return 0;
}

static void to_public(const struct rec *m, ledger_rec_t *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->digest, m->digest, 32);
	out->dev = m->dev;
	out->ino = m->ino;
	out->size = m->size;
	out->mtime_ns = m->mtime_ns;
	out->payload_id = m->payload_id;
	out->done_at = m->done_at;
	out->status = m->status;
	snprintf(out->name, sizeof out->name, "%s", m->name);
}

/* Reads the whole file line by line; sets end to the offset after the last newline. */
static int load(struct ledger *l)
{
	char *buf = es_malloc(READ_CHUNK + LINE_MAX_LEN + 1);
	size_t have = 0;      /* Bytes of the current, unfinished line in buf. */
	int skipping = 0;     /* The current line is too long: skip to its newline. */
	off_t pos = 0;        /* File offset of buf[0]. */
	int rc = 0;

	l->end = 0;
	for (;;) {
		ssize_t r = read(l->fd, buf + have, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		size_t len = have + (size_t)r, start = 0;
		for (size_t i = have; i < len; i++) {
			if (buf[i] != '\n')
				continue;
			if (skipping) {
				skipping = 0;
				l->bad_lines++;
			} else {
				ledger_rec_t rec;
				buf[i] = '\0';
				if (ledger_parse_line(buf + start, i - start, &rec) == 0) {
					if ((rc = add_memory(l, &rec)) != 0)
						goto out;
				} else {
					l->bad_lines++;
				}
			}
			start = i + 1;
			l->end = pos + (off_t)start;
		}
		if (skipping) {
			start = len;
		} else if (len - start > LINE_MAX_LEN) {
			skipping = 1;
			start = len;
		}
		memmove(buf, buf + start, len - start);
		have = len - start;
		pos += (off_t)start;
	}
	l->file_len = pos + (off_t)have;
	if (skipping || have > 0) {
		/* A torn last line: ignored now, cut off before the next append. */
		l->bad_lines++;
	}
out:
	free(buf);
	return rc;
}

int ledger_init_ex(ledger_t **out, const char *state_dir, size_t *bad_lines)
{
	struct ledger *l;
	struct stat st;
	size_t len;
	int rc, created = 0;

	*out = NULL;
	if (bad_lines)
		*bad_lines = 0;
	l = es_calloc(1, sizeof *l);
	l->fd = l->dir_fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	len = strlen(state_dir) + sizeof "/" LEDGER_NAME;
	l->path = es_malloc(len);
	snprintf(l->path, len, "%s/%s", state_dir, LEDGER_NAME);

	l->dir_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dir_fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* Read-only between appends: a descriptor open for writing would keep
	 * the file system from being remounted read-only. */
	l->fd = openat(l->dir_fd, LEDGER_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (l->fd < 0 && errno == ENOENT) {
		l->fd = openat(l->dir_fd, LEDGER_NAME,
		               O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		created = 1;
	}
	if (l->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(l->fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		/* A read-only open does not refuse a directory by itself. */
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto fail;
	}
	/* A new ledger's directory entry must be durable before records are trusted to it. */
	if (created && fsync(l->dir_fd) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = load(l)) != 0)
		goto fail;
	if (bad_lines)
		*bad_lines = l->bad_lines;
	*out = l;
	return 0;
fail:
	ledger_fini(l);
	return rc;
}

int ledger_init(ledger_t **out, const char *state_dir)
{
	return ledger_init_ex(out, state_dir, NULL);
}

void ledger_fini(ledger_t *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	for (size_t i = 0; i < l->n; i++)
		free(l->recs[i].name);
	free(l->recs);
	free(l->by_digest.slot);
	free(l->by_file.slot);
	pthread_mutex_destroy(&l->mu);
	free(l->path);
	free(l);
}

int ledger_find_digest(ledger_t *l, const uint8_t digest[32], ledger_rec_t *out)
{
	const struct rec *m;

	pthread_mutex_lock(&l->mu);
	m = find_by_digest(l, digest);
	if (m && out)
		to_public(m, out);
	pthread_mutex_unlock(&l->mu);
	return m != NULL;
}

int ledger_find_file(ledger_t *l, uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime_ns,
                     ledger_rec_t *out)
{
	const struct rec *m;

	pthread_mutex_lock(&l->mu);
	m = find_by_file(l, dev, ino, size, mtime_ns);
	if (m && out)
		to_public(m, out);
	pthread_mutex_unlock(&l->mu);
	return m != NULL;
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, buf, len, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

int ledger_add(ledger_t *l, const ledger_rec_t *rec)
{
	char line[LINE_MAX_LEN];
	ledger_rec_t r;
	size_t len;
	int rc, wfd;

	if (rec->status != LEDGER_DONE && rec->status != LEDGER_EMPTY)
		return -EINVAL;
	r = *rec;
	r.name[strnlen(r.name, 255)] = '\0';
	len = format_line(&r, line, sizeof line);

	pthread_mutex_lock(&l->mu);
	if (l->n >= LEDGER_MAX_RECORDS) {
		pthread_mutex_unlock(&l->mu);
		return ES_ELIMIT;
	}
	/* A descriptor for this append only (see ledger_init_ex()). */
	wfd = openat(l->dir_fd, LEDGER_NAME, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (wfd < 0) {
		rc = -errno;
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	if (l->file_len != l->end) {
		/* Cut the torn tail off so the new record starts on a line of its own. */
		if (ftruncate(wfd, l->end) != 0) {
			rc = -errno;
			close(wfd);
			pthread_mutex_unlock(&l->mu);
			return rc;
		}
		l->file_len = l->end;
	}
	if (crash_armed("ledger-mid-append")) {
		pwrite_all(wfd, line, len / 2, l->end);
		fdatasync(wfd);
		crash_now("ledger-mid-append");
	}
	rc = pwrite_all(wfd, line, len, l->end);
	if (rc == 0 && fdatasync(wfd) != 0)
		rc = -errno;
	if (rc != 0) {
		/* Nothing half-written may stay in front of the next record. */
		if (ftruncate(wfd, l->end) != 0)
			l->file_len = l->end + (off_t)len;
		close(wfd);
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	close(wfd);
	l->end += (off_t)len;
	l->file_len = l->end;
	rc = add_memory(l, &r);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

size_t ledger_count(ledger_t *l)
{
	size_t n;

	pthread_mutex_lock(&l->mu);
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}
