#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "spool.h"
#include "unit.h"

/* The real payloads of the golden data sets, used as spool bodies. */
static const char *const payload_files[] = {
	"upstream-sample/expected.json", "synthetic-small/expected.json",
	"null-country/expected.json", "edge-cases/expected.json", "hll-edges/expected.json",
};
#define NPAYLOADS (sizeof payload_files / sizeof payload_files[0])

static void *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		unit_fail(__FILE__, __LINE__, "cannot open %s: %s", path, strerror(errno));
	ASSERT(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	ASSERT(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ASSERT(buf != NULL);
	ASSERT(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void sha256(const void *data, size_t len, uint8_t out[32])
{
	ASSERT(EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) == 1);
}

static const char *state_dir(void)
{
	static char path[4200];

	snprintf(path, sizeof path, "%s/state", unit_tmpdir());
	return path;
}

/* Path of a file below STATE/spool (static buffer per slot). */
static const char *spool_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *spool_path(const char *fmt, ...)
{
	static char bufs[4][4600];
	static int slot;
	char *b = bufs[slot++ % 4], rel[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	snprintf(b, sizeof bufs[0], "%s/spool/%s", state_dir(), rel);
	return b;
}

static const char *payload_path(uint64_t id)
{
	return spool_path("%016llx.payload", (unsigned long long)id);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	ASSERT(stat(path, &st) == 0);
	return st.st_size;
}

/* Number of entries of a directory, "." and ".." excepted. */
static size_t count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Spools golden payload i with the SHA-256 of that file as its source digest. */
static uint64_t put_golden(spool_t *sp, size_t i)
{
	size_t len;
	void *body = read_whole(unit_data(payload_files[i]), &len);
	uint8_t digest[32];
	uint64_t id = 0;

	sha256(body, len, digest);
	ASSERT_OK(spool_put(sp, payload_files[i], digest, body, len, &id));
	ASSERT(id != 0);
	free(body);
	return id;
}

static void check_golden(spool_t *sp, uint64_t id, size_t i)
{
	size_t want_len, len;
	void *want = read_whole(unit_data(payload_files[i]), &want_len), *got = NULL;

	ASSERT_OK(spool_load(sp, id, &got, &len));
	ASSERT_EQ(len, want_len);
	ASSERT_MEMEQ(got, want, len);
	free(got);
	free(want);
}

/* Flips one bit of the file at offset off. */
static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	ASSERT(fd >= 0);
	ASSERT(pread(fd, &c, 1, off) == 1);
	c ^= 0x20;
	ASSERT(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

TEST(spool_round_trip)
{
	spool_t *sp;
	spool_entry_t ents[8];
	spool_stats_t st;
	uint64_t ids[NPAYLOADS], total = 0, found;
	uint8_t digest[32];
	time_t before = time(NULL);

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	ASSERT(spool_list(sp, ents, 8) == 0);
	spool_get_stats(sp, &st);
	ASSERT(st.pending == 0 && st.bytes == 0 && st.oldest_created == 0);
	ASSERT(st.rejected == 0 && st.bad == 0);

	for (size_t i = 0; i < NPAYLOADS; i++) {
		ids[i] = put_golden(sp, i);
		total += (uint64_t)file_size(unit_data(payload_files[i]));
		ASSERT(exists(payload_path(ids[i])));
		ASSERT_EQ(file_size(payload_path(ids[i])),
		          SPOOL_HEADER_SIZE + file_size(unit_data(payload_files[i])));
		if (i > 0)
			ASSERT(ids[i] > ids[i - 1]);
	}
	ASSERT_EQ(spool_list(sp, ents, 8), NPAYLOADS);
	for (size_t i = 0; i < NPAYLOADS; i++) {
		size_t len;
		void *body = read_whole(unit_data(payload_files[i]), &len);
		sha256(body, len, digest);
		free(body);
		ASSERT(ents[i].id == ids[i]);
		ASSERT_EQ(ents[i].size, len);
		ASSERT_STREQ(ents[i].source, payload_files[i]);
		ASSERT_MEMEQ(ents[i].source_digest, digest, 32);
		ASSERT(ents[i].created >= before && ents[i].created <= time(NULL));
		ASSERT_EQ(spool_find_digest(sp, digest, &found), 1);
		ASSERT(found == ids[i]);
		check_golden(sp, ids[i], i);
	}
	/* max limits what spool_list copies. */
	ASSERT_EQ(spool_list(sp, ents, 2), 2);
	ASSERT(ents[0].id == ids[0] && ents[1].id == ids[1]);

	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, NPAYLOADS);
	ASSERT(st.bytes == total);
	ASSERT(st.oldest_created >= before);
	ASSERT_EQ(spool_is_full(sp), 0);

	ASSERT_OK(spool_done(sp, ids[0]));
	ASSERT(!exists(payload_path(ids[0])));
	ASSERT_ERR(spool_done(sp, ids[0]), -ENOENT);
	ASSERT_ERR(spool_load(sp, ids[0], &(void *){ NULL }, &(size_t){ 0 }), -ENOENT);
	ASSERT_EQ(spool_get(sp, ids[0], NULL), 0);
	ASSERT_EQ(spool_get(sp, ids[1], &ents[0]), 1);
	ASSERT(ents[0].id == ids[1]);
	memset(digest, 0xab, sizeof digest);
	ASSERT_EQ(spool_find_digest(sp, digest, NULL), 0);
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, NPAYLOADS - 1);
	ASSERT(st.bytes == total - (uint64_t)file_size(unit_data(payload_files[0])));
	{
		char want[4300];
		snprintf(want, sizeof want, "%s/spool", state_dir());
		ASSERT_STREQ(spool_dir(sp), want);
	}
	spool_fini(sp);
	spool_fini(NULL);
}

TEST(spool_empty_body_and_long_source)
{
	spool_t *sp;
	uint8_t digest[32] = { 1, 2, 3 };
	char source[400];
	spool_entry_t e;
	void *body;
	size_t len;
	uint64_t id;

	memset(source, 'n', sizeof source - 1);
	source[sizeof source - 1] = '\0';
	ASSERT_OK(spool_init(&sp, state_dir(), 100));
	ASSERT_OK(spool_put(sp, source, digest, NULL, 0, &id));
	ASSERT_OK(spool_load(sp, id, &body, &len));
	ASSERT_EQ(len, 0);
	free(body);
	ASSERT_EQ(spool_get(sp, id, &e), 1);
	ASSERT_EQ(strlen(e.source), 255);
	ASSERT_OK(spool_put(sp, NULL, digest, "x", 1, &id));
	ASSERT_EQ(spool_get(sp, id, &e), 1);
	ASSERT_STREQ(e.source, "");
	spool_fini(sp);

	/* Both survive a restart unchanged. */
	ASSERT_OK(spool_init(&sp, state_dir(), 100));
	ASSERT_EQ(spool_list(sp, &e, 1), 1);
	ASSERT_EQ(e.size, 0);
	ASSERT_EQ(strlen(e.source), 255);
	spool_fini(sp);
}

TEST(spool_bad_arguments)
{
	spool_t *sp;
	uint8_t digest[32] = { 0 };
	char path[4200];
	FILE *f;

	ASSERT_OK(spool_init(&sp, state_dir(), 1000));
	/* Too large for any spool: refused before anything is read or written. */
	ASSERT_ERR(spool_put(sp, "x", digest, "", (size_t)SPOOL_MAX_BODY + 1, NULL), ES_ELIMIT);
	ASSERT_ERR(spool_put(sp, "x", digest, NULL, 5, NULL), -EINVAL);
	ASSERT_ERR(spool_done(sp, 12345), -ENOENT);
	ASSERT_ERR(spool_reject(sp, 12345, "no"), -ENOENT);
	ASSERT_EQ(count_dir(spool_path("%s", "")), 2);   /* rejected/ and bad/ only */
	spool_fini(sp);

	/* A state directory that is a file, or whose parent is missing. */
	snprintf(path, sizeof path, "%s/file", unit_tmpdir());
	f = fopen(path, "w");
	ASSERT(f != NULL);
	fclose(f);
	ASSERT_ERR(spool_init(&sp, path, 1000), -ENOTDIR);
	ASSERT(sp == NULL);
	snprintf(path, sizeof path, "%s/no/such/dir", unit_tmpdir());
	ASSERT_ERR(spool_init(&sp, path, 1000), -ENOENT);
	/* A spool path that is a file. */
	snprintf(path, sizeof path, "%s/s2", unit_tmpdir());
	ASSERT(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/s2/spool", unit_tmpdir());
	f = fopen(path, "w");
	ASSERT(f != NULL);
	fclose(f);
	snprintf(path, sizeof path, "%s/s2", unit_tmpdir());
	ASSERT_ERR(spool_init(&sp, path, 1000), -ENOTDIR);
}

TEST(spool_ids_continue_after_restart)
{
	spool_t *sp;
	uint64_t a, b, c, d, e;

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	a = put_golden(sp, 0);
	b = put_golden(sp, 1);
	spool_fini(sp);

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	c = put_golden(sp, 2);
	ASSERT(c == b + 1);
	check_golden(sp, a, 0);
	check_golden(sp, b, 1);
	/* Delivering everything leaves an empty spool; ids still do not go back. */
	ASSERT_OK(spool_done(sp, a));
	ASSERT_OK(spool_done(sp, b));
	ASSERT_OK(spool_done(sp, c));
	spool_fini(sp);
	ASSERT_EQ(count_dir(spool_path("%s", "")), 3);   /* rejected/, bad/ and last-id */

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	d = put_golden(sp, 3);
	ASSERT(d == c + 1);
	/* Done out of order: the highest id is delivered first. */
	e = put_golden(sp, 4);
	ASSERT_OK(spool_done(sp, e));
	ASSERT_OK(spool_done(sp, d));
	spool_fini(sp);
	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	ASSERT(put_golden(sp, 0) == e + 1);
	spool_fini(sp);
}

TEST(spool_high_water_file_malformed)
{
	spool_t *sp;
	uint64_t a;
	FILE *f;

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	a = put_golden(sp, 0);
	ASSERT_OK(spool_done(sp, a));
	spool_fini(sp);
	f = fopen(spool_path("last-id"), "w");
	ASSERT(f != NULL);
	fputs("garbage\n", f);
	fclose(f);
	/* A damaged last-id is reported and ignored; start-up goes on with the ids on disk. */
	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	ASSERT(put_golden(sp, 1) == 1);
	spool_fini(sp);
}

TEST(spool_corrupt_files_quarantined_at_init)
{
	spool_t *sp;
	uint64_t ids[NPAYLOADS + 2];
	spool_entry_t ents[16];
	spool_stats_t st;
	size_t moved;
	FILE *f;

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	for (size_t i = 0; i < NPAYLOADS; i++)
		ids[i] = put_golden(sp, i);
	ids[NPAYLOADS] = put_golden(sp, 0);
	ids[NPAYLOADS + 1] = put_golden(sp, 1);
	spool_fini(sp);

	flip_byte(payload_path(ids[0]), SPOOL_HEADER_SIZE + 100);      /* body */
	flip_byte(payload_path(ids[1]), 100);                          /* header: source name */
	ASSERT(truncate(payload_path(ids[2]), SPOOL_HEADER_SIZE + 10) == 0);   /* torn body */
	ASSERT(truncate(payload_path(ids[3]), 100) == 0);              /* torn header */
	ASSERT(truncate(payload_path(ids[4]), 0) == 0);                /* zero length */
	/* A trailing byte appended to a good file. */
	f = fopen(payload_path(ids[NPAYLOADS]), "a");
	ASSERT(f != NULL);
	fputc('x', f);
	fclose(f);
	/* Garbage under a payload name, under an unknown name, and a leftover temp file. */
	f = fopen(payload_path(ids[NPAYLOADS + 1] + 1), "w");
	ASSERT(f != NULL);
	for (int i = 0; i < 1000; i++)
		fputc(i * 7, f);
	fclose(f);
	f = fopen(spool_path("notes.txt"), "w");
	ASSERT(f != NULL);
	fputs("hello\n", f);
	fclose(f);
	f = fopen(spool_path(".tmp-00000000000000ff"), "w");
	ASSERT(f != NULL);
	fputs("half", f);
	fclose(f);
	/* A file already in bad/ under one of the names about to be moved there. */
	f = fopen(spool_path("bad/%016llx.payload", (unsigned long long)ids[0]), "w");
	ASSERT(f != NULL);
	fclose(f);

	ASSERT_OK(spool_init_ex(&sp, state_dir(), 1 << 30, &moved, NULL));
	ASSERT_EQ(moved, 8);
	ASSERT_EQ(spool_list(sp, ents, 16), 1);
	ASSERT(ents[0].id == ids[NPAYLOADS + 1]);
	check_golden(sp, ids[NPAYLOADS + 1], 1);
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 1);
	ASSERT_EQ(st.bad, 9);
	ASSERT(!exists(spool_path(".tmp-00000000000000ff")));
	for (size_t i = 0; i < 5; i++)
		ASSERT(!exists(payload_path(ids[i])));
	ASSERT(exists(spool_path("bad/%016llx.payload.1", (unsigned long long)ids[0])));
	ASSERT(exists(spool_path("bad/%016llx.payload", (unsigned long long)ids[1])));
	ASSERT(exists(spool_path("bad/notes.txt")));
	/* Quarantined bytes are kept as they were. */
	ASSERT_EQ(file_size(spool_path("bad/%016llx.payload", (unsigned long long)ids[2])),
	          SPOOL_HEADER_SIZE + 10);
	/* Ids continue above the quarantined garbage file's id. */
	ASSERT(put_golden(sp, 2) == ids[NPAYLOADS + 1] + 2);
	spool_fini(sp);

	/* A second start finds nothing more to move and counts what bad/ holds. */
	ASSERT_OK(spool_init_ex(&sp, state_dir(), 1 << 30, &moved, NULL));
	ASSERT_EQ(moved, 0);
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 2);
	ASSERT_EQ(st.bad, 9);
	spool_fini(sp);
}

TEST(spool_load_quarantines_corruption)
{
	spool_t *sp;
	uint64_t a, b, c;
	spool_stats_t st;
	void *body = NULL;
	size_t len;

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	a = put_golden(sp, 0);
	b = put_golden(sp, 1);
	c = put_golden(sp, 2);
	/* Damaged after start-up, while pending. */
	flip_byte(payload_path(a), SPOOL_HEADER_SIZE + 5);
	ASSERT(truncate(payload_path(b), SPOOL_HEADER_SIZE + 3) == 0);
	ASSERT_ERR(spool_load(sp, a, &body, &len), ES_ECHECKSUM);
	ASSERT(body == NULL);
	ASSERT_ERR(spool_load(sp, b, &body, &len), ES_ECHECKSUM);
	ASSERT(exists(spool_path("bad/%016llx.payload", (unsigned long long)a)));
	ASSERT(exists(spool_path("bad/%016llx.payload", (unsigned long long)b)));
	ASSERT(!exists(payload_path(a)));
	ASSERT_ERR(spool_load(sp, a, &body, &len), -ENOENT);
	/* A file removed behind the spool's back is no longer pending. */
	ASSERT(unlink(payload_path(c)) == 0);
	ASSERT_ERR(spool_load(sp, c, &body, &len), -ENOENT);
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 0);
	ASSERT_EQ(st.bytes, 0);
	ASSERT_EQ(st.bad, 2);
	spool_fini(sp);
}

