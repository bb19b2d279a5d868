/*
 * budget.h - the memory budget of eidastats-ingestd: bytes of request
 * bodies (as received and after gzip decoding) held at once across every
 * worker thread, bounded by the setting max_in_flight.  A request that
 * cannot take what it needs is answered 503 with Retry-After.
 *
 * A budget is a plain counter the caller embeds (budget_init(), no _fini:
 * it owns nothing).  The limit is passed on each take, so a reload changes
 * it at once.  Thread-safe (atomic); every take is given back exactly once.
 */
#ifndef ES_INGEST_BUDGET_H
#define ES_INGEST_BUDGET_H

#include <stdatomic.h>
#include <stddef.h>

struct budget {
	atomic_size_t used;
};

void budget_init(struct budget *b);
/* Takes n bytes if used + n stays within limit: 0, or ES_ELIMIT (nothing taken). */
int budget_take(struct budget *b, size_t n, size_t limit);
/* Gives back n bytes taken before. */
void budget_give(struct budget *b, size_t n);
/* Bytes taken now. */
size_t budget_used(struct budget *b);
/* Bytes that may still be taken under limit (0 when used is at or over it). */
size_t budget_room(struct budget *b, size_t limit);

#endif
