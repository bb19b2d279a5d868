/*
 * climit.h - requests in progress per client address, for the setting
 * max_queries_per_client: a query of the query API takes a slot of its
 * client when it starts and gives it back when its answer ends; a client
 * already at the limit is answered 429.
 *
 * A climit owns a table of at most cap addresses (climit_new(); cap is the
 * most connections the server holds at once, so it never fills before the
 * connection limit does) and frees it in climit_free().  The limit is passed
 * on each take, so a reload changes it at once.  Thread-safe (one mutex).
 */
#ifndef ES_INGEST_CLIMIT_H
#define ES_INGEST_CLIMIT_H

#include <stddef.h>

struct climit;

struct climit *climit_new(size_t cap);
void climit_free(struct climit *c);
/*
 * Takes one slot of client (an address, at most 63 bytes used) if it holds
 * fewer than limit: 0, or ES_ELIMIT (nothing taken; also when the table
 * is full).
 */
int climit_take(struct climit *c, const char *client, unsigned limit);
/* Gives back one slot taken by client. */
void climit_give(struct climit *c, const char *client);
/* Slots client holds now. */
unsigned climit_held(struct climit *c, const char *client);

#endif
