/*
 * jget.c - prints values out of one JSON object read from stdin, for the
 * shell tests (which must not depend on jq).
 *
 *   jget PATH...       e.g.  jget spool.pending files.failed last_error.message
 *
 * PATH is dot-separated keys, with [N] for array elements ("failures[0].file")
 * and "#" for an array's length ("failures.#").  Each value is printed on its
 * own line: numbers as integers when they are integral, strings raw, null as
 * "null", objects and arrays as compact JSON.  Exit 1 if a path is missing,
 * 2 if stdin is not a JSON object.  A test tool: it is not installed.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *walk(const cJSON *v, const char *path)
{
	char key[256];

	while (v && *path) {
		size_t n = strcspn(path, ".[");
		if (n >= sizeof key)
			return NULL;
		if (n) {
			memcpy(key, path, n);
			key[n] = '\0';
			v = cJSON_GetObjectItemCaseSensitive(v, key);
			path += n;
		} else if (*path == '[') {
			char *end;
			long i = strtol(path + 1, &end, 10);
			if (*end != ']')
				return NULL;
			v = cJSON_GetArrayItem(v, (int)i);
			path = end + 1;
		}
		if (*path == '.')
			path++;
	}
	return v;
}

int main(int argc, char **argv)
{
	size_t cap = 1 << 16, len = 0, n;
	char *buf = malloc(cap);
	cJSON *root;
	int rc = 0;

	while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	if (!buf)
		return 2;
	buf[len] = '\0';
	root = cJSON_Parse(buf);
	free(buf);
	if (!cJSON_IsObject(root)) {
		fprintf(stderr, "jget: stdin is not a JSON object\n");
		cJSON_Delete(root);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		size_t pl = strlen(argv[i]);
		int count = pl >= 1 && argv[i][pl - 1] == '#';
		if (count) {
			/* "a.b.#" or "#": the length of what the prefix names. */
			argv[i][pl - 1] = '\0';
			if (pl >= 2 && argv[i][pl - 2] == '.')
				argv[i][pl - 2] = '\0';
		}
		const cJSON *v = walk(root, argv[i]);
		if (v && count) {
			if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
				fprintf(stderr, "jget: %s is not an array\n", argv[i]);
				rc = 1;
			} else {
				printf("%d\n", cJSON_GetArraySize(v));
			}
			continue;
		}
		if (!v) {
			fprintf(stderr, "jget: no %s\n", argv[i]);
			rc = 1;
			continue;
		}
		if (cJSON_IsNumber(v)) {
			double d = v->valuedouble;
			if (d == floor(d) && fabs(d) < 9e15)
				printf("%lld\n", (long long)d);
			else
				printf("%.17g\n", d);
		} else if (cJSON_IsString(v)) {
			printf("%s\n", v->valuestring);
		} else {
			char *t = cJSON_PrintUnformatted(v);
			printf("%s\n", t ? t : "");
			free(t);
		}
	}
	cJSON_Delete(root);
	return rc;
}
