/*
 * wpool.h - an ordered work ring: the owner fills slots of a fixed ring in
 * turn, hands each to a pool of threads, and takes them back in the order it
 * handed them out, so work done in parallel is consumed sequentially (the
 * parse workers of agg.c, the deflate threads of gz.c's threaded mode).
 *
 * The ring holds nslots slots, numbered 0..nslots-1; the slots' contents
 * belong to the owner, which gives the worker function a context to find
 * them.  The owner fills wpool_filling(), calls wpool_submit(), and before
 * it may fill again when wpool_full() says so, collects the oldest slot
 * with wpool_collect(), which waits until its work is done.  A slot is
 * touched by one worker between submit and done, and by the owner otherwise.
 *
 * Threads: one owner thread calls every function; fn runs on the pool's
 * threads (worker = 0..nthreads-1, stable for the life of the pool, for
 * per-thread state).  Ownership: wpool_new() starts the threads;
 * wpool_free() lets them finish the slot they are working on, joins them
 * and frees the pool (work submitted and not started is dropped).
 */
#ifndef ES_WPOOL_H
#define ES_WPOOL_H

#include <stddef.h>

#define WPOOL_MAX_THREADS 16u

/* Does the work of slot; runs on worker thread number worker. */
typedef void (*wpool_fn)(void *ctx, unsigned worker, size_t slot);

typedef struct wpool wpool_t;

/* Starts nthreads (1..WPOOL_MAX_THREADS) threads over a ring of nslots (>= 1).
 * Returns 0, -EINVAL, or -errno of pthread_create() (no thread left running). */
int wpool_new(wpool_t **out, unsigned nthreads, size_t nslots, wpool_fn fn, void *ctx);
/* The slot the owner fills next. */
size_t wpool_filling(const wpool_t *p);
/* Hands the filling slot to the threads; the next slot becomes the filling one. */
void wpool_submit(wpool_t *p);
/* Slots submitted and not yet collected. */
size_t wpool_pending(const wpool_t *p);
/* 1 when every slot is submitted and uncollected: collect before filling. */
int wpool_full(const wpool_t *p);
/* Waits for the oldest uncollected slot's work and returns that slot; only
 * with wpool_pending() > 0. */
size_t wpool_collect(wpool_t *p);
/* Stops and joins the threads; NULL is allowed. */
void wpool_free(wpool_t *p);

#endif
