/*
 * gather.h - the data of one report, read from the central database: the
 * federation's, one node's or one network's figures for a period, in the
 * shape of the report.json schema (doc/eidastats-report.8, "report.json").
 *
 * Sources: the rollup tables of sql/004-query.sql for every sum and client
 * union (rows dated by day count in their month), dataselect_stats for the
 * top stations, payloads.coverage for the days each node covered, and the
 * query module (query.h + qrender.h) for the federation's network table, so
 * that it is exactly the public API's level=network answer, restricted
 * networks folded into "Other" by the API's own rule.  `clients` is always
 * hll.h's cardinality of the union the database made (as the API's).
 *
 * Ownership: struct rpt_report owns everything it points to (rpt_report_free);
 * struct rpt_db owns its session and the restriction map (rpt_db_close).
 * Threads: one rpt_db per thread.
 */
#ifndef ES_REPORT_GATHER_H
#define ES_REPORT_GATHER_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "period.h"
#include "query.h"

/* Months of the trend, and rows of the station table. */
#define RPT_TREND 24
#define RPT_TOP_STATIONS 25
/* Bytes of a period's stamp (hex MD5 and NUL). */
#define RPT_STAMP 33

enum rpt_scope { RPT_FEDERATION = 0, RPT_NODE = 1, RPT_NETWORK = 2 };

/* The figures of a group. */
struct rpt_fig {
	int64_t reqs, succ, failed, bytes;
	uint64_t clients;
};

/*
 * One table row: nodes (a = node), networks (a = node, b = network,
 * restricted), countries (a = country, NULL for an unknown one), stations
 * (a = network, b = station), new networks (a = network, restricted,
 * policy_defined).
 */
struct rpt_row {
	char *a, *b;
	struct rpt_fig f;
	int restricted;
	int policy_defined;
	/* Nodes only: a byte per day of the period, 1 when covered; last payload's time or NULL. */
	unsigned char *covered;
	int days_covered;
	char *last_submission;
};

struct rpt_table {
	struct rpt_row *v;
	size_t n, cap;
};

struct rpt_report {
	enum rpt_scope scope;
	struct rpt_period period;
	char *node, *network;           /* Node and network scope. */
	char stamp[RPT_STAMP];
	int64_t payloads;               /* Payloads whose coverage or time span meets the period. */
	char database[256];             /* "DBNAME on HOST". */
	struct rpt_fig totals;
	int has_prev, has_year_before;
	struct rpt_period prev, year_before;
	struct rpt_fig prev_totals, year_before_totals;
	int trend_first;                /* Month index of trend[0]. */
	struct rpt_fig trend[RPT_TREND];
	struct rpt_table nodes, networks, countries, stations, new_networks;
	int nodes_reporting;            /* Nodes with requests in the period. */
};

/* A database session and the restriction map (query.h) of one run. */
struct rpt_db {
	PGconn *pg;
	struct q_policy policy;
};

/* Connects (pgx.h) and loads the restriction map.  0, -ENOTCONN, ES_E* with err set. */
int rpt_db_open(struct rpt_db *db, const char *conninfo, char *err, size_t errlen);
void rpt_db_close(struct rpt_db *db);

/* 0 when the node is known; ES_ECONFIG "unknown node 'X'" otherwise (err set). */
int rpt_db_check_node(struct rpt_db *db, const char *node, char *err, size_t errlen);
/* 0 when the node has that network; ES_ECONFIG otherwise. */
int rpt_db_check_network(struct rpt_db *db, const char *node, const char *net, char *err,
                         size_t errlen);
/* The names of every node (a table of rows with only a set), sorted. */
int rpt_db_nodes(struct rpt_db *db, struct rpt_table *out, char *err, size_t errlen);
/* The (node, network) pairs with a contact (networks.contact) and statistics in the period. */
int rpt_db_contact_networks(struct rpt_db *db, const struct rpt_period *p, struct rpt_table *out,
                            char *err, size_t errlen);
/*
 * The months (month indexes, ascending) that have statistics: *out
 * malloc()ed, the caller frees.
 */
int rpt_db_months(struct rpt_db *db, int **out, size_t *n, char *err, size_t errlen);
/*
 * The freshness stamp of a period (hex MD5): it changes whenever anything
 * the period's reports show may have changed: the payloads whose
 * days_coverage or time span meets the period (count, highest id, latest
 * arrival: any late or re-sent payload changes it, and coverage alone
 * changes missing days), the period's rollup rows (sums and client counts:
 * rows changed by other programs than eidastats-ingestd), the nodes (every
 * node is in every federation report, and a node's policy decides what is
 * public), and the policies and contacts of the networks with statistics
 * in the period (a network first seen in another period changes nothing
 * here).  *payloads gets the count.
 */
int rpt_db_stamp(struct rpt_db *db, const struct rpt_period *p, char stamp[RPT_STAMP],
                 int64_t *payloads, char *err, size_t errlen);

/*
 * Reads one report.  node for RPT_NODE and RPT_NETWORK, network for
 * RPT_NETWORK (checked by the caller).  stamp: the period's (rpt_db_stamp)
 * or NULL to compute it.  0 or a negative code with err set; *r is always
 * left for rpt_report_free.
 */
int rpt_gather(struct rpt_db *db, enum rpt_scope scope, const struct rpt_period *p,
               const char *node, const char *network, const char *stamp, int64_t payloads,
               struct rpt_report *r, char *err, size_t errlen);
void rpt_report_free(struct rpt_report *r);
void rpt_table_free(struct rpt_table *t);

#endif
