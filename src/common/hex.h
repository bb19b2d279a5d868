/*
 * hex.h - bytes as hexadecimal text and back.
 *
 * Everything eidastats writes in hex (digests in the ledger and the
 * database, spool ids, tokens, %XX escapes) is lower-case, and what it reads
 * back must be lower-case too (one spelling per value); only JSON's \uXXXX
 * escapes accept both cases (hex_digit_any).
 *
 * Pure functions: no state, any thread.
 */
#ifndef ES_HEX_H
#define ES_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The lower-case digits, indexable by a nibble. */
extern const char hex_digits[16];

/* Value of a lower-case hex digit ('0'-'9', 'a'-'f'), or -1. */
int hex_digit(int c);
/* Value of a hex digit of either case, or -1. */
int hex_digit_any(int c);
/* Writes the n bytes at in as 2n lower-case digits and a NUL (out holds 2n+1). */
void hex_encode(char *out, const void *in, size_t n);
/* Reads 2n lower-case digits at in into n bytes at out: 0, or ES_EFORMAT
 * (out is then partly written). */
int hex_decode(void *out, const char *in, size_t n);

#endif
