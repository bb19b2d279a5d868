/* Tests of query.h: parameters, error answers, restriction map, pre-check and SQL. */
#include "unit.h"

#include <errno.h>

#include "query.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* Nodes A (open), B (restricted), C (policy NULL); A group /op/a. */
static void policy(struct q_policy *p)
{
	q_policy_init(p);
	ASSERT_OK(q_policy_add_node(p, "A", 0, "/op/a"));
	ASSERT_OK(q_policy_add_node(p, "B", 1, NULL));
	ASSERT_OK(q_policy_add_node(p, "C", -1, NULL));
	ASSERT_OK(q_policy_add_net(p, "A", "FR", 0, NULL));      /* open */
	ASSERT_OK(q_policy_add_net(p, "A", "Z3", 1, "/epos/z3")); /* restricted by exception */
	ASSERT_OK(q_policy_add_net(p, "B", "FR", 0, "/epos/fr")); /* restricted (node default) */
	ASSERT_OK(q_policy_add_net(p, "B", "GE", 1, NULL));      /* open by exception */
	ASSERT_OK(q_policy_add_net(p, "C", "XX", 0, "/epos/xx")); /* not yet defined */
	ASSERT_OK(q_policy_add_net(p, "A", "YY", -1, NULL));     /* not yet defined */
	q_policy_seal(p);
}

/* Parses pairs; returns the status (0 when valid) and leaves the error text in e. */
static int parse(struct query *q, enum q_endpoint ep, int op, const struct q_pair *pairs, size_t n,
                 struct q_error *e)
{
	struct q_policy p;
	int rc;

	policy(&p);
	q_error_init(e, q_wants_json(pairs, n));
	rc = q_parse(q, ep, op, pairs, n, "raw", &p, e);
	q_policy_fini(&p);
	if (rc == 0)
		ASSERT_EQ(e->status, 0);
	else
		ASSERT(e->status != 0);
	return rc == 0 ? 0 : e->status;
}

static const char *body(const struct q_error *e)
{
	static char buf[2048];

	q_error_body(e, buf, sizeof(buf));
	return buf;
}

TEST(query_start_required)
{
	struct q_pair pp[] = { { "end", "2022-01" }, { "wrong", "x" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, NP(pp), &e), 400);
	ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Specify at least 'start' parameter</p>");
	q_query_fini(&q);
}

TEST(query_valid_defaults)
{
	struct q_pair pp[] = { { "start", "2021-5" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, NP(pp), &e), 0);
	ASSERT_EQ(q.start, 2021 * 12 + 4);
	ASSERT_EQ(q.has_end, 0);
	ASSERT_EQ(q.json, 0);
	ASSERT_EQ(q.hllvalues, 0);
	ASSERT_EQ(q.level, Q_LEVEL_NONE);
	ASSERT_EQ(q.details, 0);
	ASSERT_STREQ(q.raw, "raw");
	q_query_fini(&q);
}

TEST(query_dates)
{
	static const char *const bad[] = {
		"2022-13", "2022-0", "2022-00", "22-01", "2022-01-01", "2022-1x", "2022/01",
		"0000-01", "", "2022-", "2022-001", "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x92-01",
		" 2022-01", "2022-01 "
	};
	static const char *const good[] = { "2022-01", "2022-1", "2022-12", "0001-01" };
	struct query q;
	struct q_error e;

	for (size_t i = 0; i < NP(bad); i++) {
		struct q_pair pp[] = { { "start", "2022-01" }, { "end", bad[i] } };

		ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, NP(pp), &e), 400);
		ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Unsupported value for parameter 'end'</p>");
		q_query_fini(&q);
	}
	for (size_t i = 0; i < NP(good); i++) {
		struct q_pair pp[] = { { "start", good[i] }, { "end", good[i] } };

		ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, NP(pp), &e), 0);
		ASSERT_EQ(q.has_end, 1);
		ASSERT_EQ(q.start, q.end);
		q_query_fini(&q);
	}
}

TEST(query_unknown_parameter_repr_escaped)
{
	struct q_pair p1[] = { { "start", "2022-01" }, { "wrong", "stg" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "it's", "1" } };
	struct q_pair p3[] = { { "start", "2022-01" }, { "<b>&\n", "1" } };
	struct q_pair p4[] = { { "start", "2022-01" }, { "station", "X" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p1, NP(p1), &e), 400);
	ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Invalid parameter 'wrong'</p>");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Invalid parameter \"it's\"</p>");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p3, NP(p3), &e), 400);
	ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Invalid parameter '&lt;b&gt;&amp;\\n'</p>");
	q_query_fini(&q);
	/* station is a restricted parameter only. */
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p4, NP(p4), &e), 400);
	ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Invalid parameter 'station'</p>");
	q_query_fini(&q);
}

TEST(query_py_repr)
{
	char out[64];

	q_py_repr("abc", out, sizeof(out));
	ASSERT_STREQ(out, "'abc'");
	q_py_repr("a'b\"c", out, sizeof(out));
	ASSERT_STREQ(out, "'a\\'b\"c'");
	q_py_repr("a\\b\t\x01\x7f", out, sizeof(out));
	ASSERT_STREQ(out, "'a\\\\b\\t\\x01\\x7f'");
	q_py_repr("\xc3\xa9\xff", out, sizeof(out));
	ASSERT_STREQ(out, "'\xc3\xa9\\xff'");
	/* Cut at a character boundary, quotes kept. */
	q_py_repr("abcdefghijklmnop", out, 8);
	ASSERT_STREQ(out, "'abcde'");
}

