/*
 * promw.h - the Prometheus text exposition format 0.0.4, written into a
 * jsonw_t text buffer (jsonw.h: growable, hard limit, sticky errors):
 * "# HELP"/"# TYPE" lines and samples with up to two labels, label values
 * escaped as the format wants ('\\', '"' and newline).  eidastats-ingestd's
 * /metrics and `eidastats status --prometheus` both write through it.
 *
 * No state; the writer is the caller's; any thread (one writer per thread).
 */
#ifndef ES_PROMW_H
#define ES_PROMW_H

#include <stdint.h>

#include "jsonw.h"

/* Content-Type of an exposition served over HTTP. */
#define PROMW_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends value as a label value (escaped, without the quotes); the writer's error. */
int promw_label(jsonw_t *w, const char *value);
/* "# HELP NAME HELP" and "# TYPE NAME TYPE" (type: counter, gauge, histogram). */
void promw_head(jsonw_t *w, const char *name, const char *type, const char *help);
/* NAME{K="V",K2="V2"} VALUE: k2 (and k) may be NULL for fewer labels; value as text. */
void promw_sample(jsonw_t *w, const char *name, const char *k, const char *v, const char *k2,
                  const char *v2, const char *value);
/* The same with an integer or a floating-point value. */
void promw_u64(jsonw_t *w, const char *name, const char *k, const char *v, uint64_t value);
void promw_f64(jsonw_t *w, const char *name, const char *k, const char *v, double value);

#endif
