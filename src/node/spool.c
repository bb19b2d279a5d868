#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bytes.h"
#include "crash.h"
#include "error.h"
#include "hex.h"
#include "log.h"
#include "mem.h"
#include "fsx.h"
#include "spool.h"

#define OFF_ID       8
#define OFF_LEN      16
#define OFF_CREATED  24
#define OFF_BODY_SHA 32
#define OFF_DIGEST   64
#define OFF_SOURCE   96
#define OFF_RESERVED 352
#define OFF_HDR_SHA  360
_Static_assert(OFF_HDR_SHA + 32 == SPOOL_HEADER_SIZE, "spool header layout");

static const char spool_magic[8] = { 'E', 'S', 'P', 'O', 'O', 'L', '1', '\n' };

#define NAME_LEN 24          /* "%016x.payload" */
#define HWM_NAME "last-id"
#define HWM_TMP ".tmp-last-id"
#define TMP_PREFIX ".tmp-"
#define MAX_SCAN_NAMES 1000000

struct spool {
	pthread_mutex_t mu;
	char *dir;
	int fd, rej_fd, bad_fd;
	uint64_t max_bytes;
	uint64_t bytes;         /* Body bytes of the pending entries. */
	uint64_t reserved;      /* Body bytes of puts in progress. */
	uint64_t next_id;
	uint64_t hwm_disk;      /* The id stored in last-id. */
	spool_entry_t *ents;    /* Pending, sorted by id. */
	size_t n, cap;
	size_t rejected, bad;
	const struct es_log *log;
};

/* -EIO when OpenSSL cannot hash: an error of the moment, never damage. */
static int sha256(const void *data, size_t len, uint8_t out[32])
{
	return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) ? 0 : -EIO;
}

static void id_name(uint64_t id, const char *suffix, char *out, size_t outlen)
{
	snprintf(out, outlen, "%016" PRIx64 "%s", id, suffix);
}

/* Parses "<16 hex>.payload" (followed by anything when rest is not NULL). */
static int parse_id_name(const char *name, uint64_t *id, const char **rest)
{
	uint8_t be[8];

	if (strnlen(name, 16) < 16 || hex_decode(be, name, 8) != 0)
		return 0;
	if (strncmp(name + 16, ".payload", 8) != 0)
		return 0;
	if (rest)
		*rest = name + NAME_LEN;
	else if (name[NAME_LEN] != '\0')
		return 0;
	*id = bytes_get_be64(be);
	return 1;
}

/* Reads exactly len bytes; ES_ECHECKSUM when the file ends first (it is shorter than it says). */
static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return ES_ECHECKSUM;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int fsync_fd(int fd)
{
	return fsync(fd) == 0 ? 0 : -errno;
}

static int encode_header(uint8_t *h, uint64_t id, uint64_t len, int64_t created,
                          const uint8_t body_sha[32], const uint8_t digest[32], const char *source)
{
	size_t slen = strnlen(source, 255);

	memset(h, 0, SPOOL_HEADER_SIZE);
	memcpy(h, spool_magic, 8);
	bytes_put_be64(h + OFF_ID, id);
	bytes_put_be64(h + OFF_LEN, len);
	bytes_put_be64(h + OFF_CREATED, (uint64_t)created);
	memcpy(h + OFF_BODY_SHA, body_sha, 32);
	memcpy(h + OFF_DIGEST, digest, 32);
	memcpy(h + OFF_SOURCE, source, slen);
	return sha256(h, OFF_HDR_SHA, h + OFF_HDR_SHA);
}

int spool_header_decode(const uint8_t *h, spool_entry_t *e, uint8_t body_sha[32],
                         const char **why)
{
	uint8_t sum[32];

	if (memcmp(h, spool_magic, 8) != 0) {
		*why = "not a spool file (bad magic)";
		return ES_ECHECKSUM;
	}
	if (sha256(h, OFF_HDR_SHA, sum) != 0) {
		*why = "cannot hash";
		return -EIO;
	}
	if (memcmp(sum, h + OFF_HDR_SHA, 32) != 0) {
		*why = "header checksum mismatch";
		return ES_ECHECKSUM;
	}
	if (h[OFF_SOURCE + 255] != 0) {
		*why = "source name not terminated";
		return ES_ECHECKSUM;
	}
	memset(e, 0, sizeof *e);
	e->id = bytes_get_be64(h + OFF_ID);
	e->size = bytes_get_be64(h + OFF_LEN);
	e->created = (int64_t)bytes_get_be64(h + OFF_CREATED);
	memcpy(e->source_digest, h + OFF_DIGEST, 32);
	memcpy(e->source, h + OFF_SOURCE, 256);
	memcpy(body_sha, h + OFF_BODY_SHA, 32);
	if (e->size > SPOOL_MAX_BODY) {
		*why = "body length beyond the limit";
		return ES_ECHECKSUM;
	}
	return 0;
}