TEST(query_json_errors)
{
	/* format=json anywhere (the last one) makes every error JSON, even one found before it. */
	struct q_pair p1[] = { { "start", "2022-01" }, { "wrong", "stg" }, { "format", "json" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "format", "json" }, { "format", "csv" },
	                       { "wrong", "x" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p1, NP(p1), &e), 400);
	ASSERT_STREQ(body(&e), "{\"code\": 400, \"message\": \"Invalid parameter 'wrong'\"}");
	ASSERT_STREQ(q_error_content_type(&e), "application/json");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(q_error_content_type(&e), "text/html; charset=UTF-8");
	q_query_fini(&q);

	q_error_init(&e, 1);
	q_error_set(&e, 401, Q_MSG_401_PUBLIC);
	ASSERT_STREQ(body(&e), "{\"code\": 401, \"message\": \"No access to restricted networks for "
	             "non-authenticated users If you are a member of EIDA consider using /restricted "
	             "method instead\"}");
	e.json = 0;
	ASSERT_STREQ(body(&e), "<h1>401 Unauthorized</h1><p>No access to restricted networks for "
	             "non-authenticated users<br>If you are a member of EIDA consider using /restricted "
	             "method instead</p>");
	q_error_init(&e, 0);
	q_error_set(&e, 500, NULL);
	ASSERT_STREQ(body(&e), "<h1>500 Internal Server Error</h1>");
	e.json = 1;
	ASSERT_STREQ(body(&e), "{\"code\": 500, \"message\": \"500 Internal Server Error\"}");
	/* A name with non-ASCII text is \u-escaped in JSON. */
	{
		struct q_pair p3[] = { { "start", "2022-01" }, { "\xc3\xa9", "1" }, { "format", "json" } };

		ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p3, NP(p3), &e), 400);
		ASSERT_STREQ(body(&e), "{\"code\": 400, \"message\": \"Invalid parameter '\\u00e9'\"}");
		q_query_fini(&q);
	}
}

TEST(query_order_of_checks)
{
	/* The first failing parameter in query order wins. */
	struct q_pair p1[] = { { "start", "2022-01" }, { "level", "x" }, { "wrong", "1" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "wrong", "1" }, { "level", "x" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p1, NP(p1), &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'level'");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(e.msg, "Invalid parameter 'wrong'");
	q_query_fini(&q);
}

TEST(query_single_value_last_wins)
{
	struct q_pair p1[] = { { "start", "bad" }, { "start", "2022-01" }, { "format", "x" },
	                       { "format", "json" }, { "hllvalues", "true" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "format", "json" }, { "format", "xml" } };
	struct q_pair p3[] = { { "start", "2022-01" }, { "hllvalues", "True" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p1, NP(p1), &e), 0);
	ASSERT_EQ(q.start, 2022 * 12);
	ASSERT_EQ(q.json, 1);
	ASSERT_EQ(q.hllvalues, 1);
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'format'");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p3, NP(p3), &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'hllvalues'");
	q_query_fini(&q);
}

TEST(query_levels)
{
	static const char *const lv[] = { "node", "network", "station", "location", "channel" };
	struct query q;
	struct q_error e;

	for (int i = 0; i < 5; i++) {
		struct q_pair pp[] = { { "start", "2022-01" }, { "level", lv[i] }, { "network", "FR" } };

		ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, NP(pp), &e), i < 2 ? 0 : 400);
		if (i < 2)
			ASSERT_EQ(q.level, Q_LEVEL_NODE + i);
		q_query_fini(&q);
		ASSERT_EQ(parse(&q, Q_RESTRICTED, 0, pp, NP(pp), &e), 0);
		ASSERT_EQ(q.level, Q_LEVEL_NODE + i);
		q_query_fini(&q);
	}
	{
		struct q_pair pp[] = { { "start", "2022-01" }, { "level", "Node" } };

		ASSERT_EQ(parse(&q, Q_RESTRICTED, 1, pp, NP(pp), &e), 400);
		q_query_fini(&q);
	}
}

TEST(query_nonet)
{
	struct q_pair p1[] = { { "start", "2022-01" }, { "wrong", "1" }, { "station", "ABC" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "level", "station" } };
	struct q_pair p3[] = { { "start", "2022-01" }, { "wrong", "1" }, { "level", "station" } };
	struct query q;
	struct q_error e;

	/* Before the loop: the station filter without network beats the unknown name. */
	ASSERT_EQ(parse(&q, Q_RESTRICTED, 0, p1, NP(p1), &e), 400);
	ASSERT_STREQ(e.msg, Q_MSG_NONET);
	q_query_fini(&q);
	/* Operators are exempt. */
	ASSERT_EQ(parse(&q, Q_RESTRICTED, 1, p2, NP(p2), &e), 0);
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_RESTRICTED, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(e.msg, Q_MSG_NONET);
	q_query_fini(&q);
	/* In the loop: the level check comes after an earlier unknown name. */
	ASSERT_EQ(parse(&q, Q_RESTRICTED, 0, p3, NP(p3), &e), 400);
	ASSERT_STREQ(e.msg, "Invalid parameter 'wrong'");
	q_query_fini(&q);
}

