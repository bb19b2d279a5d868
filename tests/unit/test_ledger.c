#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "crash.h"
#include "eidastatsd/daemon.h"
#include "ledger.h"
#include "spool.h"
#include "unit.h"

/* Log files of the golden data, recorded as the daemon would record them. */
static const char *const log_files[] = {
	"synthetic-small/multi/fdsnws-requests.log.2024-10-30.bz2",
	"synthetic-small/multi/fdsnws-requests.log.2024-10-31",
	"synthetic-small/multi/fdsnws-requests.log.2024-11-01.bz2",
	"upstream-sample/test.log.bz2",
	"hll-edges/hll-edges.log.bz2",
};
#define NLOGS (sizeof log_files / sizeof log_files[0])

static const char *ledger_path(void)
{
	static char path[4200];

	snprintf(path, sizeof path, "%s/ledger", unit_tmpdir());
	return path;
}

static off_t file_size(const char *path)
{
	struct stat st;

	ASSERT(stat(path, &st) == 0);
	return st.st_size;
}

/* Makes the record of a golden log: its stat identity and the SHA-256 of its bytes. */
static void record_of(const char *rel, uint64_t payload_id, ledger_rec_t *r)
{
	const char *path = unit_data(rel);
	struct stat st;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	ASSERT(f != NULL && ctx != NULL);
	ASSERT(fstat(fileno(f), &st) == 0);
	ASSERT(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		ASSERT(EVP_DigestUpdate(ctx, buf, n) == 1);
	ASSERT(EVP_DigestFinal_ex(ctx, r->digest, NULL) == 1);
	EVP_MD_CTX_free(ctx);
	fclose(f);
	r->dev = (uint64_t)st.st_dev;
	r->ino = (uint64_t)st.st_ino;
	r->size = (uint64_t)st.st_size;
	r->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	snprintf(r->name, sizeof r->name, "%s", strrchr(rel, '/') + 1);
	r->payload_id = payload_id;
	r->done_at = (int64_t)time(NULL);
	r->status = payload_id ? LEDGER_DONE : LEDGER_EMPTY;
}

static void assert_same(const ledger_rec_t *a, const ledger_rec_t *b)
{
	ASSERT_MEMEQ(a->digest, b->digest, 32);
	ASSERT(a->dev == b->dev && a->ino == b->ino && a->size == b->size);
	ASSERT_EQ(a->mtime_ns, b->mtime_ns);
	ASSERT_STREQ(a->name, b->name);
	ASSERT(a->payload_id == b->payload_id);
	ASSERT_EQ(a->done_at, b->done_at);
	ASSERT_EQ(a->status, b->status);
}

static void assert_found(ledger_t *l, const ledger_rec_t *want)
{
	ledger_rec_t got;

	ASSERT_EQ(ledger_find_digest(l, want->digest, &got), 1);
	assert_same(&got, want);
	memset(&got, 0, sizeof got);
	ASSERT_EQ(ledger_find_file(l, want->dev, want->ino, want->size, want->mtime_ns, &got), 1);
	assert_same(&got, want);
}

TEST(ledger_round_trip_and_reopen)
{
	ledger_t *l;
	ledger_rec_t recs[NLOGS], other;
	size_t bad;

	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(ledger_count(l), 0);
	for (size_t i = 0; i < NLOGS; i++) {
		record_of(log_files[i], i == 3 ? 0 : i + 1, &recs[i]);
		ASSERT_EQ(ledger_find_digest(l, recs[i].digest, NULL), 0);
		ASSERT_OK(ledger_add(l, &recs[i]));
		assert_found(l, &recs[i]);
	}
	ASSERT_EQ(ledger_count(l), NLOGS);
	/* Near misses of the quick identity are not matches. */
	ASSERT_EQ(ledger_find_file(l, recs[0].dev, recs[0].ino, recs[0].size + 1,
	                           recs[0].mtime_ns, NULL), 0);
	ASSERT_EQ(ledger_find_file(l, recs[0].dev, recs[0].ino, recs[0].size,
	                           recs[0].mtime_ns + 1, NULL), 0);
	memcpy(&other, &recs[0], sizeof other);
	other.digest[31] ^= 1;
	ASSERT_EQ(ledger_find_digest(l, other.digest, NULL), 0);
	ledger_fini(l);
	ledger_fini(NULL);
	ASSERT_EQ(file_size(ledger_path()) > 0, 1);
	{
		struct stat st;
		ASSERT(stat(ledger_path(), &st) == 0);
		ASSERT_EQ(st.st_mode & 0777, 0600);
	}

	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(ledger_count(l), NLOGS);
	for (size_t i = 0; i < NLOGS; i++)
		assert_found(l, &recs[i]);
	ledger_fini(l);
}

TEST(ledger_odd_names_and_values)
{
	static const char *const names[] = {
		"", "-", "%", "%25", "a b\tc", "fdsnws-requests.log.2024-10-31 (copy).bz2",
		"\xc3\xa9t\xc3\xa9.log", "line\nbreak", "\x7f\x01",
	};
	ledger_t *l;
	ledger_rec_t r, got;
	char longname[400];

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		memset(&r, 0, sizeof r);
		memset(r.digest, (int)i + 1, 32);
		snprintf(r.name, sizeof r.name, "%s", names[i]);
		r.dev = UINT64_MAX;
		r.ino = i;
		r.size = 0;
		r.mtime_ns = i % 2 ? INT64_MIN : -1;
		r.payload_id = UINT64_MAX - i;
		r.done_at = i % 2 ? INT64_MAX : -5;
		r.status = LEDGER_DONE;
		ASSERT_OK(ledger_add(l, &r));
	}
	/* A name that fills the whole array, with no terminator, is cut to 255 bytes. */
	memset(&r, 0, sizeof r);
	memset(r.digest, 0xee, 32);
	memset(longname, 'x', sizeof longname);
	memcpy(r.name, longname, sizeof r.name);
	r.status = LEDGER_EMPTY;
	ASSERT_OK(ledger_add(l, &r));
	ledger_fini(l);

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	ASSERT_EQ(ledger_count(l), sizeof names / sizeof names[0] + 1);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		uint8_t d[32];
		memset(d, (int)i + 1, 32);
		ASSERT_EQ(ledger_find_digest(l, d, &got), 1);
		ASSERT_STREQ(got.name, names[i]);
		ASSERT(got.dev == UINT64_MAX && got.ino == i && got.size == 0);
		ASSERT_EQ(got.mtime_ns, i % 2 ? INT64_MIN : -1);
		ASSERT(got.payload_id == UINT64_MAX - i);
		ASSERT_EQ(got.done_at, i % 2 ? INT64_MAX : -5);
	}
	ASSERT_EQ(ledger_find_digest(l, r.digest, &got), 1);
	ASSERT_EQ(strlen(got.name), 255);
	ASSERT_EQ(got.status, LEDGER_EMPTY);
	ledger_fini(l);
}

