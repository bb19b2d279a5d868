/*
 * utf8.h - strict UTF-8: decoding one sequence, validating a buffer,
 * encoding one code point.
 *
 * Strict means what JSON parsers and PostgreSQL accept: no overlong forms,
 * no UTF-16 surrogates (U+D800-U+DFFF), nothing above U+10FFFF.
 *
 * Pure functions: no state, any thread.
 */
#ifndef ES_UTF8_H
#define ES_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s (len >= 1 bytes available): its length (1-4)
 * with *cp set, or 0 if it is not valid UTF-8. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* 1 if the len bytes at s are all valid UTF-8 (NUL bytes included), else 0. */
int utf8_valid(const char *s, size_t len);
/* Encodes cp (at most U+10FFFF, not a surrogate) into out: returns 1-4 bytes written. */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