TEST(spool_file_replaced_while_pending)
{
	spool_t *sp;
	uint64_t a, b;
	void *body = NULL;
	size_t len;
	char from[4600], to[4600];

	/* A valid payload file moved over another one's name: its header id gives it away. */
	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	a = put_golden(sp, 0);
	b = put_golden(sp, 1);
	snprintf(from, sizeof from, "%s", payload_path(b));
	snprintf(to, sizeof to, "%s", payload_path(a));
	ASSERT(rename(from, to) == 0);
	ASSERT_ERR(spool_load(sp, a, &body, &len), ES_ECHECKSUM);
	spool_fini(sp);
}

TEST(spool_max_bytes_limit)
{
	spool_t *sp;
	uint8_t digest[32] = { 9 };
	char body[1000];
	uint64_t a, b, c;
	spool_stats_t st;

	memset(body, 'p', sizeof body);
	ASSERT_OK(spool_init(&sp, state_dir(), 1000));
	ASSERT_OK(spool_put(sp, "a", digest, body, 600, &a));
	ASSERT_EQ(spool_is_full(sp), 0);
	/* Over the limit: refused, nothing written. */
	ASSERT_ERR(spool_put(sp, "b", digest, body, 401, &b), ES_ELIMIT);
	ASSERT_EQ(count_dir(spool_path("%s", "")), 3);
	ASSERT_OK(spool_put(sp, "c", digest, body, 400, &c));
	ASSERT_EQ(spool_is_full(sp), 1);
	ASSERT_ERR(spool_put(sp, "d", digest, body, 1, NULL), ES_ELIMIT);
	/* Even a zero-length body does not exceed a full spool. */
	ASSERT_OK(spool_put(sp, "e", digest, body, 0, NULL));
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 3);
	ASSERT_EQ(st.bytes, 1000);
	/* Delivery frees room. */
	ASSERT_OK(spool_done(sp, a));
	ASSERT_EQ(spool_is_full(sp), 0);
	ASSERT_OK(spool_put(sp, "f", digest, body, 600, NULL));
	spool_fini(sp);

	/* A restart with a smaller limit keeps everything and is full at once. */
	ASSERT_OK(spool_init(&sp, state_dir(), 500));
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 3);
	ASSERT_EQ(spool_is_full(sp), 1);
	ASSERT_ERR(spool_put(sp, "g", digest, body, 1, NULL), ES_ELIMIT);
	spool_fini(sp);
}