TEST(ledger_bad_arguments)
{
	ledger_t *l;
	ledger_rec_t r;
	char path[4200];

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	record_of(log_files[0], 1, &r);
	r.status = 0;
	ASSERT_ERR(ledger_add(l, &r), -EINVAL);
	r.status = 3;
	ASSERT_ERR(ledger_add(l, &r), -EINVAL);
	ASSERT_EQ(ledger_count(l), 0);
	ASSERT_EQ(file_size(ledger_path()), 0);
	ledger_fini(l);

	snprintf(path, sizeof path, "%s/missing", unit_tmpdir());
	ASSERT_ERR(ledger_init(&l, path), -ENOENT);
	ASSERT(l == NULL);
	/* The ledger's name taken by a directory. */
	snprintf(path, sizeof path, "%s/sub", unit_tmpdir());
	ASSERT(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/sub/ledger", unit_tmpdir());
	ASSERT(mkdir(path, 0700) == 0);
	snprintf(path, sizeof path, "%s/sub", unit_tmpdir());
	ASSERT_ERR(ledger_init(&l, path), -EISDIR);
}

/* Cuts the last record at every byte: each time it is ignored and appending still works. */
TEST(ledger_torn_last_line)
{
	ledger_t *l;
	ledger_rec_t recs[3], extra;
	off_t two = 0, full;
	size_t bad;

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	for (size_t i = 0; i < 3; i++) {
		record_of(log_files[i], i + 1, &recs[i]);
		ASSERT_OK(ledger_add(l, &recs[i]));
		if (i == 1)
			two = file_size(ledger_path());
	}
	ledger_fini(l);
	full = file_size(ledger_path());
	record_of(log_files[3], 9, &extra);

	for (off_t cut = two + 1; cut < full; cut++) {
		char copy[4300];
		snprintf(copy, sizeof copy, "%s/ledger", unit_tmpdir());
		/* Rebuild the three records, then tear the third. */
		ASSERT(truncate(copy, two) == 0);
		ASSERT_OK(ledger_init(&l, unit_tmpdir()));
		ASSERT_OK(ledger_add(l, &recs[2]));
		ledger_fini(l);
		ASSERT_EQ(file_size(copy), full);
		ASSERT(truncate(copy, cut) == 0);

		ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
		ASSERT_EQ(bad, 1);
		ASSERT_EQ(ledger_count(l), 2);
		assert_found(l, &recs[0]);
		assert_found(l, &recs[1]);
		ASSERT_EQ(ledger_find_digest(l, recs[2].digest, NULL), 0);
		ASSERT_OK(ledger_add(l, &extra));
		ledger_fini(l);

		ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
		ASSERT_EQ(bad, 0);
		ASSERT_EQ(ledger_count(l), 3);
		assert_found(l, &extra);
		ledger_fini(l);
		/* Back to two records for the next round. */
		ASSERT(truncate(copy, two) == 0);
	}
}

TEST(ledger_corrupt_and_garbage_lines)
{
	ledger_t *l;
	ledger_rec_t recs[3];
	size_t bad;
	FILE *f;
	int fd;
	char c;

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	for (size_t i = 0; i < 3; i++) {
		record_of(log_files[i], i + 1, &recs[i]);
		ASSERT_OK(ledger_add(l, &recs[i]));
	}
	ledger_fini(l);
	/* Flip a digit inside the second record: its CRC no longer matches. */
	{
		off_t first;
		FILE *r = fopen(ledger_path(), "r");
		char line[2048];
		ASSERT(r != NULL && fgets(line, sizeof line, r) != NULL);
		first = (off_t)strlen(line);
		fclose(r);
		fd = open(ledger_path(), O_RDWR);
		ASSERT(fd >= 0);
		ASSERT(pread(fd, &c, 1, first + 10) == 1);
		c = c == '0' ? '1' : '0';
		ASSERT(pwrite(fd, &c, 1, first + 10) == 1);
		close(fd);
	}
	/* Then garbage lines: text, a line with a valid-looking CRC field, an overlong line. */
	f = fopen(ledger_path(), "a");
	ASSERT(f != NULL);
	fputs("hello world\n\nL1 x 00000000\n", f);
	for (int i = 0; i < 5000; i++)
		fputc('z', f);
	fputc('\n', f);
	fwrite("\0\0\0\n", 1, 4, f);
	fclose(f);

	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 6);
	ASSERT_EQ(ledger_count(l), 2);
	assert_found(l, &recs[0]);
	assert_found(l, &recs[2]);
	ASSERT_EQ(ledger_find_digest(l, recs[1].digest, NULL), 0);
	/* Recording the damaged one again works and survives a reopen. */
	ASSERT_OK(ledger_add(l, &recs[1]));
	ledger_fini(l);
	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 6);
	ASSERT_EQ(ledger_count(l), 3);
	assert_found(l, &recs[1]);
	ledger_fini(l);
}

