/*
 * auth.h - who is asking: the one authentication module of
 * eidastats-ingestd.  A route names its policy (route.h); the server asks
 * this module for the principal before the route sees the request.
 *
 * Today a principal is an EIDA node, found from its bearer token with
 * db_authenticate().  The token comes from upstream's "Authentication:
 * Bearer T" header or the standard "Authorization: Bearer T" (the first one
 * holding a bearer token wins).  The next kind (an EIDA user from a signed
 * token) adds a value to enum auth_kind and a function beside auth_node().
 *
 * No state; any thread.  Tokens are never copied nor logged.
 */
#ifndef ES_INGEST_AUTH_H
#define ES_INGEST_AUTH_H

#include <stddef.h>

#include "db.h"

#define AUTH_NAME_MAX 128

enum auth_kind {
	AUTH_ANONYMOUS = 0,   /* Nobody was asked for (route policy none). */
	AUTH_NODE             /* An EIDA node: node_id. */
};

struct auth_principal {
	enum auth_kind kind;
	int node_id;          /* AUTH_NODE: nodes.id. */
	char name[AUTH_NAME_MAX];   /* AUTH_NODE: nodes.name (truncated beyond). */
};

/*
 * Finds "Bearer TOKEN" (scheme case-insensitive, spaces or tabs around) in a
 * header value; returns the token's length with *token pointing into value,
 * or 0 when value is NULL, another scheme or has no token.
 */
size_t auth_bearer(const char *value, const char **token);

/*
 * The bearer token of a request from its Authentication and Authorization
 * header values (either may be NULL): 0 with *token and *len, or -EACCES when
 * neither holds one.
 */
int auth_token(const char *authentication, const char *authorization, const char **token,
               size_t *len);

/*
 * Authenticates a node: 0 with *who (AUTH_NODE); -EACCES no token (401);
 * ES_EAUTH unknown or expired token (403); -ENOTCONN database unreachable
 * (503); another code on a bug (500).  err receives a sentence for the log.
 * Holds one connection of pool inside the call only.
 */
int auth_node(struct db_pool *pool, const char *authentication, const char *authorization,
              struct auth_principal *who, char *err, size_t errlen);

#endif
