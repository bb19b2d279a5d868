/*
 * mem.h - allocation that never returns NULL.
 *
 * Like chrony's Malloc(), these abort the process with a message on
 * out-of-memory, so call sites do not carry untestable NULL branches.  Hard
 * limits on every buffer (line length, payload size, statistics count) keep
 * memory bounded; running out of memory is therefore a bug or a machine
 * problem, not an input problem.  What these return belongs to the caller,
 * who releases it with free().
 */
#ifndef ES_MEM_H
#define ES_MEM_H

#include <stddef.h>

void *es_malloc(size_t size);
void *es_calloc(size_t n, size_t size);
void *es_realloc(void *p, size_t size);
/* Multiplies n*size with an overflow check, then reallocates. */
void *es_reallocarray(void *p, size_t n, size_t size);
char *es_strdup(const char *s);
char *es_strndup(const char *s, size_t n);

#endif