TEST(ledger_overlong_torn_tail)
{
	ledger_t *l;
	ledger_rec_t r;
	size_t bad;
	FILE *f = fopen(ledger_path(), "w");

	/* Garbage without any newline, longer than any record. */
	ASSERT(f != NULL);
	for (int i = 0; i < 10000; i++)
		fputc('q', f);
	fclose(f);
	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 1);
	ASSERT_EQ(ledger_count(l), 0);
	record_of(log_files[0], 1, &r);
	ASSERT_OK(ledger_add(l, &r));
	ledger_fini(l);
	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(ledger_count(l), 1);
	assert_found(l, &r);
	ledger_fini(l);
}

TEST(ledger_latest_record_wins)
{
	ledger_t *l;
	ledger_rec_t a, b, got;

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	record_of(log_files[1], 4, &a);
	ASSERT_OK(ledger_add(l, &a));
	/* The same content seen again under another name and identity (a copy). */
	b = a;
	b.ino += 1000;
	b.payload_id = 7;
	snprintf(b.name, sizeof b.name, "copy-of-%.200s", a.name);
	ASSERT_OK(ledger_add(l, &b));
	ASSERT_EQ(ledger_count(l), 2);
	ASSERT_EQ(ledger_find_digest(l, a.digest, &got), 1);
	assert_same(&got, &b);
	/* Each identity still finds its own record. */
	ASSERT_EQ(ledger_find_file(l, a.dev, a.ino, a.size, a.mtime_ns, &got), 1);
	assert_same(&got, &a);
	ledger_fini(l);
	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	ASSERT_EQ(ledger_find_digest(l, a.digest, &got), 1);
	assert_same(&got, &b);
	ledger_fini(l);
}

