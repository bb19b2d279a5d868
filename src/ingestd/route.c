#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "route.h"

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
	{ "GET", ROUTE_GET }, { "HEAD", ROUTE_HEAD }, { "POST", ROUTE_POST }, { "PUT", ROUTE_PUT },
	{ "DELETE", ROUTE_DELETE },
};

unsigned route_method(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (name && strcmp(name, methods[i].name) == 0)
			return methods[i].bit;
	return ROUTE_OTHER;
}

static unsigned with_head(unsigned m)
{
	return (m & ROUTE_GET) ? m | ROUTE_HEAD : m;
}

/* Whether r answers path: exactly, or (tree) as a tree route at or below its path. */
static bool covers(const struct route *r, const char *path, int tree)
{
	size_t len = strlen(r->path);

	if (!tree)
		return strcmp(r->path, path) == 0;
	if (len < 2 || strcmp(r->path + len - 2, ROUTE_TREE_MARK) != 0)
		return false;
	len -= 2;
	return strncmp(r->path, path, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

int route_match(const struct route *table, size_t n, const char *prefix, const char *path,
                unsigned m, const struct route **found, unsigned *allowed)
{
	size_t plen = strlen(prefix);
	const struct route *hit = NULL;
	unsigned any = 0;

	*found = NULL;
	*allowed = 0;
	if (strncmp(path, prefix, plen) != 0)
		return -ENOENT;
	path += plen;
	/* Exact paths first, then the trees. */
	for (int tree = 0; tree < 2 && !hit; tree++) {
		for (size_t i = 0; i < n; i++) {
			if (!covers(&table[i], path, tree))
				continue;
			any |= with_head(table[i].methods);
			if (!hit)
				hit = &table[i];
			if (with_head(table[i].methods) & m & ~(unsigned)ROUTE_OTHER) {
				*found = &table[i];
				return 0;
			}
		}
	}
	if (!hit)
		return -ENOENT;
	*found = hit;
	*allowed = any;
	return -EOPNOTSUPP;
}

void route_allow(unsigned m, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (!(m & methods[i].bit))
			continue;
		int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", methods[i].name);
		if (w < 0 || (size_t)w >= cap - o) {
			out[o] = '\0';
			return;
		}
		o += (size_t)w;
	}
}
