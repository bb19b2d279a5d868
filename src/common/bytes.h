/*
 * bytes.h - fixed-width integers in big-endian byte order (the order of the
 * spool header, of the central payload digest and of PostgreSQL's binary COPY).
 *
 * Pure functions: no state, any thread.
 */
#ifndef ES_BYTES_H
#define ES_BYTES_H

#include <stdint.h>

/* Stores v in p[0..7], most significant byte first. */
void bytes_put_be64(uint8_t *p, uint64_t v);
/* Stores v in p[0..3], most significant byte first. */
void bytes_put_be32(uint8_t *p, uint32_t v);
/* Stores v in p[0..1], most significant byte first. */
void bytes_put_be16(uint8_t *p, uint16_t v);
/* Reads the big-endian value in p[0..7]. */
uint64_t bytes_get_be64(const uint8_t *p);

#endif