TEST(ledger_many_records)
{
	ledger_t *l;
	ledger_rec_t r, got;
	const size_t n = 5000;

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	record_of(log_files[0], 1, &r);
	for (size_t i = 0; i < n; i++) {
		/* Distinct digests and identities that share most bytes, as real ones may. */
		r.digest[0] = (uint8_t)i;
		r.digest[1] = (uint8_t)(i >> 8);
		r.ino = i;
		r.payload_id = i + 1;
		ASSERT_OK(ledger_add(l, &r));
	}
	ledger_fini(l);
	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	ASSERT_EQ(ledger_count(l), n);
	for (size_t i = 0; i < n; i++) {
		r.digest[0] = (uint8_t)i;
		r.digest[1] = (uint8_t)(i >> 8);
		ASSERT_EQ(ledger_find_digest(l, r.digest, &got), 1);
		ASSERT(got.payload_id == i + 1);
		ASSERT_EQ(ledger_find_file(l, r.dev, i, r.size, r.mtime_ns, &got), 1);
		ASSERT(got.payload_id == i + 1);
	}
	ledger_fini(l);
}

struct add_job {
	ledger_t *l;
	int thread;
	int rc;
};

static void *add_many(void *arg)
{
	struct add_job *job = arg;
	ledger_rec_t r;

	memset(&r, 0, sizeof r);
	for (int i = 0; i < 100 && job->rc == 0; i++) {
		r.digest[0] = (uint8_t)job->thread;
		r.digest[1] = (uint8_t)i;
		r.ino = (uint64_t)job->thread * 1000 + (uint64_t)i;
		snprintf(r.name, sizeof r.name, "t%d-%d", job->thread, i);
		r.status = LEDGER_DONE;
		job->rc = ledger_add(job->l, &r);
	}
	return NULL;
}

TEST(ledger_concurrent_adds)
{
	ledger_t *l;
	pthread_t th[4];
	struct add_job jobs[4];
	ledger_rec_t got;

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	for (int t = 0; t < 4; t++) {
		jobs[t] = (struct add_job){ .l = l, .thread = t };
		ASSERT(pthread_create(&th[t], NULL, add_many, &jobs[t]) == 0);
	}
	for (int t = 0; t < 4; t++) {
		ASSERT(pthread_join(th[t], NULL) == 0);
		ASSERT_OK(jobs[t].rc);
	}
	ledger_fini(l);
	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	ASSERT_EQ(ledger_count(l), 400);
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 100; i++) {
			char want[32];
			ASSERT_EQ(ledger_find_file(l, 0, (uint64_t)t * 1000 + (uint64_t)i, 0, 0, &got), 1);
			snprintf(want, sizeof want, "t%d-%d", t, i);
			ASSERT_STREQ(got.name, want);
		}
	}
	ledger_fini(l);
}

/*
 * The crash rule, through the daemon's own start-up recovery (esd_recover):
 * a payload spooled but not yet recorded (a crash between the two) is found
 * through its source digest and recorded with its name and payload id; a
 * recorded one is not recorded twice, and a second recovery adds nothing.
 */
