/*
 * query.h - the core of the upstream-compatible query API
 * (GET PREFIX/dataselect/public, POST PREFIX/dataselect/restricted),
 * doc/query-api.md: parameter parsing and validation in upstream's order and
 * with upstream's texts, error answers (HTML fragment or JSON), the
 * restriction map with its pre-check and operator test, and the
 * parameterised SQL of the aggregate (on the rollup table of
 * sql/004-query.sql when the query allows it, else on dataselect_stats).
 * Rendering and folding are in qrender.h.  No I/O: the HTTP layer decodes the
 * query string, the database layer runs the SQL this module builds.
 *
 * The pipeline of one request (the HTTP layer drives it):
 *   1. q_error_init(&e, q_wants_json(pairs, n))    - before any other check
 *   2. restricted only: method (q_error_set(&e, 405, Q_MSG_405_RESTRICTED)),
 *      body size (413), token (eas.h: eas_check(), eas_error() -> 401);
 *   3. load the policy map (both endpoints: node validation, pre-check,
 *      folding): Q_SQL_NODES, Q_SQL_NETWORKS -> q_policy_add_*, q_policy_seal;
 *      500 Q_MSG_DB on failure; restricted: operator = q_policy_is_operator()
 *      of the token's groups.
 *   4. q_parse()                                    - 400s
 *   5. q_precheck()                                 - 400/401/403
 *   6. q_sql_build() -> PQsendQueryParams + PQsetSingleRowMode (or a cursor),
 *      under a statement timeout: 500 Q_MSG_SQL, 503 Q_MSG_TIMEOUT (57014)
 *   7. qrender.h: q_render_new() on a row iterator, q_render_read() chunks.
 * tests/query/qtool.c runs this whole pipeline without HTTP.
 * Every failure fills a struct q_error; q_error_body() gives the body and
 * q_error_content_type() its Content-Type.
 *
 * Ownership: struct query owns every string it holds (q_query_fini frees);
 * struct q_policy owns its copies (q_policy_fini); struct q_sql owns its text
 * and parameter strings (q_sql_fini).  Nothing here is shared: one value per
 * request, any thread.
 */
#ifndef ES_QUERY_H
#define ES_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits: longer lists or values are refused with 400 (the parameter's text). */
#define Q_MAX_ITEMS 1000       /* Items of one list parameter, all occurrences together. */
#define Q_MAX_VALUE 4096       /* Bytes of one parameter value. */
#define Q_MAX_PAIRS 256        /* (name, value) pairs of one request. */
#define Q_ERR_TEXT 1024        /* Bytes of an error message (longer names are cut). */

enum q_endpoint { Q_PUBLIC = 0, Q_RESTRICTED = 1 };

enum q_level {
	Q_LEVEL_NONE = 0, Q_LEVEL_NODE, Q_LEVEL_NETWORK,
	Q_LEVEL_STATION, Q_LEVEL_LOCATION, Q_LEVEL_CHANNEL
};

#define Q_DETAIL_MONTH   1u
#define Q_DETAIL_YEAR    2u
#define Q_DETAIL_COUNTRY 4u

/* One decoded query parameter, as the HTTP layer gives it (bytes, NUL-terminated). */
struct q_pair {
	const char *name;
	const char *value;
};

/* A list of strings (owned by its struct query). */
struct q_list {
	char **v;
	size_t n;
};

struct query {
	enum q_endpoint endpoint;
	int is_operator;        /* Restricted caller whose groups hold a node's eas_group. */
	int start;              /* Months since year 0: year * 12 + (month - 1). */
	int has_end;            /* 0: no upper bound. */
	int end;
	int json;               /* format=json */
	int hllvalues;
	enum q_level level;
	unsigned details;       /* Q_DETAIL_* */
	struct q_list node;     /* Exact node names (validated). */
	/* Network: public and non-operators hold at most one value (the last
	 * occurrence, not split); wildcards already translated (* -> %, ? -> _). */
	struct q_list network, station, location, channel;
	struct q_list country;  /* Exact; "" matches the empty code. */
	char *raw;              /* The raw query string, as received. */
};

