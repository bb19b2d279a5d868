/*
 * driver.c - replays fuzz inputs without libFuzzer, so that every build (gcc
 * included) runs each target's corpus and regression inputs in `make check`.
 *
 * Usage: replay-NAME [FILE|DIR]...  Each file, and each regular file of each
 * directory (in name order, not recursive), is read and handed once to
 * LLVMFuzzerTestOneInput().  Without arguments it replays
 * $top_srcdir/tests/fuzz/corpus/NAME and $top_srcdir/tests/fuzz/regressions/NAME
 * (NAME compiled in as FUZZ_TARGET), the second optional, and prints one TAP
 * result.  A crash is the target's (abort, sanitizer report); an unreadable
 * input or an empty corpus fails the run.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET (the target's name) must be defined"
#endif

/* Inputs larger than this are not fuzz inputs (libFuzzer's -max_len is far below). */
#define REPLAY_MAX_INPUT (16u << 20)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;
	size_t n;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	if ((uint64_t)st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: too large\n", path);
		fclose(f);
		return -1;
	}
	/* Exactly the file's bytes, so that ASan sees a read past the input. */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "replay: out of memory\n");
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f) || n != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a file or the files of a directory; adds to *count.  -1 on an error. */
static int replay_path(const char *path, size_t *count, int optional)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (stat(path, &st) != 0) {
		if (optional && errno == ENOENT)
			return 0;
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (replay_file(path) != 0)
			return -1;
		(*count)++;
		return 0;
	}
	if (!(d = opendir(path))) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
			if (!nn) {
				rc = -1;
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		char *p;
		if (rc == 0) {
			if (!(p = malloc(strlen(path) + strlen(names[i]) + 2))) {
				rc = -1;
			} else {
				sprintf(p, "%s/%s", path, names[i]);
				if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
					if (replay_file(p) != 0)
						rc = -1;
					else
						(*count)++;
				}
				free(p);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;

	if (argc > 1) {
		for (int i = 1; i < argc && rc == 0; i++)
			rc = replay_path(argv[i], &count, 0);
		printf("%s: %zu inputs replayed%s\n", FUZZ_TARGET, count, rc ? ", with errors" : "");
		return rc ? 1 : 0;
	}

	const char *top = getenv("top_srcdir");
	char corpus[4096], regress[4096];
	size_t ncorpus = 0, nregress = 0;

	if (!top)
		top = ".";
	snprintf(corpus, sizeof corpus, "%s/tests/fuzz/corpus/%s", top, FUZZ_TARGET);
	snprintf(regress, sizeof regress, "%s/tests/fuzz/regressions/%s", top, FUZZ_TARGET);
	printf("1..1\n");
	fflush(stdout);
	rc = replay_path(corpus, &ncorpus, 0);
	if (rc == 0)
		rc = replay_path(regress, &nregress, 1);
	if (rc == 0 && ncorpus == 0) {
		fprintf(stderr, "replay: %s: empty corpus\n", corpus);
		rc = -1;
	}
	printf("%s %d - fuzz %s: %zu corpus and %zu regression inputs replayed\n",
	       rc ? "not ok" : "ok", 1, FUZZ_TARGET, ncorpus, nregress);
	return rc ? 1 : 0;
}