TEST(ledger_spool_crash_recovery)
{
	esd_t d;
	ledger_rec_t recs[3], got;
	uint8_t body[] = "{\"stats\": []}";

	memset(&d, 0, sizeof d);
	d.log.sink = SDLOG_STDERR;
	d.log.max_prio = LOG_ERR;   /* the "recovered" notices are not test output */
	d.log.relay_fd = -1;
	ASSERT_OK(spool_init(&d.spool, unit_tmpdir(), 1 << 20));
	ASSERT_OK(ledger_init(&d.ledger, unit_tmpdir()));
	for (size_t i = 0; i < 3; i++) {
		record_of(log_files[i], 0, &recs[i]);
		ASSERT_OK(spool_put(d.spool, recs[i].name, recs[i].digest, body, sizeof body,
		                    &recs[i].payload_id));
		recs[i].status = LEDGER_DONE;
		/* The "crash" comes before the third file is recorded. */
		if (i < 2)
			ASSERT_OK(ledger_add(d.ledger, &recs[i]));
	}
	ledger_fini(d.ledger);
	spool_fini(d.spool);

	ASSERT_OK(spool_init(&d.spool, unit_tmpdir(), 1 << 20));
	ASSERT_OK(ledger_init(&d.ledger, unit_tmpdir()));
	ASSERT_EQ(ledger_count(d.ledger), 2);
	ASSERT_EQ(ledger_find_digest(d.ledger, recs[2].digest, NULL), 0);
	ASSERT_OK(esd_recover(&d));
	ASSERT_EQ(ledger_count(d.ledger), 3);
	ASSERT_EQ(ledger_find_digest(d.ledger, recs[2].digest, &got), 1);
	ASSERT(got.payload_id == recs[2].payload_id);
	ASSERT_STREQ(got.name, recs[2].name);
	ASSERT_EQ(got.status, LEDGER_DONE);
	for (size_t i = 0; i < 2; i++) {
		ASSERT_EQ(ledger_find_digest(d.ledger, recs[i].digest, &got), 1);
		ASSERT(got.payload_id == recs[i].payload_id);
	}
	ASSERT_OK(esd_recover(&d));
	ASSERT_EQ(ledger_count(d.ledger), 3);
	ledger_fini(d.ledger);
	spool_fini(d.spool);

	/* What was recovered is on disk: a new start finds it, and recovers nothing more. */
	ASSERT_OK(spool_init(&d.spool, unit_tmpdir(), 1 << 20));
	ASSERT_OK(ledger_init(&d.ledger, unit_tmpdir()));
	ASSERT_EQ(ledger_count(d.ledger), 3);
	ASSERT_EQ(ledger_find_digest(d.ledger, recs[2].digest, NULL), 1);
	ASSERT_OK(esd_recover(&d));
	ASSERT_EQ(ledger_count(d.ledger), 3);
	ledger_fini(d.ledger);
	spool_fini(d.spool);
}

#ifdef ENABLE_CRASHPOINTS
/* Runs fn in a child with EIDASTATS_CRASHPOINT=point and expects it to stop there. */
static void crash_in_child(const char *point, void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	ASSERT(pid >= 0);
	if (pid == 0) {
		setenv("EIDASTATS_CRASHPOINT", point, 1);
		fn();
		_exit(0);
	}
	ASSERT(waitpid(pid, &status, 0) == pid);
	ASSERT(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), ES_CRASH_EXIT);
}

static void child_ledger_add(void)
{
	ledger_t *l;
	ledger_rec_t r;

	if (ledger_init(&l, unit_tmpdir()) != 0)
		_exit(1);
	record_of(log_files[1], 2, &r);
	ledger_add(l, &r);
	_exit(2);
}

TEST(ledger_crashpoint_mid_append)
{
	ledger_t *l;
	ledger_rec_t r;
	size_t bad;

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	record_of(log_files[0], 1, &r);
	ASSERT_OK(ledger_add(l, &r));
	ledger_fini(l);
	crash_in_child("ledger-mid-append", child_ledger_add);
	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 1);
	ASSERT_EQ(ledger_count(l), 1);
	record_of(log_files[1], 2, &r);
	ASSERT_EQ(ledger_find_digest(l, r.digest, NULL), 0);
	ASSERT_OK(ledger_add(l, &r));
	ledger_fini(l);
	ASSERT_OK(ledger_init_ex(&l, unit_tmpdir(), &bad));
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(ledger_count(l), 2);
	ledger_fini(l);
}

static void child_spool_put(void)
{
	spool_t *sp;
	uint8_t digest[32] = { 7 };
	static char body[100000];

	memset(body, 'b', sizeof body);
	if (spool_init(&sp, unit_tmpdir(), 1 << 30) != 0)
		_exit(1);
	spool_put(sp, "child", digest, body, sizeof body, NULL);
	_exit(2);
}

static void child_spool_done(void)
{
	spool_t *sp;
	spool_entry_t e;

	if (spool_init(&sp, unit_tmpdir(), 1 << 30) != 0 || spool_list(sp, &e, 1) != 1)
		_exit(1);
	spool_done(sp, e.id);
	_exit(2);
}

