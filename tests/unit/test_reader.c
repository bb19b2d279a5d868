#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"
#include "unit.h"

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	if (st != 0)
		unit_fail(__FILE__, __LINE__, "command failed (%d): %s", st, cmd);
}

/* SHA-256 as computed by sha256sum(1) over the output of a shell command. */
static void sha256_of_command(const char *cmd, uint8_t out[32])
{
	char full[8192], hex[65];
	snprintf(full, sizeof full, "%s | sha256sum", cmd);
	FILE *p = popen(full, "r");
	ASSERT(p);
	ASSERT(fscanf(p, "%64s", hex) == 1);
	ASSERT(pclose(p) == 0);
	ASSERT_EQ(strlen(hex), 64);
	for (int i = 0; i < 32; i++) {
		unsigned v;
		ASSERT(sscanf(hex + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
}

/*
 * Reads path with the reader and the output of cmd with stdio, line by line,
 * and checks that they agree; then checks the digest against sha256sum of
 * cmd's output and the byte counters.  Returns the number of lines.
 */
static uint64_t compare_with_command(const char *path, const char *cmd, int no_thread,
                                     enum reader_kind want_kind)
{
	reader_opts_t o = { .no_thread = no_thread };
	reader_t *r;
	ASSERT_OK(reader_open(&r, path, -1, &o));
	ASSERT_EQ(reader_kind(r), want_kind);
	FILE *p = popen(cmd, "r");
	ASSERT(p);
	char *want = NULL;
	size_t wcap = 0;
	uint64_t n = 0, total = 0;
	const char *line;
	size_t len;
	int too_long, rc;
	while ((rc = reader_next(r, &line, &len, &too_long)) == 1) {
		ssize_t wl = getline(&want, &wcap, p);
		if (wl < 0)
			unit_fail(__FILE__, __LINE__, "%s: reader has more lines than %s", path, cmd);
		total += (uint64_t)wl;
		if (wl > 0 && want[wl - 1] == '\n')
			wl--;
		if (wl > 0 && want[wl - 1] == '\r')
			wl--;
		ASSERT(!too_long);
		if ((size_t)wl != len || memcmp(want, line, len) != 0)
			unit_fail(__FILE__, __LINE__, "%s: line %llu differs", path,
			          (unsigned long long)n + 1);
		n++;
	}
	ASSERT_OK(rc);
	ASSERT(getline(&want, &wcap, p) < 0);
	free(want);
	ASSERT(pclose(p) == 0);

	uint8_t got[32], exp[32];
	ASSERT_OK(reader_digest(r, got));
	sha256_of_command(cmd, exp);
	ASSERT_MEMEQ(got, exp, 32);
	ASSERT_EQ(reader_bytes_out(r), total);
	struct stat st;
	ASSERT(stat(path, &st) == 0);
	ASSERT_EQ(reader_bytes_in(r), st.st_size);
	ASSERT_EQ(reader_file_size(r), st.st_size);
	ASSERT_EQ(reader_next(r, &line, &len, &too_long), 0);
	reader_close(r);
	return n;
}

/* Collects every line of a file into one '|'-joined string (small files only). */
static int read_joined(const char *path, int fd, const reader_opts_t *o, char *out, size_t cap,
                       int *n_too_long)
{
	reader_t *r;
	int rc = reader_open(&r, path, fd, o);
	if (rc < 0)
		return rc;
	const char *line;
	size_t len, used = 0;
	int too_long;
	out[0] = 0;
	*n_too_long = 0;
	while ((rc = reader_next(r, &line, &len, &too_long)) == 1) {
		if (too_long) {
			ASSERT_EQ(len, 0);
			(*n_too_long)++;
			line = "<LONG>";
			len = 6;
		}
		ASSERT(used + len + 2 < cap);
		if (used)
			out[used++] = '|';
		memcpy(out + used, line, len);
		used += len;
		out[used] = 0;
	}
	reader_close(r);
	return rc;
}

TEST(reader_upstream_sample_bz2_equals_plain)
{
	const char *bz = unit_data("upstream-sample/test.log.bz2");
	const char *plain = unit_data("upstream-sample/test.log");
	char cmd[4300];
	for (int nt = 0; nt <= 1; nt++) {
		snprintf(cmd, sizeof cmd, "cat '%s'", plain);
		uint64_t a = compare_with_command(bz, cmd, nt, READER_BZIP2);
		uint64_t b = compare_with_command(plain, cmd, nt, READER_PLAIN);
		ASSERT_EQ(a, 200);
		ASSERT_EQ(b, 200);
	}
}

TEST(reader_golden_bz2_files_decode_like_bzip2)
{
	const char *files[] = {
		"synthetic-small/small.log.bz2",
		"synthetic-small/multi/fdsnws-requests.log.2024-10-30.bz2",
		"synthetic-small/multi/fdsnws-requests.log.2024-11-01.bz2",
		"hll-edges/hll-edges.log.bz2",
		"upstream-crashes/invalid-utf8.log.bz2",
	};
	char cmd[4300];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		const char *p = unit_data(files[i]);
		snprintf(cmd, sizeof cmd, "bzip2 -dc '%s'", p);
		ASSERT(compare_with_command(p, cmd, 0, READER_BZIP2) > 0);
		ASSERT(compare_with_command(p, cmd, 1, READER_BZIP2) > 0);
	}
}

TEST(reader_golden_plain_and_gzip_files)
{
	const char *plain[] = {
		"synthetic-small/multi/fdsnws-requests.log.2024-10-31",
		"edge-cases/edge.log",
		"edge-cases/quirks.log",
		"null-country/null-country.log",
		"upstream-crashes/invalid-utf8.log",
	};
	char cmd[4300];
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		const char *p = unit_data(plain[i]);
		snprintf(cmd, sizeof cmd, "cat '%s'", p);
		ASSERT(compare_with_command(p, cmd, 0, READER_PLAIN) > 0);
	}
	const char *gz = unit_data("upstream-crashes/gzip.log.gz");
	snprintf(cmd, sizeof cmd, "gzip -dc '%s'", gz);
	ASSERT(compare_with_command(gz, cmd, 0, READER_GZIP) > 0);
	ASSERT(compare_with_command(gz, cmd, 1, READER_GZIP) > 0);
}

TEST(reader_multistream_bzip2)
{
	unit_write(unit_tmp("a"), "first 1\nfirst 2\n", 16);
	unit_write(unit_tmp("b"), "second 1\nsecond 2", 17);
	run("bzip2 -c '%s' > '%s' && bzip2 -c '%s' >> '%s'", unit_tmp("a"), unit_tmp("ab.bz2"),
	    unit_tmp("b"), unit_tmp("ab.bz2"));
	char buf[256];
	int nl;
	for (int nt = 0; nt <= 1; nt++) {
		reader_opts_t o = { .no_thread = nt };
		ASSERT_OK(read_joined(unit_tmp("ab.bz2"), -1, &o, buf, sizeof buf, &nl));
		ASSERT_STREQ(buf, "first 1|first 2|second 1|second 2");
	}
	/* The stream boundary falls in the middle of a line here. */
	unit_write(unit_tmp("c"), "half", 4);
	unit_write(unit_tmp("d"), " and half\nend\n", 14);
	run("bzip2 -c '%s' > '%s' && bzip2 -c '%s' >> '%s'", unit_tmp("c"), unit_tmp("cd.bz2"),
	    unit_tmp("d"), unit_tmp("cd.bz2"));
	ASSERT_OK(read_joined(unit_tmp("cd.bz2"), -1, NULL, buf, sizeof buf, &nl));
	ASSERT_STREQ(buf, "half and half|end");
	char cmd[8300];
	snprintf(cmd, sizeof cmd, "cat '%s' '%s'", unit_tmp("a"), unit_tmp("b"));
	ASSERT_EQ(compare_with_command(unit_tmp("ab.bz2"), cmd, 0, READER_BZIP2), 4);
}

TEST(reader_multimember_gzip)
{
	unit_write(unit_tmp("a"), "one\ntwo\n", 8);
	unit_write(unit_tmp("b"), "three\n", 6);
	run("gzip -c '%s' > '%s' && gzip -c '%s' >> '%s'", unit_tmp("a"), unit_tmp("ab.gz"), unit_tmp("b"),
	    unit_tmp("ab.gz"));
	char buf[256];
	int nl;
	for (int nt = 0; nt <= 1; nt++) {
		reader_opts_t o = { .no_thread = nt };
		ASSERT_OK(read_joined(unit_tmp("ab.gz"), -1, &o, buf, sizeof buf, &nl));
		ASSERT_STREQ(buf, "one|two|three");
	}
	char cmd[8300];
	snprintf(cmd, sizeof cmd, "gzip -dc '%s'", unit_tmp("ab.gz"));
	ASSERT_EQ(compare_with_command(unit_tmp("ab.gz"), cmd, 0, READER_GZIP), 3);
}

TEST(reader_crlf_and_missing_final_newline)
{
	const char text[] = "a\r\nb\r\n\r\nmid\rdle\n\nlast";
	unit_write(unit_tmp("crlf"), text, sizeof text - 1);
	run("bzip2 -k '%s'", unit_tmp("crlf"));
	run("gzip -k '%s'", unit_tmp("crlf"));
	const char *names[] = { "crlf", "crlf.bz2", "crlf.gz" };
	for (int i = 0; i < 3; i++) {
		char buf[256];
		int nl;
		ASSERT_OK(read_joined(unit_tmp(names[i]), -1, NULL, buf, sizeof buf, &nl));
		/* Only a '\r' right before '\n' goes; a lone one stays in the line. */
		ASSERT_STREQ(buf, "a|b||mid\rdle||last");
	}
	/* A final line ending in "\r" without "\n" loses its "\r" too. */
	unit_write(unit_tmp("cr-end"), "x\ny\r", 4);
	char buf[64];
	int nl;
	ASSERT_OK(read_joined(unit_tmp("cr-end"), -1, NULL, buf, sizeof buf, &nl));
	ASSERT_STREQ(buf, "x|y");
	/* A file of one newline is one empty line. */
	unit_write(unit_tmp("nl"), "\n", 1);
	reader_t *r;
	const char *line;
	size_t len;
	int tl;
	ASSERT_OK(reader_open(&r, unit_tmp("nl"), -1, NULL));
	ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
	ASSERT_EQ(len, 0);
	ASSERT_EQ(reader_next(r, &line, &len, &tl), 0);
	reader_close(r);
}

TEST(reader_empty_file)
{
	const char *e = unit_data("upstream-crashes/empty.log");
	for (int nt = 0; nt <= 1; nt++) {
		reader_opts_t o = { .no_thread = nt };
		reader_t *r;
		const char *line;
		size_t len;
		int tl;
		uint8_t got[32], exp[32];
		ASSERT_OK(reader_open(&r, e, -1, &o));
		ASSERT_EQ(reader_kind(r), READER_PLAIN);
		ASSERT_ERR(reader_digest(r, got), -EINVAL);
		ASSERT_EQ(reader_next(r, &line, &len, &tl), 0);
		ASSERT_EQ(reader_next(r, &line, &len, &tl), 0);
		ASSERT_OK(reader_digest(r, got));
		sha256_of_command("printf ''", exp);
		ASSERT_MEMEQ(got, exp, 32);
		ASSERT_EQ(reader_bytes_out(r), 0);
		reader_close(r);
	}
	/* An empty compressed stream is not an empty file: it decodes to nothing. */
	run("printf '' | bzip2 -c > '%s'", unit_tmp("empty.bz2"));
	char buf[16];
	int nl;
	ASSERT_OK(read_joined(unit_tmp("empty.bz2"), -1, NULL, buf, sizeof buf, &nl));
	ASSERT_STREQ(buf, "");
}

/* Checks the line limit on one file, compressed or not, threaded or not. */
static void check_line_limit(const char *path, size_t max_line, int no_thread, const char *want,
                             int want_long)
{
	reader_opts_t o = { .max_line = max_line, .no_thread = no_thread };
	static char buf[1 << 16];
	int nl;
	ASSERT_OK(read_joined(path, -1, &o, buf, sizeof buf, &nl));
	ASSERT_STREQ(buf, want);
	ASSERT_EQ(nl, want_long);
}

TEST(reader_line_limit)
{
	/* Limits of 10 bytes: a 10-byte line passes, 11 does not, a line that
	 * straddles the 1 MiB blocks is reported once, and reading goes on. */
	size_t big = (3u << 20) + 12345;
	char *data = malloc(big + 200);
	ASSERT(data);
	size_t n = 0;
	n += (size_t)sprintf(data + n, "short\n0123456789\n01234567890\n");
	memset(data + n, 'x', big);
	n += big;
	n += (size_t)sprintf(data + n, "\nafter\n");
	memset(data + n, 'y', 40);
	n += 40;
	unit_write(unit_tmp("long"), data, n);
	free(data);
	run("bzip2 -k -1 '%s' && gzip -k -1 '%s'", unit_tmp("long"), unit_tmp("long"));
	const char *want = "short|0123456789|<LONG>|<LONG>|after|<LONG>";
	for (int nt = 0; nt <= 1; nt++) {
		check_line_limit(unit_tmp("long"), 10, nt, want, 3);
		check_line_limit(unit_tmp("long.bz2"), 10, nt, want, 3);
		check_line_limit(unit_tmp("long.gz"), 10, nt, want, 3);
	}
	/* With the default limit the long line is one line of its full length. */
	reader_t *r;
	const char *line;
	size_t len;
	int tl;
	ASSERT_OK(reader_open(&r, unit_tmp("long.bz2"), -1, NULL));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
	ASSERT_EQ(len, big);
	ASSERT(!tl);
	ASSERT(line[0] == 'x' && line[big - 1] == 'x');
	reader_close(r);
	/* A limit of 2 MiB: the 3 MiB line is too long, found across blocks. */
	ASSERT_OK(reader_open(&r, unit_tmp("long.gz"), -1, &(reader_opts_t){ .max_line = 2u << 20 }));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
	ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
	ASSERT(tl);
	ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
	ASSERT(!tl);
	ASSERT_EQ(len, 5);
	ASSERT_MEMEQ(line, "after", 5);
	reader_close(r);
}

TEST(reader_truncated_bzip2)
{
	const char *t = unit_data("upstream-crashes/truncated.log.bz2");
	for (int nt = 0; nt <= 1; nt++) {
		reader_opts_t o = { .no_thread = nt };
		reader_t *r;
		const char *line;
		size_t len;
		int tl, rc;
		uint8_t d[32];
		ASSERT_OK(reader_open(&r, t, -1, &o));
		ASSERT_EQ(reader_kind(r), READER_BZIP2);
		while ((rc = reader_next(r, &line, &len, &tl)) == 1)
			;
		ASSERT_ERR(rc, ES_ETRUNC);
		/* The error sticks. */
		ASSERT_ERR(reader_next(r, &line, &len, &tl), ES_ETRUNC);
		ASSERT_ERR(reader_digest(r, d), -EINVAL);
		reader_close(r);
	}
	ASSERT_ERR(reader_check_complete(t), ES_ETRUNC);
}

static void cut_file(const char *from, const char *to, double fraction)
{
	struct stat st;
	ASSERT(stat(from, &st) == 0);
	run("head -c %lld '%s' > '%s'", (long long)(st.st_size * fraction), from, to);
}

TEST(reader_truncated_made_here)
{
	const char *src = unit_data("synthetic-small/small.log.bz2");
	cut_file(src, unit_tmp("half.bz2"), 0.5);
	run("bzip2 -dc '%s' | gzip -c > '%s'", src, unit_tmp("full.gz"));
	cut_file(unit_tmp("full.gz"), unit_tmp("half.gz"), 0.5);
	/* A gzip member missing part of its 8-byte trailer is truncated too. */
	struct stat st;
	ASSERT(stat(unit_tmp("full.gz"), &st) == 0);
	run("head -c %lld '%s' > '%s'", (long long)st.st_size - 4, unit_tmp("full.gz"), unit_tmp("notrailer.gz"));
	const char *names[] = { "half.bz2", "half.gz", "notrailer.gz" };
	for (int i = 0; i < 3; i++) {
		reader_t *r;
		const char *line;
		size_t len;
		int tl, rc;
		ASSERT_OK(reader_open(&r, unit_tmp(names[i]), -1, NULL));
		uint64_t n = 0;
		while ((rc = reader_next(r, &line, &len, &tl)) == 1)
			n++;
		ASSERT_ERR(rc, ES_ETRUNC);
		ASSERT(n > 0);
		reader_close(r);
		ASSERT_ERR(reader_check_complete(unit_tmp(names[i])), ES_ETRUNC);
	}
	ASSERT_OK(reader_check_complete(src));
	ASSERT_OK(reader_check_complete(unit_tmp("full.gz")));
	ASSERT_OK(reader_check_complete(unit_data("upstream-sample/test.log")));
}

TEST(reader_text_starting_with_BZh)
{
	const char *p = unit_data("upstream-crashes/starts-with-BZh.log");
	for (int nt = 0; nt <= 1; nt++) {
		reader_opts_t o = { .no_thread = nt };
		char buf[4096];
		int nl;
		ASSERT_ERR(read_joined(p, -1, &o, buf, sizeof buf, &nl), ES_ECORRUPT);
	}
	ASSERT_ERR(reader_check_complete(p), ES_ECORRUPT);
	/* A file of just the three magic bytes ends before any stream data. */
	unit_write(unit_tmp("bzh"), "BZh", 3);
	char buf[16];
	int nl;
	int rc = read_joined(unit_tmp("bzh"), -1, NULL, buf, sizeof buf, &nl);
	ASSERT(rc == ES_ETRUNC || rc == ES_ECORRUPT);
}

/* Copies src to dst with one byte at offset inverted. */
static void corrupt_copy(const char *src, const char *dst, double where)
{
	FILE *f = fopen(src, "rb");
	ASSERT(f);
	static unsigned char buf[1 << 22];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	ASSERT(n > 0 && n < sizeof buf);
	buf[(size_t)(n * where)] ^= 0xff;
	unit_write(dst, buf, n);
}

TEST(reader_corrupt_byte_in_the_middle)
{
	corrupt_copy(unit_data("synthetic-small/small.log.bz2"), unit_tmp("bad.bz2"), 0.5);
	run("bzip2 -dc '%s' | gzip -c > '%s'", unit_data("synthetic-small/small.log.bz2"),
	    unit_tmp("good.gz"));
	corrupt_copy(unit_tmp("good.gz"), unit_tmp("bad.gz"), 0.5);
	const char *names[] = { "bad.bz2", "bad.gz" };
	for (int i = 0; i < 2; i++) {
		for (int nt = 0; nt <= 1; nt++) {
			reader_opts_t o = { .no_thread = nt };
			reader_t *r;
			const char *line;
			size_t len;
			int tl, rc;
			ASSERT_OK(reader_open(&r, unit_tmp(names[i]), -1, &o));
			while ((rc = reader_next(r, &line, &len, &tl)) == 1)
				;
			ASSERT_ERR(rc, ES_ECORRUPT);
			ASSERT_ERR(reader_next(r, &line, &len, &tl), ES_ECORRUPT);
			reader_close(r);
		}
		ASSERT_ERR(reader_check_complete(unit_tmp(names[i])), ES_ECORRUPT);
	}
}

TEST(reader_trailing_garbage_after_stream)
{
	run("printf 'line\\n' | bzip2 -c > '%s' && printf 'garbage\\n' >> '%s'", unit_tmp("g.bz2"),
	    unit_tmp("g.bz2"));
	run("printf 'line\\n' | gzip -c > '%s' && printf 'garbage\\n' >> '%s'", unit_tmp("g.gz"),
	    unit_tmp("g.gz"));
	char buf[64];
	int nl;
	ASSERT_ERR(read_joined(unit_tmp("g.bz2"), -1, NULL, buf, sizeof buf, &nl), ES_ECORRUPT);
	ASSERT_ERR(read_joined(unit_tmp("g.gz"), -1, NULL, buf, sizeof buf, &nl), ES_ECORRUPT);
	ASSERT_ERR(reader_check_complete(unit_tmp("g.bz2")), ES_ECORRUPT);
	ASSERT_ERR(reader_check_complete(unit_tmp("g.gz")), ES_ECORRUPT);
}

TEST(reader_missing_file_and_directory)
{
	reader_t *r = (reader_t *)1;
	ASSERT_ERR(reader_open(&r, unit_tmp("does-not-exist"), -1, NULL), -ENOENT);
	ASSERT(r == NULL);
	ASSERT_ERR(reader_open(&r, unit_tmpdir(), -1, NULL), -EISDIR);
	ASSERT_ERR(reader_check_complete(unit_tmp("does-not-exist")), -ENOENT);
	ASSERT_ERR(reader_check_complete(unit_tmpdir()), -EISDIR);
	/* An adopted fd that is a directory is refused and closed. */
	int fd = open(unit_tmpdir(), O_RDONLY);
	ASSERT(fd >= 0);
	ASSERT_ERR(reader_open(&r, "dir", fd, NULL), -EISDIR);
	ASSERT(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	/* An unreadable file (write-only fd) gives the read error. */
	unit_write(unit_tmp("wo"), "x\n", 2);
	fd = open(unit_tmp("wo"), O_WRONLY);
	ASSERT(fd >= 0);
	ASSERT_ERR(reader_open(&r, "wo", fd, NULL), -EBADF);
}

/* Starts a child that writes path into a pipe in small pieces; returns the read end. */
static int pipe_from_file(const char *path, pid_t *child, int then_sleep)
{
	int p[2];
	ASSERT(pipe(p) == 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		int fd = open(path, O_RDONLY);
		char buf[4000];
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
			if (write(p[1], buf, (size_t)n) != n)
				_exit(1);
		if (then_sleep)
			sleep(100);
		_exit(0);
	}
	close(p[1]);
	*child = pid;
	return p[0];
}

TEST(reader_from_pipe)
{
	const char *files[] = { "upstream-sample/test.log.bz2", "upstream-sample/test.log",
	                        "upstream-crashes/gzip.log.gz" };
	const enum reader_kind kinds[] = { READER_BZIP2, READER_PLAIN, READER_GZIP };
	for (int i = 0; i < 3; i++) {
		for (int nt = 0; nt <= 1; nt++) {
			reader_opts_t o = { .no_thread = nt };
			pid_t child;
			int fd = pipe_from_file(unit_data(files[i]), &child, 0);
			reader_t *a, *b;
			ASSERT_OK(reader_open(&a, "pipe", fd, &o));
			ASSERT_OK(reader_open(&b, unit_data(files[i]), -1, &o));
			ASSERT_EQ(reader_kind(a), kinds[i]);
			ASSERT_EQ(reader_file_size(a), 0);
			const char *la, *lb;
			size_t na, nb;
			int ta, tb, ra, rb;
			uint64_t n = 0;
			do {
				ra = reader_next(a, &la, &na, &ta);
				rb = reader_next(b, &lb, &nb, &tb);
				ASSERT_EQ(ra, rb);
				if (ra == 1) {
					ASSERT_EQ(na, nb);
					ASSERT_MEMEQ(la, lb, na);
					n++;
				}
			} while (ra == 1);
			ASSERT_OK(ra);
			ASSERT(n > 0);
			uint8_t da[32], db[32];
			ASSERT_OK(reader_digest(a, da));
			ASSERT_OK(reader_digest(b, db));
			ASSERT_MEMEQ(da, db, 32);
			ASSERT_EQ(reader_bytes_in(a), reader_bytes_in(b));
			reader_close(a);
			reader_close(b);
			int st;
			ASSERT(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
	}
}

/* A repetitive log of about mib MiB, compressed with bzip2 -1. */
static const char *make_big_bz2(int mib)
{
	const char *plain = unit_tmp("big.log");
	FILE *f = fopen(plain, "w");
	ASSERT(f);
	for (long i = 0; ftell(f) < (long)mib << 20; i++)
		fprintf(f, "{\"line\": %ld, \"filler\": \"%0*ld\"}\n", i, (int)(i % 200), i);
	fclose(f);
	run("bzip2 -1 -k '%s'", plain);
	return unit_tmp("big.log.bz2");
}

TEST(reader_close_at_any_point)
{
	const char *big = make_big_bz2(24);
	reader_t *r;
	const char *line;
	size_t len;
	int tl;
	/* Right after open, after a few lines, after some blocks. */
	for (int stop_after = 0; stop_after <= 300000; stop_after = stop_after * 10 + 3) {
		ASSERT_OK(reader_open(&r, big, -1, NULL));
		for (int i = 0; i < stop_after; i++)
			ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
		reader_close(r);
	}
	/* Closing while the thread is blocked on a pipe that never ends must not hang. */
	pid_t child;
	int fd = pipe_from_file(unit_data("upstream-sample/test.log.bz2"), &child, 1);
	ASSERT_OK(reader_open(&r, "pipe", fd, NULL));
	for (int i = 0; i < 150; i++)
		ASSERT_EQ(reader_next(r, &line, &len, &tl), 1);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	reader_close(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(t1.tv_sec - t0.tv_sec < 5);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Reading the big file to the end still works and agrees with bzip2. */
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "bzip2 -dc '%s'", big);
	ASSERT(compare_with_command(big, cmd, 0, READER_BZIP2) > 100000);
}

TEST(reader_kind_names)
{
	ASSERT_STREQ(reader_kind_name(READER_PLAIN), "plain");
	ASSERT_STREQ(reader_kind_name(READER_BZIP2), "bzip2");
	ASSERT_STREQ(reader_kind_name(READER_GZIP), "gzip");
	ASSERT_STREQ(reader_kind_name((enum reader_kind)7), "unknown");
}

/* ---- Parallel bzip2 decoding against the sequential path ---- */

/* What one read of a file gives: a hash of its lines, counts, the final code and the digest. */
struct read_result {
	uint64_t lines, line_hash, bytes_in, bytes_out;
	int rc;
	uint8_t digest[32];
};

static struct read_result read_all(const char *path, unsigned threads, int no_thread)
{
	reader_opts_t o = { .no_thread = no_thread, .threads = threads, .par_min_size = 1 };
	struct read_result res;
	memset(&res, 0, sizeof res);
	reader_t *r;
	ASSERT_OK(reader_open(&r, path, -1, &o));
	const char *line;
	size_t len;
	int tl;
	uint64_t h = 1469598103934665603ULL;
	while ((res.rc = reader_next(r, &line, &len, &tl)) == 1) {
		for (size_t i = 0; i < len; i++)
			h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
		h = (h ^ (uint64_t)(len + 256 * (unsigned)tl)) * 1099511628211ULL;
		res.lines++;
	}
	res.line_hash = h;
	res.bytes_in = reader_bytes_in(r);
	res.bytes_out = reader_bytes_out(r);
	if (res.rc == 0)
		ASSERT_OK(reader_digest(r, res.digest));
	reader_close(r);
	return res;
}

/* Reads path sequentially and in parallel (2 workers with the reader thread, then
 * 5 without, unless quick) and checks that lines, counters, digest and the final
 * code agree. */
static struct read_result par_equals_seq_n(const char *path, int quick)
{
	struct read_result seq = read_all(path, 1, 0);
	unsigned threads[] = { 2, 5 };
	for (int t = 0; t < (quick ? 1 : 2); t++) {
		{
			int nt = t;
			struct read_result par = read_all(path, threads[t], nt);
			if (par.lines != seq.lines || par.line_hash != seq.line_hash || par.rc != seq.rc)
				unit_fail(__FILE__, __LINE__, "%s: %u threads: %llu lines rc %d, sequential "
				          "%llu lines rc %d", path, threads[t], (unsigned long long)par.lines,
				          par.rc, (unsigned long long)seq.lines, seq.rc);
			/* After an error the compressed-byte counter (progress only) may differ. */
			if (seq.rc == 0)
				ASSERT_EQ(par.bytes_in, seq.bytes_in);
			ASSERT_EQ(par.bytes_out, seq.bytes_out);
			ASSERT_MEMEQ(par.digest, seq.digest, 32);
		}
	}
	return seq;
}

static struct read_result par_equals_seq(const char *path)
{
	return par_equals_seq_n(path, 0);
}

/*
 * Writes lines of pseudo-random text drawn from alphabet and compresses them
 * with bzip2 -1 (100 kB blocks, so many blocks).
 */
static void make_text_bz2(const char *name, const char *alphabet, size_t bytes, unsigned seed)
{
	char *t = malloc(bytes);
	ASSERT(t);
	size_t na = strlen(alphabet);
	uint32_t x = seed;
	for (size_t i = 0; i < bytes; i++) {
		x = x * 1103515245u + 12345u;
		t[i] = (x >> 16) % 61 == 0 ? '\n' : alphabet[(x >> 16) % na];
	}
	t[bytes - 1] = '\n';
	unit_write(unit_tmp("plain-src"), t, bytes);
	free(t);
	run("bzip2 -1 -c '%s' > '%s'", unit_tmp("plain-src"), unit_tmp(name));
}

/* Number of block magics of a bzip2 file at any bit offset. */
static unsigned count_magics(const char *path)
{
	size_t n;
	unsigned char *b = (unsigned char *)unit_slurp(path, &n);
	uint64_t w = 0;
	unsigned count = 0;
	for (size_t i = 0; i < n; i++) {
		w = w << 8 | b[i];
		for (int s = 0; s < 8; s++)
			if (i >= 6 && ((w >> s) & 0xFFFFFFFFFFFFULL) == 0x314159265359ULL)
				count++;
	}
	free(b);
	return count;
}

TEST(reader_parallel_golden_files_equal_sequential)
{
	const char *files[] = {
		"synthetic-small/multi/fdsnws-requests.log.2024-10-30.bz2",
		"hll-edges/hll-edges.log.bz2",
		"upstream-crashes/invalid-utf8.log.bz2",
		"upstream-crashes/truncated.log.bz2",
		"upstream-sample/test.log.bz2",
	};
	/* The first file is the largest: one parallel read of it. */
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		par_equals_seq_n(unit_data(files[i]), i == 0);
}

TEST(reader_parallel_many_blocks_and_streams)
{
	make_text_bz2("many.bz2", "abcdefghij {}\":,0123456789", 1u << 20, 7);
	ASSERT(count_magics(unit_tmp("many.bz2")) >= 8);
	struct read_result r = par_equals_seq(unit_tmp("many.bz2"));
	ASSERT_OK(r.rc);
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "cat '%s'", unit_tmp("plain-src"));
	ASSERT(compare_with_command(unit_tmp("many.bz2"), cmd, 0, READER_BZIP2) > 1000);
	/* Three streams, the middle one empty (bzip2 of nothing): the odd one goes sequential. */
	run("cat '%s' > '%s' && printf '' | bzip2 -c >> '%s' && cat '%s' >> '%s'",
	    unit_tmp("many.bz2"), unit_tmp("multi.bz2"), unit_tmp("multi.bz2"),
	    unit_tmp("many.bz2"), unit_tmp("multi.bz2"));
	r = par_equals_seq(unit_tmp("multi.bz2"));
	ASSERT_OK(r.rc);
	run("cat '%s' '%s' > '%s'", unit_tmp("many.bz2"), unit_tmp("many.bz2"), unit_tmp("two.bz2"));
	struct read_result two = par_equals_seq(unit_tmp("two.bz2"));
	ASSERT_OK(two.rc);
	ASSERT_EQ(two.bytes_out, 2 * (1u << 20));
}

TEST(reader_parallel_truncated_corrupt_and_garbage)
{
	make_text_bz2("src.bz2", "klmnopqrstuvwxyz ,.", 1u << 20, 11);
	const char *src = unit_tmp("src.bz2");
	double cuts[] = { 0.3, 0.77, 0.999 };
	for (int i = 0; i < 3; i++) {
		cut_file(src, unit_tmp("cut.bz2"), cuts[i]);
		struct read_result r = par_equals_seq(unit_tmp("cut.bz2"));
		ASSERT_ERR(r.rc, ES_ETRUNC);
		ASSERT(r.lines > 0);
	}
	/* One inverted byte inside a block, in the first, a middle and the last block. */
	double where[] = { 0.01, 0.5, 0.98 };
	for (int i = 0; i < 3; i++) {
		corrupt_copy(src, unit_tmp("bad.bz2"), where[i]);
		struct read_result r = par_equals_seq(unit_tmp("bad.bz2"));
		ASSERT_ERR(r.rc, ES_ECORRUPT);
	}
	/* A wrong combined CRC: the last 4 bytes hold it and the padding. */
	size_t n;
	char *b = unit_slurp(src, &n);
	b[n - 2] ^= 0x10;
	unit_write(unit_tmp("crc.bz2"), b, n);
	ASSERT_ERR(par_equals_seq(unit_tmp("crc.bz2")).rc, ES_ECORRUPT);
	/* Bytes after the last stream that do not start another one. */
	b[n - 2] ^= 0x10;
	unit_write(unit_tmp("junk.bz2"), b, n);
	run("printf 'BZh9 no stream\\n' >> '%s'", unit_tmp("junk.bz2"));
	ASSERT_ERR(par_equals_seq(unit_tmp("junk.bz2")).rc, ES_ECORRUPT);
	free(b);
}

/*
 * A block magic inside valid compressed data: a block's symbol map lists the
 * byte values it uses, 16 bits per group of 16 values.  Text made of exactly
 * these bytes of the groups 0x20, 0x30 and 0x40 writes the map words 0x3141,
 * 0x5926, 0x5359 one after the other: the 48-bit block magic, in every block.
 */
TEST(reader_parallel_false_magic_in_valid_data)
{
	make_text_bz2("false.bz2", "\"#')/1347:=>ACFGIKLO", 1u << 20, 5);
	unsigned blocks = count_magics(unit_tmp("false.bz2"));
	/* bzip2 -1 makes 100 kB blocks: 1 MiB of text needs at least 10; each has a false magic. */
	ASSERT(blocks >= 20);
	struct read_result r = par_equals_seq(unit_tmp("false.bz2"));
	ASSERT_OK(r.rc);
	ASSERT_EQ(r.bytes_out, 1u << 20);
}

TEST(reader_parallel_small_file_and_close_early)
{
	unit_write(unit_tmp("s"), "one\ntwo\n", 8);
	run("bzip2 -c '%s' > '%s'", unit_tmp("s"), unit_tmp("s.bz2"));
	struct read_result r = par_equals_seq(unit_tmp("s.bz2"));
	ASSERT_EQ(r.lines, 2);
	/* The default threshold keeps a small file on the sequential path. */
	reader_opts_t o = { .threads = 4 };
	char buf[64];
	int nl;
	ASSERT_OK(read_joined(unit_tmp("s.bz2"), -1, &o, buf, sizeof buf, &nl));
	ASSERT_STREQ(buf, "one|two");
	/* Closing mid-file stops the workers. */
	make_text_bz2("big.bz2", "abcdefgh ", 1u << 20, 3);
	for (int k = 0; k < 5; k++) {
		reader_opts_t po = { .threads = 3, .par_min_size = 1 };
		reader_t *rd;
		ASSERT_OK(reader_open(&rd, unit_tmp("big.bz2"), -1, &po));
		const char *line;
		size_t len;
		int tl;
		for (int i = 0; i < k * 2000; i++)
			ASSERT_EQ(reader_next(rd, &line, &len, &tl), 1);
		reader_close(rd);
	}
}

/* no_digest: the same lines and counters, plain and bzip2 (parallel blocks
 * included), and reader_digest() says there is none. */
TEST(reader_no_digest)
{
	make_text_bz2("nodigest.bz2", "abcdefghij {}\":,0123456789", 1u << 19, 5);
	const char *files[] = { unit_tmp("nodigest.bz2"), unit_tmp("plain-src") };
	for (int f = 0; f < 2; f++) {
		for (unsigned threads = 1; threads <= 2; threads++) {
			struct read_result want = read_all(files[f], threads, 0);
			ASSERT_OK(want.rc);
			reader_opts_t o = { .threads = threads, .par_min_size = 1, .no_digest = 1 };
			reader_t *r;
			ASSERT_OK(reader_open(&r, files[f], -1, &o));
			const char *line;
			size_t len;
			int tl, rc;
			uint64_t h = 1469598103934665603ULL, n = 0;
			while ((rc = reader_next(r, &line, &len, &tl)) == 1) {
				for (size_t i = 0; i < len; i++)
					h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
				h = (h ^ (uint64_t)(len + 256 * (unsigned)tl)) * 1099511628211ULL;
				n++;
			}
			ASSERT_OK(rc);
			ASSERT_EQ(n, want.lines);
			ASSERT_EQ(h, want.line_hash);
			ASSERT_EQ(reader_bytes_out(r), want.bytes_out);
			ASSERT_EQ(reader_bytes_in(r), want.bytes_in);
			uint8_t d[32];
			ASSERT_ERR(reader_digest(r, d), -EINVAL);
			reader_close(r);
		}
	}
}

/* ---- The block-magic search of the parallel decoder ---- */

#define T_BLOCK_MAGIC 0x314159265359ULL
#define T_EOS_MAGIC 0x177245385090ULL

/* Writes the 48 bits of m at bit a of b (most significant bit first). */
static void put48(unsigned char *b, uint64_t a, uint64_t m)
{
	for (unsigned k = 0; k < 48; k++) {
		uint64_t bit = a + k;
		unsigned char mask = (unsigned char)(0x80 >> (bit & 7));
		if ((m >> (47 - k)) & 1)
			b[bit / 8] |= mask;
		else
			b[bit / 8] &= (unsigned char)~mask;
	}
}

/* The obvious search, bit by bit: the reference for the fast one. */
static int naive_find(const unsigned char *b, size_t len, uint64_t from, uint64_t *at, int *eos)
{
	for (uint64_t a = from; a + 48 <= (uint64_t)len * 8; a++) {
		uint64_t m = 0;
		for (unsigned k = 0; k < 48; k++)
			m = m << 1 | ((b[(a + k) / 8] >> (7 - (a + k) % 8)) & 1);
		if (m == T_BLOCK_MAGIC || m == T_EOS_MAGIC) {
			*at = a;
			*eos = m == T_EOS_MAGIC;
			return 1;
		}
	}
	return 0;
}

/* Pseudo-random bytes with no magic at any bit offset. */
static void fill_random(unsigned char *b, size_t n, uint32_t seed)
{
	for (;;) {
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			b[i] = (unsigned char)(seed >> 16);
		}
		uint64_t at;
		int eos;
		if (!naive_find(b, n, 0, &at, &eos))
			return;
	}
}

/* Both magics at each of the 8 bit offsets, at the start, in the middle and
 * at the very end of the buffer: found exactly where they are, and only from
 * a bit at or before their start. */
TEST(reader_bz_find_magic_every_bit_offset)
{
	unsigned char b[64];
	uint64_t magics[] = { T_BLOCK_MAGIC, T_EOS_MAGIC };
	for (int k = 0; k < 2; k++) {
		for (uint64_t a = 0; a + 48 <= sizeof b * 8; a++) {
			fill_random(b, sizeof b, 99);
			put48(b, a, magics[k]);
			uint64_t at = 12345, nat;
			int eos = -1, neos;
			ASSERT_EQ(naive_find(b, sizeof b, 0, &nat, &neos), 1);
			/* The planted magic is the first (random bytes around it may
			 * complete another one further on only by chance). */
			ASSERT_EQ(nat, a);
			ASSERT_EQ(reader_bz_find_magic(b, sizeof b, 0, &at, &eos), 1);
			ASSERT_EQ(at, a);
			ASSERT_EQ(eos, k);
			ASSERT_EQ(reader_bz_find_magic(b, sizeof b, a, &at, &eos), 1);
			ASSERT_EQ(at, a);
			/* From the next bit on, it is not found again. */
			int got = reader_bz_find_magic(b, sizeof b, a + 1, &at, &eos);
			int want = naive_find(b, sizeof b, a + 1, &nat, &neos);
			ASSERT_EQ(got, want);
			if (got)
				ASSERT_EQ(at, nat);
			/* Cut one byte before its end: not there yet. */
			size_t cut = (size_t)((a + 48 + 7) / 8) - 1;
			ASSERT_EQ(reader_bz_find_magic(b, cut, 0, &at, &eos), 0);
			ASSERT(at <= a);
		}
	}
}

/* Each single flipped bit of either magic, at each offset, is not a magic;
 * neither is a pattern whose first bytes pass the byte prefilter. */
TEST(reader_bz_find_magic_rejects_near_misses)
{
	unsigned char b[32];
	uint64_t magics[] = { T_BLOCK_MAGIC, T_EOS_MAGIC };
	for (int k = 0; k < 2; k++)
		for (unsigned sh = 0; sh < 8; sh++)
			for (unsigned flip = 0; flip < 48; flip++) {
				fill_random(b, sizeof b, 7);
				uint64_t m = magics[k] ^ (1ULL << flip);
				put48(b, 64 + sh, m);
				uint64_t at, nat;
				int eos, neos;
				int want = naive_find(b, sizeof b, 0, &nat, &neos);
				ASSERT_EQ(reader_bz_find_magic(b, sizeof b, 0, &at, &eos), want);
				if (want)
					ASSERT(nat != 64 + sh);
			}
	/* Bytes 1..4 after the start byte right, byte 5 wrong, at every shift. */
	for (int k = 0; k < 2; k++)
		for (unsigned sh = 0; sh < 8; sh++) {
			fill_random(b, sizeof b, 3);
			put48(b, 8 * 4 + sh, magics[k] ^ 0xFFULL);
			uint64_t at;
			int eos;
			ASSERT_EQ(reader_bz_find_magic(b, sizeof b, 0, &at, &eos), 0);
		}
}

/*
 * The scanner's use: bytes are appended in pieces and the search resumes at
 * the bit it was told.  Every magic of a long buffer is found once, in order,
 * whatever the piece boundaries (each magic straddles some of them), as the
 * bit-by-bit search finds them.
 */
TEST(reader_bz_find_magic_in_pieces)
{
	size_t n = 1 << 14;
	unsigned char *b = malloc(n);
	ASSERT(b);
	fill_random(b, n, 5);
	uint32_t x = 17;
	/* Magics about every 100 bytes, at random bit offsets, sometimes close together. */
	for (uint64_t a = 3; a + 48 <= n * 8; ) {
		x = x * 1103515245u + 12345u;
		put48(b, a, (x >> 20) & 1 ? T_EOS_MAGIC : T_BLOCK_MAGIC);
		a += 48 + (x >> 16) % 1600;
	}
	size_t pieces[] = { 1, 5, 6, 7, 13, 256, 4093 };
	for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
		uint64_t ref_from = 0, from = 0, at, nat;
		int eos, neos;
		size_t len = 0;
		unsigned found = 0;
		while (len < n) {
			len = len + pieces[p] < n ? len + pieces[p] : n;
			while (reader_bz_find_magic(b, len, from, &at, &eos)) {
				ASSERT_EQ(naive_find(b, n, ref_from, &nat, &neos), 1);
				ASSERT_EQ(at, nat);
				ASSERT_EQ(eos, neos);
				/* It ends inside what was appended. */
				ASSERT(at + 48 <= (uint64_t)len * 8);
				from = ref_from = at + 1;
				found++;
			}
			/* Not found: at is where to resume. */
			ASSERT(at >= from);
			from = at;
		}
		ASSERT_EQ(naive_find(b, n, ref_from, &nat, &neos), 0);
		ASSERT(found > 100);
	}
	free(b);
}
