#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static void es_oom(size_t size)
{
	fprintf(stderr, "eidastats: out of memory (allocating %zu bytes)\n", size);
	abort();
}

void *es_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		es_oom(size);
	return p;
}

void *es_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		es_oom(n * size);
	return p;
}

void *es_realloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q)
		es_oom(size);
	return q;
}

void *es_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		es_oom((size_t)-1);
	return es_realloc(p, n * size);
}

char *es_strdup(const char *s)
{
	return es_strndup(s, strlen(s));
}

char *es_strndup(const char *s, size_t n)
{
	char *d = es_malloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
