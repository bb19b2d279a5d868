#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"

#include "auth.h"

size_t auth_bearer(const char *value, const char **token)
{
	const char *p = value, *end;

	if (!p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end && *end != ' ' && *end != '\t')
		end++;
	*token = p;
	return (size_t)(end - p);
}

int auth_token(const char *authentication, const char *authorization, const char **token,
               size_t *len)
{
	*len = auth_bearer(authentication, token);
	if (*len == 0)
		*len = auth_bearer(authorization, token);
	return *len ? 0 : -EACCES;
}

int auth_node(struct db_pool *pool, const char *authentication, const char *authorization,
              struct auth_principal *who, char *err, size_t errlen)
{
	const char *token = NULL;
	size_t len;
	int node_id = 0, rc;

	if (err && errlen)
		err[0] = '\0';
	if (auth_token(authentication, authorization, &token, &len) < 0) {
		snprintf(err, errlen, "no bearer token");
		return -EACCES;
	}
	struct db_conn *db = db_acquire(pool);
	rc = db_authenticate_name(db, token, len, &node_id, who->name, sizeof who->name, err, errlen);
	db_release(pool, db);
	if (rc < 0)
		return rc;
	who->kind = AUTH_NODE;
	who->node_id = node_id;
	return 0;
}
