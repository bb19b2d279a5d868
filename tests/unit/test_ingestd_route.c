#include "config.h"

#include <errno.h>

#include "ingestd/api.h"
#include "ingestd/route.h"
#include "unit.h"

static const struct route table[] = {
	{ "/submit", ROUTE_POST | ROUTE_PUT, ROUTE_AUTH_NODE, "Only PUT or POST method allowed.",
	  NULL, NULL, NULL, NULL, NULL },
	{ "/health", ROUTE_GET, ROUTE_AUTH_NONE, NULL, NULL, NULL, NULL, NULL, NULL },
	/* One path, two entries: the methods of both are allowed. */
	{ "/items", ROUTE_GET, ROUTE_AUTH_NONE, NULL, NULL, NULL, NULL, NULL, NULL },
	{ "/items", ROUTE_DELETE, ROUTE_AUTH_NODE, NULL, NULL, NULL, NULL, NULL, NULL },
};
#define N (sizeof table / sizeof table[0])

TEST(ingestd_route_methods)
{
	ASSERT_EQ(route_method("GET"), ROUTE_GET);
	ASSERT_EQ(route_method("HEAD"), ROUTE_HEAD);
	ASSERT_EQ(route_method("POST"), ROUTE_POST);
	ASSERT_EQ(route_method("PUT"), ROUTE_PUT);
	ASSERT_EQ(route_method("DELETE"), ROUTE_DELETE);
	ASSERT_EQ(route_method("get"), ROUTE_OTHER);
	ASSERT_EQ(route_method("PATCH"), ROUTE_OTHER);
	ASSERT_EQ(route_method(NULL), ROUTE_OTHER);
}

TEST(ingestd_route_match)
{
	const struct route *r;
	unsigned allowed;

	ASSERT_OK(route_match(table, N, "/p/1", "/p/1/submit", ROUTE_POST, &r, &allowed));
	ASSERT(r == &table[0]);
	ASSERT_OK(route_match(table, N, "/p/1", "/p/1/submit", ROUTE_PUT, &r, &allowed));
	ASSERT_OK(route_match(table, N, "/p/1", "/p/1/health", ROUTE_GET, &r, &allowed));
	ASSERT(r == &table[1]);
	/* HEAD wherever GET. */
	ASSERT_OK(route_match(table, N, "/p/1", "/p/1/health", ROUTE_HEAD, &r, &allowed));
	ASSERT(r == &table[1]);
	ASSERT_OK(route_match(table, N, "/p/1", "/p/1/items", ROUTE_DELETE, &r, &allowed));
	ASSERT(r == &table[3]);
	ASSERT_OK(route_match(table, N, "/p/1", "/p/1/items", ROUTE_HEAD, &r, &allowed));
	ASSERT(r == &table[2]);
	/* An empty prefix. */
	ASSERT_OK(route_match(table, N, "", "/submit", ROUTE_POST, &r, &allowed));
}

TEST(ingestd_route_not_found)
{
	static const char *const paths[] = {
		"/p/1/submit/", "/p/1/submit/x", "/p/1/Submit", "/p/2/submit", "/p/1", "/p/1/",
		"/submit", "", "/p/1//submit", "/p/1/health?x",
	};
	const struct route *r;
	unsigned allowed;

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (route_match(table, N, "/p/1", paths[i], ROUTE_POST, &r, &allowed) != -ENOENT)
			unit_fail(__FILE__, __LINE__, "'%s' was found", paths[i]);
}

TEST(ingestd_route_wrong_method)
{
	const struct route *r;
	unsigned allowed;
	char allow[64];

	ASSERT_ERR(route_match(table, N, "/p", "/p/submit", ROUTE_GET, &r, &allowed), -EOPNOTSUPP);
	ASSERT(r == &table[0]);
	route_allow(allowed, allow, sizeof allow);
	ASSERT_STREQ(allow, "POST, PUT");
	ASSERT_ERR(route_match(table, N, "/p", "/p/submit", ROUTE_OTHER, &r, &allowed), -EOPNOTSUPP);
	ASSERT_ERR(route_match(table, N, "/p", "/p/health", ROUTE_POST, &r, &allowed), -EOPNOTSUPP);
	route_allow(allowed, allow, sizeof allow);
	ASSERT_STREQ(allow, "GET, HEAD");
	ASSERT_ERR(route_match(table, N, "/p", "/p/items", ROUTE_PUT, &r, &allowed), -EOPNOTSUPP);
	route_allow(allowed, allow, sizeof allow);
	ASSERT_STREQ(allow, "GET, HEAD, DELETE");
	/* A short buffer is cut at a whole method. */
	route_allow(allowed, allow, 12);
	ASSERT_STREQ(allow, "GET, HEAD");
}