/*
 * Opens and verifies the spool file of id in dirfd: header, length, body
 * checksum.  Fills e; when body is not NULL the body is returned in a
 * malloc()ed buffer.  ES_ECHECKSUM (with *why) for a bad file, -errno for I/O.
 */
static int verify_file(int dirfd, uint64_t id, spool_entry_t *e, void **body, const char **why)
{
	char name[NAME_LEN + 1];
	uint8_t h[SPOOL_HEADER_SIZE], body_sha[32], sum[32];
	struct stat st;
	uint8_t *buf = NULL;
	EVP_MD_CTX *ctx = NULL;
	int fd, rc;

	*why = NULL;
	id_name(id, ".payload", name, sizeof name);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		*why = strerror(errno);
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		*why = strerror(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		rc = ES_ECHECKSUM;
		goto out;
	}
	if ((uint64_t)st.st_size < SPOOL_HEADER_SIZE) {
		*why = st.st_size == 0 ? "empty file" : "shorter than its header";
		rc = ES_ECHECKSUM;
		goto out;
	}
	if ((rc = read_all(fd, h, sizeof h)) != 0) {
		*why = rc == ES_ECHECKSUM ? "shorter than its header" : strerror(-rc);
		goto out;
	}
	if ((rc = spool_header_decode(h, e, body_sha, why)) != 0)
		goto out;
	if (e->id != id) {
		*why = "id in the header differs from the file name";
		rc = ES_ECHECKSUM;
		goto out;
	}
	if ((uint64_t)st.st_size - SPOOL_HEADER_SIZE != e->size) {
		*why = (uint64_t)st.st_size - SPOOL_HEADER_SIZE < e->size ? "truncated body"
		                                                          : "trailing bytes";
		rc = ES_ECHECKSUM;
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		*why = "cannot hash";
		goto out;
	}
	if (body) {
		buf = es_malloc(e->size ? (size_t)e->size : 1);
		if ((rc = read_all(fd, buf, (size_t)e->size)) != 0) {
			*why = rc == ES_ECHECKSUM ? "truncated body" : strerror(-rc);
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)e->size)) {
			rc = -EIO;
			*why = "cannot hash";
			goto out;
		}
	} else {
		uint8_t chunk[65536];
		uint64_t left = e->size;
		while (left > 0) {
			size_t n = left < sizeof chunk ? (size_t)left : sizeof chunk;
			if ((rc = read_all(fd, chunk, n)) != 0) {
				*why = rc == ES_ECHECKSUM ? "truncated body" : strerror(-rc);
				goto out;
			}
			if (!EVP_DigestUpdate(ctx, chunk, n)) {
				rc = -EIO;
				*why = "cannot hash";
				goto out;
			}
			left -= n;
		}
	}
	/* A hash that cannot be computed says nothing about the file: -EIO,
	 * never ES_ECHECKSUM, so that a good payload is not moved to bad/. */
	if (!EVP_DigestFinal_ex(ctx, sum, NULL)) {
		rc = -EIO;
		*why = "cannot hash";
		goto out;
	}
	if (memcmp(sum, body_sha, 32) != 0) {
		*why = "body checksum mismatch";
		rc = ES_ECHECKSUM;
		goto out;
	}
	if (body) {
		*body = buf;
		buf = NULL;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	close(fd);
	return rc;
}

/* Moves name from the spool directory into bad/, never overwriting an earlier file there. */
static int quarantine(spool_t *sp, const char *name, const char *why)
{
	char target[300];
	int rc;

	snprintf(target, sizeof target, "%s", name);
	for (int i = 1; faccessat(sp->bad_fd, target, F_OK, AT_SYMLINK_NOFOLLOW) == 0; i++) {
		if (i > 1000)
			return -EEXIST;
		snprintf(target, sizeof target, "%s.%d", name, i);
	}
	if (renameat(sp->fd, name, sp->bad_fd, target) != 0) {
		rc = -errno;
		es_log_msg(sp->log, LOG_ERR, "spool: cannot move %s/%s to bad/: %s", sp->dir, name,
		           es_strerror(rc));
		return rc;
	}
	fsync_fd(sp->bad_fd);
	fsync_fd(sp->fd);
	sp->bad++;
	es_log_msg(sp->log, LOG_WARNING, "spool: %s/%s is unusable (%s); moved to bad/%s", sp->dir,
	           name, why, target);
	return 0;
}