/* An error answer: HTTP status and upstream's message (NULL when the body is only the <h1>). */
struct q_error {
	int status;             /* 0 while no error is set. */
	int json;               /* Answer with a JSON body (format=json in the request). */
	/* Message text: plain text where '\n' stands for upstream's <br>. */
	char msg[Q_ERR_TEXT];
	int has_msg;
};

/* Upstream's message texts ('\n' = <br>).  Q_MSG_INVALID_PARAM and
 * Q_MSG_UNSUPPORTED are printf formats taking the repr-quoted name. */
#define Q_MSG_START_REQUIRED "Specify at least 'start' parameter"
#define Q_MSG_NONET "For non-operator users, 'network' parameter is required below network level or whenever any of the 'station', 'location', 'channel' parameters are specified"
#define Q_MSG_ONE_OF "Only one of 'month' or 'year' details can be requested each time"
#define Q_MSG_NO_ENTRY "No entry that matches given node and network parameters"
#define Q_MSG_401_PUBLIC "No access to restricted networks for non-authenticated users\nIf you are a member of EIDA consider using /restricted method instead"
#define Q_MSG_403 "User has no access to the requested network"
#define Q_MSG_405_RESTRICTED "Only POST method allowed"
#define Q_MSG_TOKEN_INVALID "Invalid token or no token file provided"
#define Q_MSG_TOKEN_EXPIRED "Token has expired!"
#define Q_MSG_TOKEN_MALFORMED "Malformed token file provided"
#define Q_MSG_DB "Database connection error"
#define Q_MSG_SQL "Database connection error or invalid SQL statement passed to database"
#define Q_MSG_TIMEOUT "The query took longer than the service allows; narrow it (fewer months, a higher level or a network filter)"

/* 1 when the last `format` pair is exactly "json" (decided before any other check). */
int q_wants_json(const struct q_pair *pairs, size_t n);

/* Clears e; json says which body q_error_body() writes. */
void q_error_init(struct q_error *e, int json);
/* Sets status and message (msg NULL: only the <h1> line). Keeps the first error set. */
void q_error_set(struct q_error *e, int status, const char *msg);
/*
 * Writes the answer body to out (cap bytes, NUL-terminated, cut if short):
 * HTML  "<h1>400 Bad Request</h1><p>MSG</p>" with MSG HTML-escaped and '\n' as <br>;
 * JSON  {"code": 400, "message": "MSG"} with '\n' as a space, json.dumps escaping.
 * Returns the body length.
 */
size_t q_error_body(const struct q_error *e, char *out, size_t cap);
/* "application/json" or "text/html; charset=UTF-8". */
const char *q_error_content_type(const struct q_error *e);
/* Upstream's reason phrase for a status (e.g. "Bad Request"). */
const char *q_status_reason(int status);

/*
 * Python repr() of s (single quotes unless s holds ' and no ", backslash
 * escapes for \\ \n \r \t and other control bytes, \xNN for invalid UTF-8),
 * written to out (cap bytes, NUL-terminated, cut at a character boundary).
 */
size_t q_py_repr(const char *s, char *out, size_t cap);

/*
 * Restriction map of one request: every node (name, policy, operators'
 * group) and every (node, network) row with its inverted_policy and group.
 * Load it with one query each (Q_SQL_NODES, Q_SQL_NETWORKS), then
 * q_policy_seal() once; lookups are binary searches.
 */
struct q_pnode {
	char *name;
	int policy;             /* 1 restricted, 0 open, -1 NULL (not yet defined). */
	char *group;            /* nodes.eas_group or NULL. */
};
struct q_pnet {
	char *node;
	char *name;
	int inverted;           /* 1, 0, or -1 NULL. */
	char *group;            /* networks.eas_group or NULL. */
};
struct q_policy {
	struct q_pnode *nodes;
	size_t nnodes, capnodes;
	struct q_pnet *nets;
	size_t nnets, capnets;
	int sealed;
};

/* Columns: name, restriction_policy, eas_group. */
#define Q_SQL_NODES "SELECT name, restriction_policy, eas_group FROM nodes WHERE name IS NOT NULL"
/* Columns: node name, network name, inverted_policy, eas_group. */
#define Q_SQL_NETWORKS "SELECT n.name, w.name, w.inverted_policy, w.eas_group " \
	"FROM networks w JOIN nodes n ON n.id = w.node_id WHERE n.name IS NOT NULL AND w.name IS NOT NULL"