TEST(query_details)
{
	struct q_pair p1[] = { { "start", "2022-01" }, { "details", "month,country" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "details", "year" }, { "details", "month" } };
	struct q_pair p3[] = { { "start", "2022-01" }, { "details", "" } };
	struct q_pair p4[] = { { "start", "2022-01" }, { "details", "month,day" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p1, NP(p1), &e), 0);
	ASSERT_EQ(q.details, Q_DETAIL_MONTH | Q_DETAIL_COUNTRY);
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(body(&e), "<h1>400 Bad Request</h1><p>Only one of 'month' or 'year' details can be requested each time</p>");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p3, NP(p3), &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'details'");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p4, NP(p4), &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'details'");
	q_query_fini(&q);
}

TEST(query_lists)
{
	struct q_pair p1[] = { { "start", "2022-01" }, { "country", "GR,FR" }, { "node", "A" },
	                       { "country", "SP" }, { "node", "B,C" }, { "network", "Z3,FR" },
	                       { "network", "F*" } };
	struct q_pair p2[] = { { "start", "2022-01" }, { "node", "A,D" } };
	struct q_pair p3[] = { { "start", "2022-01" }, { "node", "" } };
	struct q_pair p4[] = { { "start", "2022-01" }, { "country", "" } };
	struct q_pair p5[] = { { "start", "2022-01" }, { "network", "Z3,F*" }, { "network", "G?" },
	                       { "station", "A*,B?C" } };
	struct query q;
	struct q_error e;

	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p1, NP(p1), &e), 0);
	ASSERT_EQ(q.country.n, 3);
	ASSERT_STREQ(q.country.v[2], "SP");
	ASSERT_EQ(q.node.n, 3);
	ASSERT_STREQ(q.node.v[1], "B");
	/* One-network rule: the last occurrence, whole, wildcards translated. */
	ASSERT_EQ(q.network.n, 1);
	ASSERT_STREQ(q.network.v[0], "F%");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p2, NP(p2), &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'node'");
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p3, NP(p3), &e), 400);
	q_query_fini(&q);
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, p4, NP(p4), &e), 0);
	ASSERT_EQ(q.country.n, 1);
	ASSERT_STREQ(q.country.v[0], "");
	q_query_fini(&q);
	/* Restricted non-operator: one network, not split. */
	ASSERT_EQ(parse(&q, Q_RESTRICTED, 0, p5, NP(p5), &e), 0);
	ASSERT_EQ(q.network.n, 1);
	ASSERT_STREQ(q.network.v[0], "G_");
	ASSERT_EQ(q.station.n, 2);
	ASSERT_STREQ(q.station.v[0], "A%");
	ASSERT_STREQ(q.station.v[1], "B_C");
	q_query_fini(&q);
	/* Operator: the lists of every occurrence. */
	ASSERT_EQ(parse(&q, Q_RESTRICTED, 1, p5, NP(p5), &e), 0);
	ASSERT_EQ(q.network.n, 3);
	ASSERT_STREQ(q.network.v[1], "F%");
	ASSERT_STREQ(q.network.v[2], "G_");
	q_query_fini(&q);
}

TEST(query_limits)
{
	struct q_pair *pp = calloc(Q_MAX_PAIRS + 1, sizeof(*pp));
	char *big = malloc(Q_MAX_VALUE + 2);
	char *many = malloc(2 * Q_MAX_ITEMS + 4);
	struct query q;
	struct q_error e;

	ASSERT(pp && big && many);
	for (size_t i = 0; i <= Q_MAX_PAIRS; i++) {
		pp[i].name = "country";
		pp[i].value = "GR";
	}
	pp[0].name = "start";
	pp[0].value = "2022-01";
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, Q_MAX_PAIRS + 1, &e), 400);
	q_query_fini(&q);
	memset(big, 'A', Q_MAX_VALUE + 1);
	big[Q_MAX_VALUE + 1] = '\0';
	pp[1].value = big;
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, 2, &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'country'");
	q_query_fini(&q);
	for (int i = 0; i <= Q_MAX_ITEMS; i++) {
		many[2 * i] = 'x';
		many[2 * i + 1] = ',';
	}
	many[2 * Q_MAX_ITEMS + 1] = '\0';
	pp[1].value = many;
	ASSERT_EQ(parse(&q, Q_PUBLIC, 0, pp, 2, &e), 400);
	ASSERT_STREQ(e.msg, "Unsupported value for parameter 'country'");
	q_query_fini(&q);
	free(pp);
	free(big);
	free(many);
}