/* Durably records id as the highest id ever used, so ids are not reused once the spool drains. */
static int write_high_water(spool_t *sp, uint64_t id)
{
	char text[32];
	int rc;

	snprintf(text, sizeof text, "%016" PRIx64 "\n", id);
	rc = fsx_replace_buf_at(sp->fd, HWM_TMP, HWM_NAME, 0600, text, strlen(text));
	if (rc != 0)
		return rc;
	sp->hwm_disk = id;
	return 0;
}

static uint64_t read_high_water(spool_t *sp)
{
	char text[40];
	ssize_t r;
	uint64_t id = 0;
	int fd;

	fd = openat(sp->fd, HWM_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	r = read(fd, text, sizeof text - 1);
	close(fd);
	if (r == 17 && text[16] == '\n') {
		text[16] = '\0';
		char *end;
		id = strtoull(text, &end, 16);
		if (*end == '\0')
			return id;
	}
	es_log_msg(sp->log, LOG_WARNING, "spool: %s/%s is malformed; ignored", sp->dir, HWM_NAME);
	return 0;
}

/* Index of id among the pending entries, or -1. */
static ssize_t find_index(const spool_t *sp, uint64_t id)
{
	size_t lo = 0, hi = sp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->ents[mid].id < id)
			lo = mid + 1;
		else if (sp->ents[mid].id > id)
			hi = mid;
		else
			return (ssize_t)mid;
	}
	return -1;
}

static void insert_entry(spool_t *sp, const spool_entry_t *e)
{
	size_t pos = sp->n;

	if (sp->n == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 64;
		sp->ents = es_reallocarray(sp->ents, sp->cap, sizeof *sp->ents);
	}
	/* Concurrent puts may finish out of id order; most land at the end. */
	while (pos > 0 && sp->ents[pos - 1].id > e->id)
		pos--;
	memmove(sp->ents + pos + 1, sp->ents + pos, (sp->n - pos) * sizeof *sp->ents);
	sp->ents[pos] = *e;
	sp->n++;
	sp->bytes += e->size;
}

static void remove_index(spool_t *sp, size_t i)
{
	sp->bytes -= sp->ents[i].size;
	memmove(sp->ents + i, sp->ents + i + 1, (sp->n - i - 1) * sizeof *sp->ents);
	sp->n--;
}

/*
 * Before a pending file leaves the spool directory: when it holds the
 * highest id in use, that id must survive in last-id (always for a
 * quarantine or reject, whose directories an operator may empty).
 */
static int keep_high_water(spool_t *sp, uint64_t id, int always)
{
	if (id <= sp->hwm_disk)
		return 0;
	if (!always && sp->n > 0 && sp->ents[sp->n - 1].id > id)
		return 0;
	return write_high_water(sp, id);
}

static int cmp_entry(const void *a, const void *b)
{
	const spool_entry_t *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Reads the names of a directory (bounded), for scanning without renaming under readdir. */
static int list_names(int dirfd, char ***names, size_t *count)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == MAX_SCAN_NAMES)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = es_reallocarray(v, cap, sizeof *v);
		}
		v[n++] = es_strdup(de->d_name);
	}
	closedir(d);
	*names = v;
	*count = n;
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Counts the entries of rejected/ or bad/ and raises *max_id to the largest id named there. */
static int scan_kept(int dirfd, const char *suffix, size_t *count, uint64_t *max_id)
{
	char **names;
	size_t n;
	int rc = list_names(dirfd, &names, &n);

	if (rc != 0)
		return rc;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t id;
		const char *rest;
		if (parse_id_name(names[i], &id, &rest) && id > *max_id)
			*max_id = id;
		if (!suffix || ends_with(names[i], suffix))
			(*count)++;
	}
	free_names(names, n);
	return 0;
}