enum q_state { Q_OPEN = 0, Q_RESTRICTED_STATE = 1, Q_UNDEFINED = 2 };

void q_policy_init(struct q_policy *p);
void q_policy_fini(struct q_policy *p);
/* policy/inverted: 1, 0 or -1 (NULL); group may be NULL. -ENOMEM on failure. */
int q_policy_add_node(struct q_policy *p, const char *name, int policy, const char *group);
int q_policy_add_net(struct q_policy *p, const char *node, const char *net, int inverted, const char *group);
/* Sorts for lookups; call once after the last add. */
void q_policy_seal(struct q_policy *p);
/* The pair's state (node policy XOR inverted; NULL on either side: Q_UNDEFINED);
 * Q_UNDEFINED too when the pair is unknown.  *group (if not NULL) gets the
 * network's group or NULL. */
enum q_state q_policy_state(const struct q_policy *p, const char *node, const char *net, const char **group);
/* 1 when the pair is a row of networks. */
int q_policy_has_net(const struct q_policy *p, const char *node, const char *net);
/* 1 when some node's eas_group is one of groups[0..ngroups). */
int q_policy_is_operator(const struct q_policy *p, char *const *groups, size_t ngroups);
/*
 * May a caller with these groups see the pair's rows unfolded?  Open: yes.
 * Restricted, and "not yet defined" (treated as restricted, fail-closed):
 * only when authenticated (restricted endpoint) and the network's group is
 * one of the caller's groups.
 */
int q_policy_visible(const struct q_policy *p, const char *node, const char *net,
                     int authenticated, char *const *groups, size_t ngroups);

/*
 * Parses and validates the parameters of one request in upstream's order
 * (doc/query-api.md §2).  pairs are the decoded (name, value) pairs in query
 * order, raw the raw query string (copied into q->raw), nodes the node names
 * the `node` parameter is validated against (q_policy's, or any list).
 * endpoint/is_operator say which rules apply.  Returns 0 with *q filled
 * (free with q_query_fini), or a negative code with e set (400 texts; -ENOMEM
 * with 500).  *q is always left in a state q_query_fini accepts.
 */
int q_parse(struct query *q, enum q_endpoint endpoint, int is_operator,
            const struct q_pair *pairs, size_t n, const char *raw,
            const struct q_policy *nodes, struct q_error *e);
void q_query_fini(struct query *q);

/*
 * The pre-check of a request naming a network (public; restricted
 * non-operators): 400 no entry, 401 (public), 403 (restricted).  Returns 0
 * (also when it does not apply) or ES_EAUTH with e set.
 */
int q_precheck(const struct query *q, const struct q_policy *p,
               char *const *groups, size_t ngroups, struct q_error *e);
/* 1 when rows of this query are folded into Other rows (public level network;
 * restricted non-operator level network and below). */
int q_folds(const struct query *q);

/*
 * The aggregate's SQL: text with $1..$n placeholders and the n parameter
 * values as text (pass to PQexecParams with NULL types, text format).
 * Result columns, always these 12 in this order, text (the same bytes in
 * either result format) except column 10:
 *   0 date ("YYYY-MM" month, "YYYY" year, NULL otherwise)
 *   1 node  2 network  3 station  4 location  5 channel   (NULL when not grouped)
 *   6 country (NULL when not detailed, or a NULL country)
 *   7 bytes  8 nb_reqs  9 nb_successful_reqs   (sums, decimal)
 *   10 clients (type hll: "\x..." in text result format; in binary format
 *      its storage bytes, which spare the hex decoding of large answers)
 *   11 country_grouped: 't' when country is a grouped value (so NULL is a NULL country)
 *   and 12 clients_card: NULL, or (q_sql_build_for) the distinct clients of
 *      column 10's set, python-hll's cardinality() as decimal text, and then
 *      column 10 is NULL unless the row is folded into an Other row.
 * Ordered by the grouping columns (date first; by date only when
 * q_sql.date_order), NULLs last ("C" order for names); no row
 * when nothing matches.  `rollup` says which table answers: 4
 * dataselect_rollup_node_year_country (sql/009-rollup-node-year-country.sql:
 * grouped by year, not by month, over whole years (start a January, end a
 * December or none), with country grouping or filter but no network grouping
 * or filter), 3
 * dataselect_rollup_node (sql/008-rollup-node.sql: no network or country
 * grouping or filter), 2 dataselect_rollup_country (no network grouping or
 * filter), 1 dataselect_rollup (no station, location or channel level or
 * filter), 0 dataselect_stats.  All five give the same answer
 * (sql/004-query.sql).  On a rollup, a query whose groups are its rows
 * (node level by year and country on 4; by month on 3; by month and
 * country on 2; network level by month and country on 1) reads them
 * without aggregate.
 */
