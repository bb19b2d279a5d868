/*
 * The query rollup (sql/004-query.sql): `rollup verify` compares it with
 * dataselect_stats, `rollup rebuild` remakes it, both through the SQL
 * functions of that migration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgx.h"

#include "admin.h"

/* Differences listed by `rollup verify`; the count covers them all. */
#define VERIFY_LIST_MAX 200

/* 0 when migration 004's functions are there; -1 after a message. */
static int have_rollup(struct admin *a)
{
	PGresult *res;
	bool ok;

	if (admin_connect(a) < 0 ||
	    admin_exec(a, "SELECT to_regprocedure('eidastats_rollup_verify()') IS NOT NULL"
	                  " AND to_regprocedure('eidastats_rollup_rebuild()') IS NOT NULL",
	               0, NULL, &res, "looking for the rollup") < 0)
		return -1;
	ok = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!ok) {
		fprintf(stderr, "eidastats-admin: this database has no rollup (migration"
		        " 004-query.sql): run `eidastats-admin db init`\n");
		return -1;
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int admin_rollup_verify(struct admin *a)
{
	static const char *const headers[] = { "node", "month", "network", "country", "problem" };
	static const int widths[] = { 16, 7, 7, 7, 0 };
	char limit[16];
	const char *params[1] = { limit };
	PGresult *res;
	long total;
	int n;

	if (a->nargs != 0) {
		fprintf(stderr, "eidastats-admin: rollup verify takes no arguments\n");
		return ADMIN_USAGE;
	}
	if (have_rollup(a) < 0)
		return ADMIN_FAIL;
	snprintf(limit, sizeof limit, "%d", VERIFY_LIST_MAX);
	/* NULL and '' are distinct groups: show which. */
	if (admin_exec(a,
	             "SELECT coalesce(n.name, v.node_id::text), to_char(v.month, 'YYYY-MM'),"
	             " coalesce(v.network::text, 'NULL'),"
	             " CASE WHEN v.country IS NULL THEN 'NULL' WHEN v.country = '' THEN '\"\"'"
	             "   ELSE v.country END, v.problem, count(*) OVER ()"
	             " FROM eidastats_rollup_verify() v LEFT JOIN nodes n ON n.id = v.node_id"
	             " ORDER BY v.node_id, v.month, v.network, v.country LIMIT $1::integer",
	             1, params, &res, "comparing the rollup with dataselect_stats") < 0)
		return ADMIN_FAIL;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		fprintf(stderr, "eidastats-admin: the rollup equals dataselect_stats\n");
		return ADMIN_OK;
	}
	total = atol(PQgetvalue(res, 0, 5));
	admin_print_table(res, 5, headers, widths);
	PQclear(res);
	fprintf(stderr, "eidastats-admin: the rollup differs from dataselect_stats in %ld group(s)"
	        " (node, month, network, country)%s; `eidastats-admin rollup rebuild` remakes it\n",
	        total, total > n ? ", the first listed" : "");
	return ADMIN_FAIL;
}

int admin_rollup_rebuild(struct admin *a)
{
	PGresult *res;
	double start;

	if (a->nargs != 0) {
		fprintf(stderr, "eidastats-admin: rollup rebuild takes no arguments\n");
		return ADMIN_USAGE;
	}
	if (have_rollup(a) < 0)
		return ADMIN_FAIL;
	start = now_seconds();
	/* One statement, one transaction: ingests wait for its lock, then add to the new rows. */
	if (admin_exec(a, "SELECT eidastats_rollup_rebuild()", 0, NULL, &res,
	               "rebuilding the rollup") < 0)
		return ADMIN_FAIL;
	fprintf(stderr, "eidastats-admin: rollup rebuilt from dataselect_stats: %s rows in %.1f s\n",
	        PQgetvalue(res, 0, 0), now_seconds() - start);
	PQclear(res);
	return ADMIN_OK;
}