TEST(spool_reject_keeps_file_and_reason)
{
	spool_t *sp;
	uint64_t a, b;
	spool_stats_t st;
	char reason[256];
	size_t n;
	FILE *f;
	void *kept, *orig;
	size_t kept_len, orig_len;

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	a = put_golden(sp, 0);
	b = put_golden(sp, 1);
	ASSERT_OK(spool_reject(sp, b, "HTTP 422: payload has no stats"));
	ASSERT(!exists(payload_path(b)));
	f = fopen(spool_path("rejected/%016llx.reason", (unsigned long long)b), "r");
	ASSERT(f != NULL);
	n = fread(reason, 1, sizeof reason - 1, f);
	fclose(f);
	reason[n] = '\0';
	ASSERT_STREQ(reason, "HTTP 422: payload has no stats\n");
	/* The rejected payload is byte for byte what was spooled. */
	kept = read_whole(spool_path("rejected/%016llx.payload", (unsigned long long)b), &kept_len);
	orig = read_whole(unit_data(payload_files[1]), &orig_len);
	ASSERT_EQ(kept_len, SPOOL_HEADER_SIZE + orig_len);
	ASSERT_MEMEQ((char *)kept + SPOOL_HEADER_SIZE, orig, orig_len);
	free(kept);
	free(orig);

	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 1);
	ASSERT_EQ(st.rejected, 1);
	ASSERT_ERR(spool_load(sp, b, &(void *){ NULL }, &(size_t){ 0 }), -ENOENT);
	ASSERT_OK(spool_done(sp, a));
	spool_fini(sp);

	/* After a restart: still counted, and ids continue above it. */
	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 0);
	ASSERT_EQ(st.rejected, 1);
	ASSERT(put_golden(sp, 2) == b + 1);
	spool_fini(sp);
}