TEST(query_policy_states)
{
	struct q_policy p;
	const char *g;
	char *ops[] = { "/op/a" }, *z3[] = { "/epos/z3" }, *xx[] = { "/epos/xx" };

	policy(&p);
	ASSERT_EQ(q_policy_state(&p, "A", "FR", &g), Q_OPEN);
	ASSERT(g == NULL);
	ASSERT_EQ(q_policy_state(&p, "A", "Z3", &g), Q_RESTRICTED_STATE);
	ASSERT_STREQ(g, "/epos/z3");
	ASSERT_EQ(q_policy_state(&p, "B", "FR", NULL), Q_RESTRICTED_STATE);
	ASSERT_EQ(q_policy_state(&p, "B", "GE", NULL), Q_OPEN);
	ASSERT_EQ(q_policy_state(&p, "C", "XX", NULL), Q_UNDEFINED);
	ASSERT_EQ(q_policy_state(&p, "A", "YY", NULL), Q_UNDEFINED);
	ASSERT_EQ(q_policy_state(&p, "A", "NO", NULL), Q_UNDEFINED);
	ASSERT_EQ(q_policy_has_net(&p, "A", "NO"), 0);
	ASSERT_EQ(q_policy_is_operator(&p, ops, 1), 1);
	ASSERT_EQ(q_policy_is_operator(&p, z3, 1), 0);
	ASSERT_EQ(q_policy_is_operator(&p, NULL, 0), 0);
	ASSERT_EQ(q_policy_visible(&p, "A", "FR", 0, NULL, 0), 1);
	ASSERT_EQ(q_policy_visible(&p, "A", "Z3", 0, z3, 1), 0);   /* public never */
	ASSERT_EQ(q_policy_visible(&p, "A", "Z3", 1, z3, 1), 1);
	ASSERT_EQ(q_policy_visible(&p, "A", "Z3", 1, xx, 1), 0);
	/* Not yet defined: treated as restricted (fail-closed). */
	ASSERT_EQ(q_policy_visible(&p, "C", "XX", 0, NULL, 0), 0);
	ASSERT_EQ(q_policy_visible(&p, "C", "XX", 1, xx, 1), 1);
	ASSERT_EQ(q_policy_visible(&p, "A", "YY", 1, xx, 1), 0);
	q_policy_fini(&p);
}

/* Runs the pre-check of a parsed request; returns its status (0 = passes). */
static int precheck(enum q_endpoint ep, int op, const struct q_pair *pp, size_t n,
                    char *const *groups, size_t ng)
{
	struct q_policy p;
	struct query q;
	struct q_error e;
	int st;

	policy(&p);
	q_error_init(&e, 0);
	ASSERT_OK(q_parse(&q, ep, op, pp, n, "", &p, &e));
	st = q_precheck(&q, &p, groups, ng, &e) == 0 ? 0 : e.status;
	if (st == 400)
		ASSERT_STREQ(e.msg, Q_MSG_NO_ENTRY);
	if (st == 401)
		ASSERT_STREQ(e.msg, Q_MSG_401_PUBLIC);
	if (st == 403)
		ASSERT_STREQ(e.msg, Q_MSG_403);
	q_query_fini(&q);
	q_policy_fini(&p);
	return st;
}

TEST(query_precheck)
{
	char *z3[] = { "/epos/z3" }, *fr[] = { "/epos/fr" }, *xx[] = { "/epos/xx" };
	struct q_pair fr_any[] = { { "start", "2022-01" }, { "network", "FR" } };
	struct q_pair fr_b[] = { { "start", "2022-01" }, { "network", "FR" }, { "node", "B" } };
	struct q_pair z3_a[] = { { "start", "2022-01" }, { "network", "Z3" } };
	struct q_pair none[] = { { "start", "2022-01" }, { "network", "Z3,FR" } };
	struct q_pair wild[] = { { "start", "2022-01" }, { "network", "F*" } };
	struct q_pair xx_c[] = { { "start", "2022-01" }, { "network", "XX" } };
	struct q_pair nonet[] = { { "start", "2022-01" } };

	ASSERT_EQ(precheck(Q_PUBLIC, 0, nonet, NP(nonet), NULL, 0), 0);
	/* FR is open at A: passes, although restricted at B. */
	ASSERT_EQ(precheck(Q_PUBLIC, 0, fr_any, NP(fr_any), NULL, 0), 0);
	ASSERT_EQ(precheck(Q_PUBLIC, 0, fr_b, NP(fr_b), NULL, 0), 401);
	ASSERT_EQ(precheck(Q_RESTRICTED, 0, fr_b, NP(fr_b), z3, 1), 403);
	ASSERT_EQ(precheck(Q_RESTRICTED, 0, fr_b, NP(fr_b), fr, 1), 0);
	ASSERT_EQ(precheck(Q_PUBLIC, 0, z3_a, NP(z3_a), NULL, 0), 401);
	ASSERT_EQ(precheck(Q_RESTRICTED, 0, z3_a, NP(z3_a), z3, 1), 0);
	ASSERT_EQ(precheck(Q_PUBLIC, 0, none, NP(none), NULL, 0), 400);
	ASSERT_EQ(precheck(Q_PUBLIC, 0, wild, NP(wild), NULL, 0), 400);
	/* Not yet defined never passes for the public... */
	ASSERT_EQ(precheck(Q_PUBLIC, 0, xx_c, NP(xx_c), NULL, 0), 401);
	/* ...and, treated as restricted, passes for its group's members. */
	ASSERT_EQ(precheck(Q_RESTRICTED, 0, xx_c, NP(xx_c), xx, 1), 0);
	ASSERT_EQ(precheck(Q_RESTRICTED, 0, xx_c, NP(xx_c), z3, 1), 403);
	/* Operators skip it. */
	ASSERT_EQ(precheck(Q_RESTRICTED, 1, none, NP(none), NULL, 0), 0);
}