static int open_subdir(int parent, const char *name, int *out)
{
	int fd;

	if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

static int scan_pending(spool_t *sp, size_t *bad_moved, uint64_t *max_id)
{
	char **names;
	size_t n, removed = 0;
	int rc = list_names(sp->fd, &names, &n);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *name = names[i];
		struct stat st;
		spool_entry_t e;
		const char *why;
		uint64_t id;

		if (strcmp(name, "rejected") == 0 || strcmp(name, "bad") == 0 ||
		    strcmp(name, HWM_NAME) == 0)
			continue;
		if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			/* A write that never reached its rename: the put did not succeed. */
			if (unlinkat(sp->fd, name, 0) == 0)
				removed++;
			continue;
		}
		if (fstatat(sp->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			es_log_msg(sp->log, LOG_WARNING, "spool: ignoring unknown directory %s/%s",
			           sp->dir, name);
			continue;
		}
		if (!parse_id_name(name, &id, NULL)) {
			if (quarantine(sp, name, "unknown file name") == 0)
				(*bad_moved)++;
			continue;
		}
		if (id > *max_id)
			*max_id = id;
		rc = verify_file(sp->fd, id, &e, NULL, &why);
		if (rc == -ENOENT)
			continue;
		if (rc != 0 && rc != ES_ECHECKSUM) {
			/* Not damage (EIO, a failing hash): keep the file, refuse to start. */
			free_names(names, n);
			return rc;
		}
		if (rc != 0) {
			if (quarantine(sp, name, why ? why : es_strerror(rc)) == 0)
				(*bad_moved)++;
			continue;
		}
		if (sp->n == sp->cap) {
			sp->cap = sp->cap ? sp->cap * 2 : 64;
			sp->ents = es_reallocarray(sp->ents, sp->cap, sizeof *sp->ents);
		}
		sp->ents[sp->n++] = e;
		sp->bytes += e.size;
	}
	free_names(names, n);
	if (removed)
		fsync_fd(sp->fd);
	if (sp->n > 1)
		qsort(sp->ents, sp->n, sizeof *sp->ents, cmp_entry);
	return 0;
}

int spool_init_ex(spool_t **out, const char *state_dir, uint64_t max_bytes, size_t *bad_moved,
                  const struct es_log *log)
{
	spool_t *sp;
	size_t moved = 0, bad_before = 0;
	uint64_t max_id = 0;
	int rc, state_fd;

	*out = NULL;
	if (bad_moved)
		*bad_moved = 0;
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	state_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (state_fd < 0)
		return -errno;

	sp = es_calloc(1, sizeof *sp);
	sp->fd = sp->rej_fd = sp->bad_fd = -1;
	sp->max_bytes = max_bytes;
	sp->log = log;
	pthread_mutex_init(&sp->mu, NULL);
	{
		size_t len = strlen(state_dir) + sizeof "/spool";
		sp->dir = es_malloc(len);
		snprintf(sp->dir, len, "%s/spool", state_dir);
	}
	rc = open_subdir(state_fd, "spool", &sp->fd);
	close(state_fd);
	if (rc == 0)
		rc = open_subdir(sp->fd, "rejected", &sp->rej_fd);
	if (rc == 0)
		rc = open_subdir(sp->fd, "bad", &sp->bad_fd);
	if (rc == 0)
		rc = scan_kept(sp->rej_fd, ".payload", &sp->rejected, &max_id);
	if (rc == 0)
		rc = scan_kept(sp->bad_fd, NULL, &bad_before, &max_id);
	if (rc == 0) {
		sp->bad = bad_before;
		sp->hwm_disk = read_high_water(sp);
		rc = scan_pending(sp, &moved, &max_id);
	}
	if (rc != 0) {
		spool_fini(sp);
		return rc;
	}
	if (sp->hwm_disk > max_id)
		max_id = sp->hwm_disk;
	sp->next_id = max_id + 1;
	if (bad_moved)
		*bad_moved = moved;
	*out = sp;
	return 0;
}

int spool_init(spool_t **out, const char *state_dir, uint64_t max_bytes)
{
	return spool_init_ex(out, state_dir, max_bytes, NULL, NULL);
}

void spool_fini(spool_t *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->rej_fd >= 0)
		close(sp->rej_fd);
	if (sp->bad_fd >= 0)
		close(sp->bad_fd);
	pthread_mutex_destroy(&sp->mu);
	free(sp->ents);
	free(sp->dir);
	free(sp);
}