#define Q_SQL_COLS 13
#define Q_SQL_DATE_ORDER_SETTINGS "SET enable_sort = off"
struct q_sql {
	char *text;
	char **params;
	size_t nparams;
	int rollup;             /* 4, 3, 2, 1 or 0 (above). */
	/*
	 * 1: the rows come ordered by date only (q_sql_build_for's stored
	 * counts): the renderer must order each date's rows itself
	 * (q_render_sort_dates()), and the SQL is meant to run with
	 * Q_SQL_DATE_ORDER_SETTINGS, which keeps PostgreSQL from sorting what an
	 * index scan gives in that order.
	 */
	int date_order;
	/*
	 * 1: network level by month and country over at most Q_PACK_MONTHS
	 * months without network or country filter: the rows are packs
	 * (sql/012-rollup-pack.sql), one per node and month: column 0 the
	 * month, 1 the node, 10 the pack (bytea: binary format gives its bytes,
	 * text format "\x" and hex), the others NULL.  The renderer reads them
	 * all first (q_render_pack_load(), qrender.h); the sets of the rows it
	 * folds come from a second query (q_sql_build_folds()).
	 */
	int packs;
};
#define Q_PACK_MONTHS 36

/* One row of a pack: network and country NULL when NULL (not NUL-terminated: their lengths). */
struct q_pack_row {
	const char *net, *cty;
	size_t netlen, ctylen;
	int64_t num[3];         /* bytes, nb_reqs, nb_successful_reqs */
	int64_t card;           /* clients_card */
};
/* Reads the row of pack[0..len) at *pos and advances *pos: 1, 0 at the end, or ES_EFORMAT. */
int q_pack_next(const uint8_t *pack, size_t len, size_t *pos, struct q_pack_row *row);
/*
 * What a packs query folds (q_render_fold_keys(), qrender.h): the
 * node-months all of whose rows are folded (their sets per country come
 * from dataselect_rollup_country, which holds exactly their union), and the
 * (node, network) pairs folded elsewhere.
 */
struct q_fold_keys {
	char **pnode, **pnet;   /* Pairs. */
	size_t npairs, cappairs;
	char **wnode, **wmonth; /* Node-months, month as "YYYY-MM". */
	size_t nwhole, capwhole;
};
/*
 * The SQL of the client sets of the rows k folds (k from the packs of q).
 * Columns: 0 month ("YYYY-MM"), 1 country (NULL: NULL), 2 clients (hll;
 * binary or "\x" hex as column 10 above), 3 't' for a node-month's set of
 * one country, 'f' for one row's set; in no particular order.  -ENOMEM on
 * failure.
 */
int q_sql_build_folds(const struct query *q, const struct q_fold_keys *k, struct q_sql *out);
/* use_rollup 0 forces the raw table (tests, verification). -ENOMEM on failure. */
int q_sql_build(const struct query *q, int use_rollup, struct q_sql *out);
/*
 * The same, for the renderer of a caller with these groups under policy p
 * (sealed; the one the renderer gets): when the answer's rows are rows of
 * dataselect_rollup and hllvalues is off, the SQL reads their stored counts
 * (sql/010-rollup-clients-card.sql) and the client sets only of the rows
 * that p folds for this caller (column 12 above), which spares fetching,
 * sorting and decoding the others.  p NULL: q_sql_build().
 */
int q_sql_build_for(const struct query *q, int use_rollup, const struct q_policy *p,
                    char *const *groups, size_t ngroups, struct q_sql *out);
void q_sql_fini(struct q_sql *s);

#endif