TEST(query_folds)
{
	struct query q = { 0 };

	q.endpoint = Q_PUBLIC;
	q.level = Q_LEVEL_NODE;
	ASSERT_EQ(q_folds(&q), 0);
	q.level = Q_LEVEL_NETWORK;
	ASSERT_EQ(q_folds(&q), 1);
	q.endpoint = Q_RESTRICTED;
	q.level = Q_LEVEL_CHANNEL;
	ASSERT_EQ(q_folds(&q), 1);
	q.is_operator = 1;
	ASSERT_EQ(q_folds(&q), 0);
	q.is_operator = 0;
	q.level = Q_LEVEL_NONE;
	ASSERT_EQ(q_folds(&q), 0);
}

static void sql_of(struct q_sql *s, enum q_endpoint ep, int op, const struct q_pair *pp, size_t n,
                   int roll)
{
	struct q_policy p;
	struct query q;
	struct q_error e;

	policy(&p);
	q_error_init(&e, 0);
	ASSERT_OK(q_parse(&q, ep, op, pp, n, "", &p, &e));
	ASSERT_OK(q_sql_build(&q, roll, s));
	q_query_fini(&q);
	q_policy_fini(&p);
}

TEST(query_sql_parameters)
{
	struct q_pair pp[] = { { "start", "2021-12" }, { "end", "2022-12" }, { "country", "G'R" },
	                       { "node", "A" }, { "network", "F*" }, { "network", "FR" },
	                       { "level", "network" }, { "details", "month,country" } };
	struct q_sql s;

	sql_of(&s, Q_RESTRICTED, 1, pp, NP(pp), 1);
	ASSERT_EQ(s.rollup, 1);
	ASSERT(strstr(s.text, "FROM dataselect_rollup s") != NULL);
	/* No value is pasted into the text. */
	ASSERT(strstr(s.text, "G'R") == NULL);
	ASSERT(strstr(s.text, "'FR'") == NULL && strstr(s.text, "F%") == NULL);
	ASSERT_EQ(s.nparams, 6);
	ASSERT_STREQ(s.params[0], "2021-12-01");
	ASSERT_STREQ(s.params[1], "2023-01-01"); /* end month included: up to the next month */
	ASSERT_STREQ(s.params[2], "A");
	ASSERT_STREQ(s.params[3], "F%");
	ASSERT_STREQ(s.params[4], "FR");
	ASSERT_STREQ(s.params[5], "G'R");
	/* LIKE only for the value holding a wildcard. */
	ASSERT(strstr(s.text, "s.network LIKE $4::text OR s.network = $5::text") != NULL);
	ASSERT(strstr(s.text, "to_char(s.month, 'YYYY-MM')") != NULL);
	/* Each group is one rollup row: read in order, no aggregate. */
	ASSERT(strstr(s.text, "GROUP BY") == NULL && strstr(s.text, "hll_union_agg") == NULL);
	ASSERT(strstr(s.text, " ORDER BY s.month, n.name::text COLLATE \"C\", s.network::text COLLATE \"C\", "
	                      "s.country::text COLLATE \"C\"") != NULL);
	q_sql_fini(&s);
	sql_of(&s, Q_RESTRICTED, 1, pp, NP(pp), 0);
	ASSERT_EQ(s.rollup, 0);
	ASSERT(strstr(s.text, "FROM dataselect_stats s") != NULL);
	q_sql_fini(&s);
}