const char *spool_dir(spool_t *sp)
{
	return sp->dir;
}

struct payload_fill {
	const uint8_t *header;
	const void *body;
	size_t len;
};

static int fill_payload(int fd, void *ctx)
{
	const struct payload_fill *p = ctx;
	int rc = fsx_write_all(fd, p->header, SPOOL_HEADER_SIZE);

	if (rc == 0 && crash_armed("spool-mid-write")) {
		fsx_write_all(fd, p->body, p->len / 2);
		crash_now("spool-mid-write");
	}
	if (rc == 0)
		rc = fsx_write_all(fd, p->body, p->len);
	if (rc == 0)
		crash_point("spool-before-rename");
	return rc;
}

/* Writes one payload file under its final name; called without the mutex held. */
static int write_payload(spool_t *sp, const uint8_t *header, const void *body, size_t len,
                         uint64_t id)
{
	struct payload_fill p = { header, body, len };
	char tmp[NAME_LEN + 8], name[NAME_LEN + 1];
	int rc;

	id_name(id, "", tmp + strlen(TMP_PREFIX), sizeof tmp - strlen(TMP_PREFIX));
	memcpy(tmp, TMP_PREFIX, strlen(TMP_PREFIX));
	id_name(id, ".payload", name, sizeof name);
	rc = fsx_replace_at(sp->fd, tmp, name, 0600, fill_payload, &p);
	if (rc != 0) {
		/* Renamed but not synced: the put failed, so the file must go. */
		unlinkat(sp->fd, name, 0);
		return rc;
	}
	crash_point("spool-after-rename");
	return 0;
}

int spool_put(spool_t *sp, const char *source, const uint8_t source_digest[32],
              const void *body, size_t len, uint64_t *id)
{
	uint8_t header[SPOOL_HEADER_SIZE], body_sha[32];
	spool_entry_t e;
	uint64_t new_id;
	int rc;

	if (!source)
		source = "";
	if ((uint64_t)len > SPOOL_MAX_BODY)
		return ES_ELIMIT;
	if (len > 0 && !body)
		return -EINVAL;

	pthread_mutex_lock(&sp->mu);
	if (sp->bytes + sp->reserved + len > sp->max_bytes) {
		pthread_mutex_unlock(&sp->mu);
		return ES_ELIMIT;
	}
	new_id = sp->next_id++;
	sp->reserved += len;
	pthread_mutex_unlock(&sp->mu);

	memset(&e, 0, sizeof e);
	e.id = new_id;
	e.size = len;
	e.created = (int64_t)time(NULL);
	memcpy(e.source_digest, source_digest, 32);
	memcpy(e.source, source, strnlen(source, 255));
	rc = sha256(len ? body : "", len, body_sha);
	if (rc == 0)
		rc = encode_header(header, new_id, len, e.created, body_sha, source_digest, e.source);
	if (rc == 0)
		rc = write_payload(sp, header, len ? body : "", len, new_id);

	pthread_mutex_lock(&sp->mu);
	sp->reserved -= len;
	if (rc == 0)
		insert_entry(sp, &e);
	pthread_mutex_unlock(&sp->mu);
	if (rc == 0 && id)
		*id = new_id;
	return rc;
}

size_t spool_list(spool_t *sp, spool_entry_t *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&sp->mu);
	n = sp->n < max ? sp->n : max;
	if (n > 0)
		memcpy(out, sp->ents, n * sizeof *out);
	pthread_mutex_unlock(&sp->mu);
	return n;
}

int spool_get(spool_t *sp, uint64_t id, spool_entry_t *out)
{
	ssize_t i;

	pthread_mutex_lock(&sp->mu);
	i = find_index(sp, id);
	if (i >= 0 && out)
		*out = sp->ents[i];
	pthread_mutex_unlock(&sp->mu);
	return i >= 0;
}