TEST(ingestd_route_table)
{
	const struct route *r;
	unsigned allowed;
	char allow[64];
	const char *pfx = "/eidaws/statistics/1";

	/* The service's own table answers as it always did. */
	ASSERT_OK(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/submit", ROUTE_POST, &r,
	                      &allowed));
	ASSERT_EQ(r->auth, ROUTE_AUTH_NODE);
	ASSERT(r->finish != NULL);
	ASSERT_OK(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/dataselectstats",
	                      ROUTE_PUT, &r, &allowed));
	ASSERT_EQ(r->auth, ROUTE_AUTH_NODE);
	ASSERT_OK(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/health", ROUTE_HEAD, &r,
	                      &allowed));
	ASSERT_EQ(r->auth, ROUTE_AUTH_NONE);
	ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/submit", ROUTE_GET, &r,
	                       &allowed), -EOPNOTSUPP);
	route_allow(allowed, allow, sizeof allow);
	ASSERT_STREQ(allow, "POST, PUT");
	ASSERT_STREQ(r->wrong_method, "Only PUT or POST method allowed.");
	ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/health", ROUTE_PUT, &r,
	                       &allowed), -EOPNOTSUPP);
	route_allow(allowed, allow, sizeof allow);
	ASSERT_STREQ(allow, "GET, HEAD");
	/* The query API (qapi.h): GET routes bring HEAD; restricted is POST only, with upstream's 405. */
	static const char *const gets[] = {
		"/dataselect/public", "/nodes", "/networks", "/_isRestricted", "/node_restriction_policy",
		"/network_restriction_policy", "/_health", "/openapi.yaml", "/",
	};
	for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s%s", pfx, gets[i]);
		ASSERT_OK(route_match(api_routes, api_nroutes, pfx, path, ROUTE_HEAD, &r, &allowed));
		ASSERT_EQ(r->auth, ROUTE_AUTH_NONE);
		ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, path, ROUTE_POST, &r, &allowed),
		           -EOPNOTSUPP);
	}
	ASSERT_OK(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/dataselect/restricted",
	                      ROUTE_POST, &r, &allowed));
	ASSERT(r->body != NULL && r->begin != NULL && r->done != NULL);
	ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/dataselect/restricted",
	                       ROUTE_HEAD, &r, &allowed), -EOPNOTSUPP);
	route_allow(allowed, allow, sizeof allow);
	ASSERT_STREQ(allow, "POST");
	ASSERT_STREQ(r->wrong_method, "<h1>405 Method Not Allowed</h1><p>Only POST method allowed</p>");
	/* The report tree and the metrics: GET and HEAD, anybody (the reports route checks tokens itself). */
	static const char *const reports[] = {
		"/reports", "/reports/", "/reports/2025-01/", "/reports/2025-01/nodes/GFZ.html",
		"/reports/../x", "/metrics",
	};
	for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s%s", pfx, reports[i]);
		ASSERT_OK(route_match(api_routes, api_nroutes, pfx, path, ROUTE_GET, &r, &allowed));
		ASSERT_EQ(r->auth, ROUTE_AUTH_NONE);
		ASSERT_STREQ(r->path, i == 5 ? "/metrics" : "/reports" ROUTE_TREE_MARK);
		ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, path, ROUTE_PUT, &r, &allowed),
		           -EOPNOTSUPP);
	}
	ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/reportsx", ROUTE_GET,
	                       &r, &allowed), -ENOENT);
	/* The prefix itself is a route (the redirect to PREFIX/); a trailing slash on a route is not. */
	ASSERT_OK(route_match(api_routes, api_nroutes, pfx, pfx, ROUTE_GET, &r, &allowed));
	ASSERT_STREQ(r->path, "");
	ASSERT_ERR(route_match(api_routes, api_nroutes, pfx, "/eidaws/statistics/1/nodes/", ROUTE_GET, &r,
	                       &allowed), -ENOENT);
	/* Every path is unique per method and starts with '/' (but the prefix's own, ""). */
	for (size_t i = 0; i < api_nroutes; i++) {
		ASSERT((api_routes[i].path[0] == '/' || api_routes[i].path[0] == '\0')
		       && api_routes[i].finish != NULL);
		for (size_t j = i + 1; j < api_nroutes; j++)
			ASSERT(strcmp(api_routes[i].path, api_routes[j].path) != 0 ||
			       !(api_routes[i].methods & api_routes[j].methods));
	}
}

TEST(ingestd_route_tree)
{
	static const struct route tree[] = {
		{ .path = "/reports/*", .methods = ROUTE_GET, .auth = ROUTE_AUTH_NONE },
		{ .path = "/reports/x", .methods = ROUTE_POST, .auth = ROUTE_AUTH_NONE },
		{ .path = "/rep", .methods = ROUTE_GET, .auth = ROUTE_AUTH_NONE },
	};
	const struct route *r;
	unsigned allowed;

	ASSERT_OK(route_match(tree, 3, "/p", "/p/reports", ROUTE_GET, &r, &allowed));
	ASSERT(r == &tree[0]);
	ASSERT_OK(route_match(tree, 3, "/p", "/p/reports/", ROUTE_HEAD, &r, &allowed));
	ASSERT(r == &tree[0]);
	ASSERT_OK(route_match(tree, 3, "/p", "/p/reports/2025-01/a/b.csv", ROUTE_GET, &r, &allowed));
	ASSERT(r == &tree[0]);
	/* An exact route wins over the tree, with its own methods. */
	ASSERT_OK(route_match(tree, 3, "/p", "/p/reports/x", ROUTE_POST, &r, &allowed));
	ASSERT(r == &tree[1]);
	ASSERT_ERR(route_match(tree, 3, "/p", "/p/reports/x", ROUTE_GET, &r, &allowed), -EOPNOTSUPP);
	ASSERT_ERR(route_match(tree, 3, "/p", "/p/reports/y", ROUTE_POST, &r, &allowed), -EOPNOTSUPP);
	ASSERT(r == &tree[0]);
	ASSERT_EQ(allowed, ROUTE_GET | ROUTE_HEAD);
	/* Not below the tree: a longer name is another path. */
	ASSERT_ERR(route_match(tree, 3, "/p", "/p/reportsx", ROUTE_GET, &r, &allowed), -ENOENT);
	ASSERT_ERR(route_match(tree, 3, "/p", "/p/repo", ROUTE_GET, &r, &allowed), -ENOENT);
}