TEST(query_sql_choice)
{
	struct q_pair total[] = { { "start", "2021-01" } };
	struct q_pair st[] = { { "start", "2021-01" }, { "network", "FR" }, { "station", "ABC" } };
	struct q_pair lv[] = { { "start", "2021-01" }, { "network", "FR" }, { "level", "station" } };
	struct q_pair pub[] = { { "start", "2021-01" }, { "network", "F*" }, { "details", "year" } };
	struct q_pair nm[] = { { "start", "2021-01" }, { "level", "node" }, { "details", "month" } };
	struct q_pair nyc[] = { { "start", "2021-02" }, { "level", "node" }, { "details", "year,country" } };
	struct q_pair wy[] = { { "start", "2020-01" }, { "end", "2021-12" }, { "level", "node" },
	                       { "details", "year,country" } };
	struct q_pair wyo[] = { { "start", "2021-01" }, { "level", "node" }, { "details", "year,country" } };
	struct q_pair py[] = { { "start", "2020-01" }, { "end", "2021-11" }, { "level", "node" },
	                       { "details", "year,country" } };
	struct q_pair ty[] = { { "start", "2020-01" }, { "end", "2020-12" }, { "details", "year" },
	                       { "country", "FR" } };
	struct q_pair ny[] = { { "start", "2020-01" }, { "level", "node" }, { "details", "year" } };
	struct q_pair nwy[] = { { "start", "2020-01" }, { "level", "network" }, { "details", "year,country" } };
	struct q_pair tc[] = { { "start", "2021-01" }, { "country", "FR" } };
	struct q_sql s;

	sql_of(&s, Q_PUBLIC, 0, total, NP(total), 1);
	ASSERT_EQ(s.rollup, 3);
	ASSERT(strstr(s.text, "FROM dataselect_rollup_node s") != NULL);
	ASSERT_EQ(s.nparams, 1); /* no upper bound */
	ASSERT(strstr(s.text, "HAVING count(*) > 0") != NULL);
	ASSERT(strstr(s.text, "GROUP BY") == NULL);
	q_sql_fini(&s);
	sql_of(&s, Q_RESTRICTED, 0, st, NP(st), 1);
	ASSERT_EQ(s.rollup, 0);
	ASSERT(strstr(s.text, "s.station = $3::text") != NULL);
	q_sql_fini(&s);
	sql_of(&s, Q_RESTRICTED, 0, lv, NP(lv), 1);
	ASSERT_EQ(s.rollup, 0);
	ASSERT(strstr(s.text, "GROUP BY n.name::text, s.network::text, s.station::text") != NULL);
	q_sql_fini(&s);
	/* Public network filters are exact, wildcard or not. */
	sql_of(&s, Q_PUBLIC, 0, pub, NP(pub), 1);
	ASSERT_EQ(s.rollup, 1);
	ASSERT(strstr(s.text, "s.network = $2::text") != NULL);
	ASSERT(strstr(s.text, "to_char(date_trunc('year', s.month::timestamp), 'YYYY')") != NULL);
	ASSERT(strstr(s.text, "GROUP BY date_trunc('year', s.month::timestamp), n.name::text COLLATE \"C\", "
	                      "s.network::text COLLATE \"C\" ORDER BY date_trunc('year'") == NULL); /* no level */
	ASSERT(strstr(s.text, "GROUP BY date_trunc('year', s.month::timestamp) ORDER BY "
	                      "date_trunc('year', s.month::timestamp)") != NULL);
	q_sql_fini(&s);
	/* Node level by month: one row of dataselect_rollup_node per group. */
	sql_of(&s, Q_PUBLIC, 0, nm, NP(nm), 1);
	ASSERT_EQ(s.rollup, 3);
	ASSERT(strstr(s.text, "GROUP BY") == NULL && strstr(s.text, "hll_union_agg") == NULL);
	ASSERT(strstr(s.text, " ORDER BY s.month, n.name::text COLLATE \"C\"") != NULL);
	q_sql_fini(&s);
	/* By year and country over part of a year: the country rollup, grouped and ordered by the same keys. */
	sql_of(&s, Q_PUBLIC, 0, nyc, NP(nyc), 1);
	ASSERT_EQ(s.rollup, 2);
	ASSERT(strstr(s.text, "GROUP BY date_trunc('year', s.month::timestamp), n.name::text COLLATE \"C\", "
	                      "s.country::text COLLATE \"C\" ORDER BY date_trunc('year', s.month::timestamp), "
	                      "n.name::text COLLATE \"C\", s.country::text COLLATE \"C\"") != NULL);
	q_sql_fini(&s);
	/* Over whole years (a December end, or none): one row of the (node, year, country) rollup per group. */
	sql_of(&s, Q_PUBLIC, 0, wy, NP(wy), 1);
	ASSERT_EQ(s.rollup, 4);
	ASSERT(strstr(s.text, "FROM dataselect_rollup_node_year_country s") != NULL);
	ASSERT(strstr(s.text, "GROUP BY") == NULL && strstr(s.text, "hll_union_agg") == NULL);
	ASSERT(strstr(s.text, "s.year >= $1::date AND s.year < $2::date") != NULL);
	ASSERT(strcmp(s.params[0], "2020-01-01") == 0 && strcmp(s.params[1], "2022-01-01") == 0);
	ASSERT(strstr(s.text, " ORDER BY s.year, n.name::text COLLATE \"C\", s.country::text COLLATE \"C\"") != NULL);
	q_sql_fini(&s);
	sql_of(&s, Q_PUBLIC, 0, wyo, NP(wyo), 1);
	ASSERT_EQ(s.rollup, 4);
	ASSERT_EQ(s.nparams, 1);
	q_sql_fini(&s);
	/* A November end is part of a year. */
	sql_of(&s, Q_PUBLIC, 0, py, NP(py), 1);
	ASSERT_EQ(s.rollup, 2);
	q_sql_fini(&s);
	/* Whole years with a country filter and no level: the rows are summed and united. */
	sql_of(&s, Q_PUBLIC, 0, ty, NP(ty), 1);
	ASSERT_EQ(s.rollup, 4);
	ASSERT(strstr(s.text, "GROUP BY s.year ORDER BY s.year") != NULL);
	ASSERT(strstr(s.text, "hll_union_agg(s.clients)") != NULL);
	q_sql_fini(&s);
	/* Without countries the (node, month) rollup has fewer rows per year. */
	sql_of(&s, Q_PUBLIC, 0, ny, NP(ny), 1);
	ASSERT_EQ(s.rollup, 3);
	q_sql_fini(&s);
	/* Network level needs the network rollup whatever the range. */
	sql_of(&s, Q_PUBLIC, 0, nwy, NP(nwy), 1);
	ASSERT_EQ(s.rollup, 1);
	q_sql_fini(&s);
	/* A country filter needs the country rollup. */
	sql_of(&s, Q_PUBLIC, 0, tc, NP(tc), 1);
	ASSERT_EQ(s.rollup, 2);
	q_sql_fini(&s);
}

