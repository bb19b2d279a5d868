/*
 * rhtmltool - renders one report.json (or index JSON) to HTML with rhtml.h,
 * for tests/sh/report-render.sh.
 *
 *   rhtmltool report|index IN.json OUT.html
 *
 * Exit 0 with OUT written, 1 with rhtml's message on stderr, 2 on a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "rhtml.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = es_realloc(buf, cap);
		}
		k = fread(buf + n, 1, cap - n, f);
		n += k;
	} while (k > 0 && n <= RHTML_MAX_INPUT);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	char err[512], *in, *out;
	size_t len, olen;
	int rc;
	FILE *f;

	if (argc != 4 || (strcmp(argv[1], "report") && strcmp(argv[1], "index"))) {
		fprintf(stderr, "usage: rhtmltool report|index IN.json OUT.html\n");
		return 2;
	}
	in = slurp(argv[2], &len);
	if (!in) {
		perror(argv[2]);
		return 1;
	}
	rc = (!strcmp(argv[1], "report") ? rhtml_report : rhtml_index)(in, len, &out, &olen,
	                                                               err, sizeof(err));
	free(in);
	if (rc) {
		fprintf(stderr, "rhtmltool: %s: %s (%s)\n", argv[2], err, es_strerror(rc));
		return 1;
	}
	f = fopen(argv[3], "wb");
	if (!f || fwrite(out, 1, olen, f) != olen || fclose(f) != 0) {
		perror(argv[3]);
		free(out);
		return 1;
	}
	free(out);
	return 0;
}