struct put_job {
	spool_t *sp;
	int thread;
	uint64_t ids[50];
	int rc;
};

#define PUT_THREADS 8
#define PUTS_PER_THREAD 50

static void job_body(int thread, int i, char *buf, size_t *len)
{
	*len = (size_t)snprintf(buf, 128, "{\"thread\": %d, \"i\": %d, \"pad\": \"%0*d\"}",
	                        thread, i, (thread * 13 + i) % 90 + 1, 0);
}

static void *put_many(void *arg)
{
	struct put_job *job = arg;
	uint8_t digest[32];
	char body[128], source[64];
	size_t len;

	for (int i = 0; i < PUTS_PER_THREAD; i++) {
		job_body(job->thread, i, body, &len);
		sha256(body, len, digest);
		snprintf(source, sizeof source, "thread-%d-%d", job->thread, i);
		job->rc = spool_put(job->sp, source, digest, body, len, &job->ids[i]);
		if (job->rc != 0)
			break;
	}
	return NULL;
}

TEST(spool_concurrent_puts)
{
	spool_t *sp;
	pthread_t th[PUT_THREADS];
	struct put_job jobs[PUT_THREADS];
	static spool_entry_t ents[PUT_THREADS * PUTS_PER_THREAD + 1];
	size_t n;

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	for (int t = 0; t < PUT_THREADS; t++) {
		jobs[t] = (struct put_job){ .sp = sp, .thread = t };
		ASSERT(pthread_create(&th[t], NULL, put_many, &jobs[t]) == 0);
	}
	/* The loop thread lists meanwhile, until every put is listed, so the
	 * order is checked at least once on the full list (the runner's timeout
	 * ends a put that never shows). */
	do {
		n = spool_list(sp, ents, PUT_THREADS * PUTS_PER_THREAD + 1);
		for (size_t i = 1; i < n; i++)
			ASSERT(ents[i].id > ents[i - 1].id);
	} while (n < PUT_THREADS * PUTS_PER_THREAD);
	for (int t = 0; t < PUT_THREADS; t++) {
		ASSERT(pthread_join(th[t], NULL) == 0);
		ASSERT_OK(jobs[t].rc);
	}
	spool_fini(sp);

	ASSERT_OK(spool_init(&sp, state_dir(), 1 << 30));
	n = spool_list(sp, ents, PUT_THREADS * PUTS_PER_THREAD + 1);
	ASSERT_EQ(n, PUT_THREADS * PUTS_PER_THREAD);
	for (size_t i = 0; i < n; i++) {
		ASSERT(ents[i].id == i + 1);   /* Every id used once, none lost. */
	}
	for (int t = 0; t < PUT_THREADS; t++) {
		for (int i = 0; i < PUTS_PER_THREAD; i++) {
			char want[128], source[64];
			size_t want_len, len;
			void *body;
			spool_entry_t e;
			job_body(t, i, want, &want_len);
			ASSERT_OK(spool_load(sp, jobs[t].ids[i], &body, &len));
			ASSERT_EQ(len, want_len);
			ASSERT_MEMEQ(body, want, len);
			free(body);
			ASSERT_EQ(spool_get(sp, jobs[t].ids[i], &e), 1);
			snprintf(source, sizeof source, "thread-%d-%d", t, i);
			ASSERT_STREQ(e.source, source);
		}
	}
	spool_fini(sp);
}

/* The limit holds under concurrent puts: never more accepted than fits. */
TEST(spool_concurrent_limit)
{
	spool_t *sp;
	pthread_t th[PUT_THREADS];
	struct put_job jobs[PUT_THREADS];
	spool_stats_t st;
	int accepted = 0;

	ASSERT_OK(spool_init(&sp, state_dir(), 2000));
	for (int t = 0; t < PUT_THREADS; t++) {
		jobs[t] = (struct put_job){ .sp = sp, .thread = t };
		ASSERT(pthread_create(&th[t], NULL, put_many, &jobs[t]) == 0);
	}
	for (int t = 0; t < PUT_THREADS; t++) {
		ASSERT(pthread_join(th[t], NULL) == 0);
		ASSERT(jobs[t].rc == 0 || jobs[t].rc == ES_ELIMIT);
		for (int i = 0; i < PUTS_PER_THREAD && jobs[t].ids[i]; i++)
			accepted++;
	}
	spool_get_stats(sp, &st);
	ASSERT(st.bytes <= 2000);
	ASSERT_EQ(st.pending, accepted);
	ASSERT(accepted > 0 && accepted < PUT_THREADS * PUTS_PER_THREAD);
	spool_fini(sp);
}