int spool_load(spool_t *sp, uint64_t id, void **body, size_t *len)
{
	spool_entry_t want, got;
	const char *why;
	void *buf = NULL;
	ssize_t i;
	int rc;

	pthread_mutex_lock(&sp->mu);
	i = find_index(sp, id);
	if (i >= 0)
		want = sp->ents[i];
	pthread_mutex_unlock(&sp->mu);
	if (i < 0)
		return -ENOENT;

	/* The body is read without the mutex so that puts from workers are not held up. */
	rc = verify_file(sp->fd, id, &got, &buf, &why);
	if (rc == 0 && (got.size != want.size ||
	                memcmp(got.source_digest, want.source_digest, 32) != 0)) {
		why = "file changed since it was spooled";
		rc = ES_ECHECKSUM;
	}
	if (rc == 0) {
		*body = buf;
		*len = (size_t)got.size;
		return 0;
	}
	free(buf);
	if (rc != ES_ECHECKSUM && rc != -ENOENT)
		return rc;

	pthread_mutex_lock(&sp->mu);
	i = find_index(sp, id);
	if (i >= 0) {
		char name[NAME_LEN + 1];
		id_name(id, ".payload", name, sizeof name);
		keep_high_water(sp, id, 1);
		if (rc == -ENOENT)
			es_log_msg(sp->log, LOG_WARNING, "spool: %s/%s has vanished", sp->dir, name);
		else
			quarantine(sp, name, why);
		remove_index(sp, (size_t)i);
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int spool_done(spool_t *sp, uint64_t id)
{
	char name[NAME_LEN + 1];
	ssize_t i;
	int rc;

	id_name(id, ".payload", name, sizeof name);
	pthread_mutex_lock(&sp->mu);
	i = find_index(sp, id);
	if (i < 0) {
		pthread_mutex_unlock(&sp->mu);
		return -ENOENT;
	}
	rc = keep_high_water(sp, id, 0);
	if (rc == 0 && unlinkat(sp->fd, name, 0) != 0 && errno != ENOENT)
		rc = -errno;
	if (rc == 0) {
		crash_point("spool-after-unlink");
		rc = fsync_fd(sp->fd);
		/* The file is gone either way; only its durability is in doubt. */
		remove_index(sp, (size_t)i);
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

static int write_reason(spool_t *sp, uint64_t id, const char *why)
{
	char tmp[NAME_LEN + 16], name[NAME_LEN + 1], text[4097];
	size_t n = strnlen(why, sizeof text - 1);

	id_name(id, ".reason", name, sizeof name);
	snprintf(tmp, sizeof tmp, "%s%s", TMP_PREFIX, name);
	memcpy(text, why, n);
	text[n] = '\n';
	return fsx_replace_buf_at(sp->rej_fd, tmp, name, 0600, text, n + 1);
}

int spool_reject(spool_t *sp, uint64_t id, const char *why)
{
	char name[NAME_LEN + 1];
	ssize_t i;
	int rc;

	id_name(id, ".payload", name, sizeof name);
	pthread_mutex_lock(&sp->mu);
	i = find_index(sp, id);
	if (i < 0) {
		pthread_mutex_unlock(&sp->mu);
		return -ENOENT;
	}
	rc = keep_high_water(sp, id, 1);
	if (rc == 0)
		rc = write_reason(sp, id, why ? why : "");
	if (rc == 0 && renameat(sp->fd, name, sp->rej_fd, name) != 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_fd(sp->rej_fd);
	if (rc == 0)
		rc = fsync_fd(sp->fd);
	if (rc == 0 || faccessat(sp->fd, name, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		remove_index(sp, (size_t)i);
		sp->rejected++;
	}
	pthread_mutex_unlock(&sp->mu);
	return rc;
}

int spool_find_digest(spool_t *sp, const uint8_t source_digest[32], uint64_t *id)
{
	int found = 0;

	pthread_mutex_lock(&sp->mu);
	for (size_t i = 0; i < sp->n; i++) {
		if (memcmp(sp->ents[i].source_digest, source_digest, 32) == 0) {
			if (id)
				*id = sp->ents[i].id;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&sp->mu);
	return found;
}

void spool_get_stats(spool_t *sp, spool_stats_t *st)
{
	pthread_mutex_lock(&sp->mu);
	memset(st, 0, sizeof *st);
	st->pending = sp->n;
	st->bytes = sp->bytes;
	for (size_t i = 0; i < sp->n; i++)
		if (st->oldest_created == 0 || sp->ents[i].created < st->oldest_created)
			st->oldest_created = sp->ents[i].created;
	st->rejected = sp->rejected;
	st->bad = sp->bad;
	pthread_mutex_unlock(&sp->mu);
}

int spool_is_full(spool_t *sp)
{
	int full;

	pthread_mutex_lock(&sp->mu);
	full = sp->bytes + sp->reserved >= sp->max_bytes;
	pthread_mutex_unlock(&sp->mu);
	return full;
}
