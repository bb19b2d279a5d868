#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"

#include "climit.h"

#define KEY_LEN 64

struct entry {
	char key[KEY_LEN];
	unsigned held;
};

/* Only clients holding a slot are in the table, so a linear scan stays short. */
struct climit {
	pthread_mutex_t lock;
	struct entry *e;
	size_t n, cap;
};

struct climit *climit_new(size_t cap)
{
	struct climit *c = es_calloc(1, sizeof *c);

	pthread_mutex_init(&c->lock, NULL);
	c->cap = cap ? cap : 1;
	c->e = es_calloc(c->cap, sizeof *c->e);
	return c;
}

void climit_free(struct climit *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
}

/* The entry of key, or NULL; with the lock held. */
static struct entry *find(struct climit *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strncmp(c->e[i].key, key, KEY_LEN - 1) == 0)
			return &c->e[i];
	return NULL;
}

int climit_take(struct climit *c, const char *client, unsigned limit)
{
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	e = find(c, client);
	if (!e && c->n < c->cap) {
		e = &c->e[c->n++];
		strncpy(e->key, client, KEY_LEN - 1);
		e->key[KEY_LEN - 1] = '\0';
		e->held = 0;
	}
	if (!e || e->held >= limit)
		rc = ES_ELIMIT;
	else
		e->held++;
	if (e && e->held == 0)
		*e = c->e[--c->n];
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void climit_give(struct climit *c, const char *client)
{
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	e = find(c, client);
	if (e && e->held > 0 && --e->held == 0)
		*e = c->e[--c->n];
	pthread_mutex_unlock(&c->lock);
}

unsigned climit_held(struct climit *c, const char *client)
{
	struct entry *e;
	unsigned n;

	pthread_mutex_lock(&c->lock);
	e = find(c, client);
	n = e ? e->held : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}
