/*
 * qconn.c - idle sessions of streamed answers (qconn.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "qconn.h"

struct idle {
	PGconn *pg;
	char *conninfo;
};

struct qconn_cache {
	pthread_mutex_t lock;
	struct idle *v;
	unsigned n, cap;
};

struct qconn_cache *qconn_new(unsigned cap)
{
	struct qconn_cache *c = es_calloc(1, sizeof *c);

	c->cap = cap;
	c->v = es_calloc(cap ? cap : 1, sizeof *c->v);
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void qconn_free(struct qconn_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n; i++) {
		PQfinish(c->v[i].pg);
		free(c->v[i].conninfo);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->v);
	free(c);
}

PGconn *qconn_take(struct qconn_cache *c, const char *conninfo)
{
	PGconn *pg = NULL;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->lock);
	/* The most recently kept first: its backend's caches are the warmest. */
	for (unsigned i = c->n; i-- > 0;) {
		if (strcmp(c->v[i].conninfo, conninfo) != 0)
			continue;
		pg = c->v[i].pg;
		free(c->v[i].conninfo);
		c->v[i] = c->v[--c->n];
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return pg;
}

void qconn_give(struct qconn_cache *c, PGconn *pg, const char *conninfo)
{
	char *ci;

	if (!pg)
		return;
	if (!c || PQstatus(pg) != CONNECTION_OK || PQtransactionStatus(pg) != PQTRANS_IDLE
	    || !(ci = strdup(conninfo))) {
		PQfinish(pg);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (c->n < c->cap) {
		c->v[c->n].pg = pg;
		c->v[c->n++].conninfo = ci;
		pg = NULL;
		ci = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	free(ci);
	if (pg)
		PQfinish(pg);
}
