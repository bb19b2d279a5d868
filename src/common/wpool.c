#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"
#include "wpool.h"

struct wpool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t th[WPOOL_MAX_THREADS];
	unsigned started;
	wpool_fn fn;
	void *ctx;
	size_t nslots;
	unsigned char *finished;    /* Per slot: its work is done. */
	uint64_t submitted, taken, collected;
	int stop;
};

struct wpool_arg {
	wpool_t *p;
	unsigned worker;
};

static void *wpool_thread(void *arg)
{
	struct wpool_arg a = *(struct wpool_arg *)arg;
	wpool_t *p = a.p;
	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->taken == p->submitted)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		size_t slot = (size_t)(p->taken++ % p->nslots);
		pthread_mutex_unlock(&p->mu);
		p->fn(p->ctx, a.worker, slot);
		pthread_mutex_lock(&p->mu);
		p->finished[slot] = 1;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int wpool_new(wpool_t **out, unsigned nthreads, size_t nslots, wpool_fn fn, void *ctx)
{
	*out = NULL;
	if (nthreads < 1 || nthreads > WPOOL_MAX_THREADS || nslots < 1 || !fn)
		return -EINVAL;
	wpool_t *p = es_calloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->fn = fn;
	p->ctx = ctx;
	p->nslots = nslots;
	p->finished = es_calloc(nslots, 1);
	for (unsigned i = 0; i < nthreads; i++) {
		struct wpool_arg *a = es_malloc(sizeof *a);
		a->p = p;
		a->worker = i;
		int rc = pthread_create(&p->th[i], NULL, wpool_thread, a);
		if (rc) {
			free(a);
			wpool_free(p);
			return -rc;
		}
		p->started++;
	}
	*out = p;
	return 0;
}

size_t wpool_filling(const wpool_t *p)
{
	return (size_t)(p->submitted % p->nslots);
}

void wpool_submit(wpool_t *p)
{
	pthread_mutex_lock(&p->mu);
	p->finished[p->submitted % p->nslots] = 0;
	p->submitted++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

size_t wpool_pending(const wpool_t *p)
{
	return (size_t)(p->submitted - p->collected);
}

int wpool_full(const wpool_t *p)
{
	return wpool_pending(p) == p->nslots;
}

size_t wpool_collect(wpool_t *p)
{
	size_t slot = (size_t)(p->collected % p->nslots);
	pthread_mutex_lock(&p->mu);
	while (!p->finished[slot])
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	p->collected++;
	return slot;
}

void wpool_free(wpool_t *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->finished);
	free(p);
}