/* Random bytes as names and values: always a clean answer, never a crash (run under the sanitizers). */
TEST(query_random_input)
{
	static const char *const names[] = { "start", "end", "format", "hllvalues", "level", "details",
	                                     "node", "network", "station", "location", "channel",
	                                     "country", "x" };
	static const char alphabet[] = "0123456789-,*?%_'\"<>&\\" "\xc3\xa9\xff" "abcdefnorwjmythsFRZ";
	uint32_t seed = 12345;
	char vals[8][24];
	struct q_policy p;

	policy(&p);
	for (int round = 0; round < 3000; round++) {
		struct q_pair pp[8];
		size_t n = 1 + round % 8;
		struct query q;
		struct q_error e;
		struct q_sql s;
		char buf[2048];
		int rc;

		for (size_t i = 0; i < n; i++) {
			size_t len;

			seed = seed * 1103515245u + 12345u;
			len = (seed >> 16) % 12;
			for (size_t k = 0; k < len; k++) {
				seed = seed * 1103515245u + 12345u;
				/* Mostly characters that matter to the checks. */
				vals[i][k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			}
			vals[i][len] = '\0';
			pp[i].name = names[(seed >> 8) % (sizeof(names) / sizeof(names[0]))];
			pp[i].value = vals[i];
		}
		if (round % 3 == 0) {
			pp[0].name = "start";
			pp[0].value = "2021-01";
		}
		q_error_init(&e, q_wants_json(pp, n));
		rc = q_parse(&q, round % 2 ? Q_RESTRICTED : Q_PUBLIC, round % 5 == 0, pp, n, "r", &p, &e);
		if (rc == 0) {
			ASSERT_EQ(e.status, 0);
			if (q_precheck(&q, &p, NULL, 0, &e) < 0)
				ASSERT(e.status == 400 || e.status == 401 || e.status == 403);
			ASSERT_OK(q_sql_build(&q, round % 2, &s));
			ASSERT(s.text && strstr(s.text, "SELECT") == s.text);
			q_sql_fini(&s);
		} else {
			ASSERT(e.status == 400 || e.status == 500);
			ASSERT(q_error_body(&e, buf, sizeof(buf)) > 0);
		}
		q_query_fini(&q);
	}
	q_policy_fini(&p);
}

/* The stored counts of dataselect_rollup (sql/010): sets only of the rows the caller may not see. */
TEST(query_sql_stored_counts)
{
	struct q_pair pp[] = { { "start", "2021-01" }, { "level", "network" },
	                       { "details", "month,country" } };
	struct q_pair ph[] = { { "start", "2021-01" }, { "level", "network" },
	                       { "details", "month,country" }, { "hllvalues", "true" } };
	struct q_pair pn[] = { { "start", "2021-01" }, { "level", "node" }, { "details", "month" } };
	char *groups[] = { "/epos/fr" };
	struct q_policy p;
	struct query q;
	struct q_error e;
	struct q_sql s;

	policy(&p);
	ASSERT_OK(q_policy_add_node(&p, "Q\"\\", 0, NULL));
	ASSERT_OK(q_policy_add_net(&p, "Q\"\\", "FR", 0, NULL));
	q_policy_seal(&p);
	q_error_init(&e, 0);
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, pp, NP(pp), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT_EQ(s.rollup, 1);
	ASSERT_EQ(s.date_order, 1);
	ASSERT(strstr(s.text, "s.clients_card::text FROM dataselect_rollup s") != NULL);
	ASSERT(strstr(s.text, "NOT IN (SELECT * FROM unnest($1::text[], $2::text[])) THEN s.clients END") != NULL);
	ASSERT(strstr(s.text, " ORDER BY s.month") == s.text + strlen(s.text) - strlen(" ORDER BY s.month"));
	/* The pairs the public may see, quoted as array elements. */
	ASSERT_EQ(s.nparams, 3);
	ASSERT_STREQ(s.params[0], "{\"A\",\"B\",\"Q\\\"\\\\\"}");
	ASSERT_STREQ(s.params[1], "{\"FR\",\"GE\",\"FR\"}");
	q_sql_fini(&s);
	q_query_fini(&q);
	/* A member of /epos/fr sees B/FR too. */
	ASSERT_OK(q_parse(&q, Q_RESTRICTED, 0, pp, NP(pp), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, groups, 1, &s));
	ASSERT_STREQ(s.params[0], "{\"A\",\"B\",\"B\",\"Q\\\"\\\\\"}");
	ASSERT_STREQ(s.params[1], "{\"FR\",\"FR\",\"GE\",\"FR\"}");
	q_sql_fini(&s);
	/* The raw table, or no policy: every set, in the SQL's full order. */
	ASSERT_OK(q_sql_build_for(&q, 0, &p, groups, 1, &s));
	ASSERT_EQ(s.date_order, 0);
	ASSERT(strstr(s.text, "clients_card") == NULL);
	q_sql_fini(&s);
	ASSERT_OK(q_sql_build(&q, 1, &s));
	ASSERT_EQ(s.date_order, 0);
	ASSERT(strstr(s.text, "clients_card") == NULL && strstr(s.text, ", s.clients, 't', NULL::text") != NULL);
	q_sql_fini(&s);
	q_query_fini(&q);
	/* An operator's rows never fold: no set at all. */
	ASSERT_OK(q_parse(&q, Q_RESTRICTED, 1, pp, NP(pp), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT_EQ(s.date_order, 1);
	ASSERT(strstr(s.text, "CASE WHEN s.clients_card IS NULL THEN s.clients END, 't', s.clients_card") != NULL);
	ASSERT_EQ(s.nparams, 1);
	q_sql_fini(&s);
	q_query_fini(&q);
	/* hllvalues needs every set; node level is another rollup. */
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, ph, NP(ph), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT_EQ(s.date_order, 0);
	ASSERT(strstr(s.text, "clients_card") == NULL);
	q_sql_fini(&s);
	q_query_fini(&q);
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, pn, NP(pn), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT_EQ(s.date_order, 0);
	ASSERT(strstr(s.text, "clients_card") == NULL);
	q_sql_fini(&s);
	q_query_fini(&q);
	q_policy_fini(&p);
}

/* Network level by month and country over a closed range of at most Q_PACK_MONTHS months reads the packs (sql/012). */
TEST(query_sql_packs)
{
	struct q_pair pp[] = { { "start", "2021-01" }, { "end", "2021-12" }, { "level", "network" },
	                       { "details", "month,country" }, { "node", "A" } };
	struct q_pair plong[] = { { "start", "2021-01" }, { "end", "2024-01" }, { "level", "network" },
	                          { "details", "month,country" } };
	struct q_pair pnet[] = { { "start", "2021-01" }, { "end", "2021-12" }, { "level", "network" },
	                         { "details", "month,country" }, { "network", "FR" } };
	struct q_pair pnoend[] = { { "start", "2021-01" }, { "level", "network" }, { "details", "month,country" } };
	char *pn[] = { "A", "B" }, *pw[] = { "Z3", "F\"R" }, *wn[] = { "B" }, *wm[] = { "2021-03" };
	struct q_fold_keys k = { pn, pw, 2, 2, wn, wm, 1, 1 };
	struct q_policy p;
	struct query q;
	struct q_error e;
	struct q_sql s;

	policy(&p);
	q_error_init(&e, 0);
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, pp, NP(pp), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT_EQ(s.packs, 1);
	ASSERT_EQ(s.date_order, 0);
	ASSERT(strstr(s.text, " FROM dataselect_rollup_pack s JOIN nodes n ON n.id = s.node_id WHERE s.month >= $1::date"
	                      " AND s.month < $2::date AND (n.name = $3::text) ORDER BY s.month, n.name COLLATE \"C\"")
	       != NULL);
	ASSERT_STREQ(s.params[0], "2021-01-01");
	ASSERT_STREQ(s.params[1], "2022-01-01");
	q_sql_fini(&s);
	/* Its folded sets: the pairs' rows but those of whole node-months, and those by country. */
	ASSERT_OK(q_sql_build_folds(&q, &k, &s));
	ASSERT_EQ(s.nparams, 8);
	ASSERT_STREQ(s.params[0], "{\"A\",\"B\"}");
	ASSERT_STREQ(s.params[1], "{\"Z3\",\"F\\\"R\"}");
	ASSERT_STREQ(s.params[4], "{\"B\"}");
	ASSERT_STREQ(s.params[5], "{\"2021-03\"}");
	ASSERT(strstr(s.text, "JOIN dataselect_rollup s ON s.node_id = n.id AND s.network = u.network") != NULL);
	ASSERT(strstr(s.text, "JOIN dataselect_rollup_country c ON c.node_id = n.id") != NULL);
	q_sql_fini(&s);
	q_query_fini(&q);
	/* Too long, open, or filtered by network: the rows of dataselect_rollup. */
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, plong, NP(plong), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT(s.packs == 0 && s.date_order == 1);
	q_sql_fini(&s);
	q_query_fini(&q);
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, pnoend, NP(pnoend), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT(s.packs == 0 && s.date_order == 1);
	q_sql_fini(&s);
	q_query_fini(&q);
	ASSERT_OK(q_parse(&q, Q_PUBLIC, 0, pnet, NP(pnet), "", &p, &e));
	ASSERT_OK(q_sql_build_for(&q, 1, &p, NULL, 0, &s));
	ASSERT_EQ(s.packs, 0);
	q_sql_fini(&s);
	ASSERT_OK(q_sql_build_for(&q, 0, &p, NULL, 0, &s));
	ASSERT_EQ(s.packs, 0);
	q_sql_fini(&s);
	q_query_fini(&q);
	q_policy_fini(&p);
}
