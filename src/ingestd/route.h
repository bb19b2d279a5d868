/*
 * route.h - the route table of eidastats-ingestd.
 *
 * A route is one path under the configured prefix, the methods it answers,
 * who may call it and its hooks.  The table itself is in api.c; adding a
 * route is one entry there plus its hooks.  The server (server.c) matches
 * each request with route_match(): an unknown path is answered 404, a known
 * path with another method 405 with an Allow header listing the methods of
 * that path (GET always brings HEAD).
 *
 * The hooks run in the HTTP worker thread of the request, in this order:
 *   begin(rq)   the headers are in, the principal found (rq->who); may answer
 *               at once (the body is then not read: the connection closes
 *               after the answer).  NULL: nothing to do.
 *   body(rq, data, len)   each piece of the body; NULL: the server collects
 *               it into rq->body/rq->len within max_body and the memory
 *               budget (hreq_collect()).
 *   finish(rq)  the body is complete; must answer (hreq.h).  A hook that
 *               returns a negative code without answering gets a 500.
 *   done(rq)    always, when the request ends: frees rq->state.  NULL: none.
 *   too_many(rq)  instead of all the above when the client already runs
 *               max_queries_per_client requests of such routes.
 *
 * No state; the matching functions are pure and may be called from any thread.
 */
#ifndef ES_INGEST_ROUTE_H
#define ES_INGEST_ROUTE_H

#include <stddef.h>

struct hreq;

/* Method bits. */
enum {
	ROUTE_GET = 1u << 0,
	ROUTE_HEAD = 1u << 1,
	ROUTE_POST = 1u << 2,
	ROUTE_PUT = 1u << 3,
	ROUTE_DELETE = 1u << 4,
	ROUTE_OTHER = 1u << 5   /* Any other method: never allowed. */
};

/* The end of a tree route's path: "/reports" ROUTE_TREE_MARK. */
#define ROUTE_TREE_MARK "/*"

/* Who may call a route. */
enum route_auth {
	ROUTE_AUTH_NONE = 0,    /* Anybody. */
	ROUTE_AUTH_NODE         /* An EIDA node with its bearer token (auth.h): 401/403 otherwise. */
	/* Next: ROUTE_AUTH_EAS, an EIDA user with a signed token. */
};

struct route {
	const char *path;         /* Under the prefix, starting with '/': "/submit".  A tree
	                           * route's path ends in '/' and '*' (ROUTE_TREE_MARK): it
	                           * answers the path before the mark and every path under it. */
	unsigned methods;         /* ROUTE_* bits; ROUTE_GET implies ROUTE_HEAD. */
	enum route_auth auth;
	const char *wrong_method; /* Text of the 405 answer; NULL: "Method not allowed". */
	int (*begin)(struct hreq *rq);
	int (*body)(struct hreq *rq, const char *data, size_t len);
	int (*finish)(struct hreq *rq);
	void (*done)(struct hreq *rq);
	/* Non-NULL: the route is a query whose requests count in the client's
	 * max_queries_per_client (settings.h); this hook answers the one beyond
	 * it (429 with Retry-After) before its body is read. */
	int (*too_many)(struct hreq *rq);
};

/* The ROUTE_* bit of an HTTP method name ("GET", ...), ROUTE_OTHER for others. */
unsigned route_method(const char *name);

/*
 * Finds the route of path (the decoded URL path) for the method bit m, with
 * prefix the configured prefix ("" or "/a/b", no trailing '/').  A
 * tree route (path "P" ROUTE_TREE_MARK) matches P and every path under
 * "P/"; an exact route wins over a tree.  0 with
 * *found; -ENOENT when no route has this path (404); -EOPNOTSUPP when one
 * has it but not for m (405): *found is then that route and *allowed the
 * methods the path answers (GET with HEAD).
 */
int route_match(const struct route *table, size_t n, const char *prefix, const char *path,
                unsigned m, const struct route **found, unsigned *allowed);

/* Writes the Allow header value of methods ("GET, HEAD", "POST, PUT") into out. */
void route_allow(unsigned methods, char *out, size_t cap);

#endif
