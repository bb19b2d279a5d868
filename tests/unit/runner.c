/*
 * runner.c - runs the unit test registry, each test in its own process.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "unit.h"

#define UNIT_MAX 1024
/* A test that hangs is killed after this many seconds of wall time (or
 * $ES_UNIT_TIMEOUT).  Generous on purpose: a loaded machine (make -j on two
 * cores beside other builds) slows a decoding test by more than 10x, and the
 * limit exists to end hangs, not to judge speed. */
#define UNIT_TIMEOUT_S 900

struct unit_test { const char *name; unit_fn fn; };

/* The registry is filled by constructors before main() and only read afterwards. */
static struct unit_test unit_tests[UNIT_MAX];
static int unit_count;
static char unit_tmp_dir[4096];

void unit_register(const char *name, unit_fn fn)
{
	if (unit_count == UNIT_MAX) {
		fprintf(stderr, "too many unit tests (limit %d)\n", UNIT_MAX);
		abort();
	}
	unit_tests[unit_count].name = name;
	unit_tests[unit_count].fn = fn;
	unit_count++;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stdout, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	_exit(1);
}

const char *unit_data(const char *rel)
{
	static char bufs[8][4096];
	static int slot;
	const char *dir = getenv("ES_TESTDATA");
	char *b = bufs[slot++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", dir ? dir : "tests/data", rel);
	return b;
}

const char *unit_tmpdir(void)
{
	return unit_tmp_dir;
}

const char *unit_tmp(const char *name)
{
	static char bufs[8][4096];
	static int slot;
	char *b = bufs[slot++ % 8];
	if (snprintf(b, sizeof bufs[0], "%s/%s", unit_tmp_dir, name) >= (int)sizeof bufs[0])
		unit_fail(__FILE__, __LINE__, "temporary path for %s too long", name);
	return b;
}

void unit_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		unit_fail(__FILE__, __LINE__, "fopen %s: %s", path, strerror(errno));
	if (len && fwrite(data, 1, len, f) != len)
		unit_fail(__FILE__, __LINE__, "writing %s failed", path);
	if (fclose(f) != 0)
		unit_fail(__FILE__, __LINE__, "closing %s: %s", path, strerror(errno));
}

char *unit_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, got;
	char *buf;

	if (!f)
		unit_fail(__FILE__, __LINE__, "fopen %s: %s", path, strerror(errno));
	buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0) {
		n += got;
		if (n == cap - 1)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf || ferror(f))
		unit_fail(__FILE__, __LINE__, "reading %s failed", path);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

struct cJSON *unit_json(const char *path)
{
	size_t n;
	char *text = unit_slurp(path, &n);
	cJSON *j = cJSON_ParseWithLength(text, n);

	free(text);
	if (!j)
		unit_fail(__FILE__, __LINE__, "%s is not JSON", path);
	return j;
}

static int unit_cmp(const void *a, const void *b)
{
	return strcmp(((const struct unit_test *)a)->name, ((const struct unit_test *)b)->name);
}

static int unit_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	if (remove(path) != 0)
		printf("# could not remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Removes the tree below dir (and dir), depth first, without a shell; a
 * failure is reported but the walk goes on. */
static int unit_rm_tree(const char *dir)
{
	return nftw(dir, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int unit_run_one(const struct unit_test *t)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(unit_tmp_dir, sizeof unit_tmp_dir, "%s/es-unit-%s-XXXXXX", base, t->name);
	if (!mkdtemp(unit_tmp_dir)) {
		printf("# mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("# fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		const char *lim = getenv("ES_UNIT_TIMEOUT");
		long secs = lim ? strtol(lim, NULL, 10) : 0;
		alarm(secs > 0 ? (unsigned)secs : UNIT_TIMEOUT_S);
		t->fn();
		fflush(stdout);
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (unit_rm_tree(unit_tmp_dir) != 0)
		printf("# could not remove %s: %s\n", unit_tmp_dir, strerror(errno));
	if (WIFSIGNALED(status)) {
		printf("# killed by signal %d%s\n", WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		return 1;
	}
	return WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv)
{
	struct unit_test *sel[UNIT_MAX];
	int n = 0, failed = 0;

	qsort(unit_tests, unit_count, sizeof unit_tests[0], unit_cmp);
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (int i = 0; i < unit_count; i++)
			puts(unit_tests[i].name);
		return 0;
	}
	for (int i = 0; i < unit_count; i++) {
		int want = argc == 1;
		for (int a = 1; a < argc && !want; a++)
			want = strcmp(argv[a], unit_tests[i].name) == 0 ||
			       (strchr(argv[a], '*') && strncmp(argv[a], unit_tests[i].name,
			                                         strcspn(argv[a], "*")) == 0);
		if (want)
			sel[n++] = &unit_tests[i];
	}
	if (n == 0) {
		fprintf(stderr, "run-tests: no test matches\n");
		return 1;
	}
	printf("1..%d\n", n);
	for (int i = 0; i < n; i++) {
		int bad = unit_run_one(sel[i]);
		printf("%s %d - %s\n", bad ? "not ok" : "ok", i + 1, sel[i]->name);
		failed += bad;
	}
	return failed ? 1 : 0;
}
