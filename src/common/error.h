/*
 * error.h - the one error convention of eidastats.
 *
 * Every function that can fail returns 0 on success and a negative code on
 * failure.  Where an errno value describes the failure the code is -errno
 * (for example -ENOENT); failures that have no errno equivalent use the ES_E*
 * codes below, which all lie below ES_EBASE so they never collide with errno.
 * es_strerror() turns any such code into a static English sentence fragment.
 * The module owns no state; the strings it returns are static, never freed.
 */
#ifndef ES_ERROR_H
#define ES_ERROR_H

#include <stddef.h>

enum es_error {
	ES_OK        = 0,
	ES_EBASE     = -1000,
	ES_EFORMAT   = -1001, /* Malformed data (JSON, HLL bytes, payload). */
	ES_ECORRUPT  = -1002, /* Compressed data is corrupt. */
	ES_ETRUNC    = -1003, /* Compressed data ends before its stream does. */
	ES_ELIMIT    = -1004, /* A hard limit (line length, size, count) was hit. */
	ES_EPARAM    = -1005, /* HLL parameters differ from (11,5,auto,sparse). */
	ES_ENOSTATS  = -1006, /* The input produced no statistics at all. */
	ES_EREFUSED  = -1007, /* The network registry refused a temporary code. */
	ES_EUNAVAIL  = -1008, /* The network registry could not be reached. */
	ES_ECONFIG   = -1009, /* Invalid configuration. */
	ES_EHTTP     = -1010, /* The HTTP peer answered with an error status. */
	ES_ECHECKSUM = -1011, /* A stored file failed its checksum. */
	ES_EDUPLICATE= -1012, /* The thing was already done (ledger, 409). */
	ES_EAUTH     = -1013, /* Authentication refused (401/403). */
	ES_ENET      = -1014, /* Transport failure (connect, reset, timeout, TLS). */
	ES_EINTERNAL = -1015, /* A bug: an invariant did not hold. */
	ES_ELAST     = -1016
};

/* Returns a static description of err (0, -errno or ES_E*). Never NULL. */
const char *es_strerror(int err);

/* Writes a message into a caller's err buffer of cap bytes (NUL-terminated,
 * cut if short); does nothing when err is NULL or cap is 0. */
void es_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