TEST(spool_crashpoints)
{
	static const char *const before[] = { "spool-mid-write", "spool-before-rename" };
	spool_t *sp;
	spool_stats_t st;
	size_t moved;
	void *body;
	size_t len;
	spool_entry_t e;

	/* Crashes before the rename leave nothing pending and nothing bad. */
	for (size_t i = 0; i < 2; i++) {
		crash_in_child(before[i], child_spool_put);
		ASSERT_OK(spool_init_ex(&sp, unit_tmpdir(), 1 << 30, &moved, NULL));
		spool_get_stats(sp, &st);
		ASSERT_EQ(moved, 0);
		ASSERT_EQ(st.pending, 0);
		ASSERT_EQ(st.bad, 0);
		spool_fini(sp);
	}
	/* After the rename the payload is complete. */
	crash_in_child("spool-after-rename", child_spool_put);
	ASSERT_OK(spool_init(&sp, unit_tmpdir(), 1 << 30));
	ASSERT_EQ(spool_list(sp, &e, 1), 1);
	ASSERT_OK(spool_load(sp, e.id, &body, &len));
	ASSERT_EQ(len, 100000);
	free(body);
	spool_fini(sp);
	/* A crash right after the unlink of a delivered payload: it is gone. */
	crash_in_child("spool-after-unlink", child_spool_done);
	ASSERT_OK(spool_init(&sp, unit_tmpdir(), 1 << 30));
	spool_get_stats(sp, &st);
	ASSERT_EQ(st.pending, 0);
	spool_fini(sp);
}
#endif

/* Descriptors of this process open on path for writing (from /proc/self). */
static int writers_of(const char *path)
{
	char link[300], target[4200], info[300], line[256];
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		ssize_t len;
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
		len = readlink(link, target, sizeof target - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, path) != 0)
			continue;
		snprintf(info, sizeof info, "/proc/self/fdinfo/%s", de->d_name);
		f = fopen(info, "r");
		while (f && fgets(line, sizeof line, f)) {
			unsigned long flags;
			if (sscanf(line, "flags: %lo", &flags) == 1 && (flags & O_ACCMODE) != O_RDONLY)
				n++;
		}
		if (f)
			fclose(f);
	}
	closedir(dir);
	return n;
}

/* Between appends nothing is open for writing: the file system may be
 * remounted read-only under a running daemon. */
TEST(ledger_holds_no_writer_between_appends)
{
	ledger_t *l;
	ledger_rec_t r;
	char real[4200];

	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	ASSERT(realpath(ledger_path(), real) != NULL);
	ASSERT_EQ(writers_of(real), 0);
	record_of(log_files[0], 1, &r);
	ASSERT_OK(ledger_add(l, &r));
	ASSERT_EQ(writers_of(real), 0);
	ASSERT_EQ(ledger_count(l), 1);
	ledger_fini(l);
	ASSERT_OK(ledger_init(&l, unit_tmpdir()));
	ASSERT_EQ(ledger_count(l), 1);
	ASSERT_EQ(writers_of(real), 0);
	ledger_fini(l);
}

/* ledger_parse_line(): the CRC field is 8 lower-case hex digits, nothing else (found by fuzzing). */
TEST(ledger_parse_line_crc_spelling)
{
	char body[256], line[512], crc[9], alt[4][16];
	unsigned long sum = 0;
	ledger_rec_t r;
	unsigned id;

	/* A record whose CRC is below 2^24, so that "0x" + 6 digits could spell it. */
	for (id = 1; id < 1000000; id++) {
		snprintf(body, sizeof body, "L1 ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb "
		         "1 2 3 4 %u 6 1 name", id);
		sum = crc32(0L, (const Bytef *)body, (uInt)strlen(body));
		snprintf(crc, sizeof crc, "%08lx", sum);
		if (sum < 0x1000000 && strpbrk(crc, "abcdef"))
			break;
	}
	ASSERT(id < 1000000);
	snprintf(line, sizeof line, "%s %s", body, crc);
	ASSERT_OK(ledger_parse_line(line, strlen(line), &r));
	ASSERT_STREQ(r.name, "name");
	ASSERT_EQ(r.status, LEDGER_DONE);
	ASSERT_EQ(r.payload_id, id);
	/* The same value spelt otherwise: upper case, "0x", a sign, blanks. */
	snprintf(alt[0], sizeof alt[0], "%08lX", sum);
	snprintf(alt[1], sizeof alt[1], "0x%06lx", sum);
	snprintf(alt[2], sizeof alt[2], "+0%06lx", sum);
	snprintf(alt[3], sizeof alt[3], "  %06lx", sum);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(strlen(alt[i]), 8);
		snprintf(line, sizeof line, "%s %s", body, alt[i]);
		ASSERT_ERR(ledger_parse_line(line, strlen(line), &r), ES_EFORMAT);
	}
	snprintf(line, sizeof line, "%s %08lx", body, sum ^ 1);
	ASSERT_ERR(ledger_parse_line(line, strlen(line), &r), ES_ECHECKSUM);
	snprintf(line, sizeof line, "%s", "short");
	ASSERT_ERR(ledger_parse_line(line, strlen(line), &r), ES_EFORMAT);
}
