#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bytes.h"
#include "cal.h"
#include "error.h"
#include "hll.h"
#include "mem.h"
#include "pgx.h"
#include "sgroup.h"

#include "db.h"

/* Bytes of COPY data handed to libpq at once. */
#define DB_COPY_CHUNK (256 * 1024)

struct db_conn {
	PGconn *pg;
	const char *conninfo;  /* The pool's, for reconnecting. */
	enum db_role role;
	bool busy;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	char *conninfo;
	unsigned size;
	struct db_conn *conns;
	/* db_pool_warm()'s thread: started (to be joined), and told to stop. */
	pthread_t warmer;
	bool warming;
	bool closing;
	db_warm_done_fn *warm_done;
	void *warm_arg;
};

/*
 * The session's COPY tables: the payload's rows, and its groups as the query
 * rollup groups them (sgroup.h).  The codes are "C", as in dataselect_stats
 * (sql/014).  temp_buffers stays the server's (8 MB by default): a large
 * payload's rows then go through the kernel's page cache, while every commit
 * empties the tables by a scan of all the session's local buffers, which at
 * 64 MB cost small payloads more (perf) than it saved large ones.
 */
static const char create_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS ingest_rows ("
	" date date, network varchar(6) COLLATE \"C\", station varchar(5) COLLATE \"C\","
	" location varchar(2) COLLATE \"C\", channel varchar(3) COLLATE \"C\","
	" country varchar(2) COLLATE \"C\", bytes bigint, nb_reqs integer,"
	" nb_successful_reqs integer, nb_failed_reqs integer, clients hll(11,5)"
	") ON COMMIT DELETE ROWS;"
	"CREATE TEMP TABLE IF NOT EXISTS ingest_groups ("
	" month date, network varchar(6) COLLATE \"C\", country varchar(2) COLLATE \"C\","
	" bytes bigint, nb_reqs bigint, nb_successful_reqs bigint, nb_failed_reqs bigint,"
	" clients hll(11,5)"
	") ON COMMIT DELETE ROWS";

static const char copy_rows_sql[] =
	"COPY ingest_rows (date, network, station, location, channel, country,"
	" bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients) FROM STDIN (FORMAT binary)";
/* The rows of new days straight into dataselect_stats (store_rows()). */
static const char copy_stats_sql[] =
	"COPY dataselect_stats (node_id, date, network, station, location, channel, country,"
	" bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients, created_at, updated_at)"
	" FROM STDIN (FORMAT binary)";
static const char copy_groups_sql[] =
	"COPY ingest_groups (month, network, country, bytes, nb_reqs, nb_successful_reqs,"
	" nb_failed_reqs, clients) FROM STDIN (FORMAT binary)";

static const char insert_payload_sql[] =
	"INSERT INTO payloads (node_id, generated_at, version, first_stat_at, last_stat_at,"
	" coverage, digest, method, nb_stats)"
	" VALUES ($1::integer, $2::timestamptz, $3, $4::timestamptz, $5::timestamptz,"
	" $6::date[], $7::bytea, $8, $9::integer)"
	" ON CONFLICT (node_id, digest) DO NOTHING RETURNING id";

/* The networks of the rows, in one statement; the networks trigger then has nothing to do (sql/016). */
static const char networks_sql[] =
	"INSERT INTO networks (node_id, name, inverted_policy)"
	" SELECT DISTINCT $1::integer, network, false FROM ingest_groups"
	" ON CONFLICT DO NOTHING";

/*
 * For the rest of the transaction: the networks exist (sql/016's statement
 * trigger has nothing to do), and sorts, hash tables and the transition
 * tables of the statement checks take at most DB_INGEST_WORK_MEM each, then
 * spill to temporary files, whatever work_mem the server or the role sets.
 * More memory is slower here, not faster: it is fresh memory for every
 * payload (the server's allocator gives large blocks back at the end of each
 * statement), and a page fault costs more than the temporary file's page
 * written to and read back from the kernel's cache.  At 32 MB (until
 * 2026-11-30, chosen on callgrind's instruction counts, which miss the
 * kernel's work) PostgreSQL took 2 800 to 3 300 more page faults per
 * synthetic-small payload, and eidastats_rollup_add() 126 to 184 ms of wall
 * time instead of 77 to 93 at 4 MB (1 MB and 2 MB about as 4 MB; README,
 * Performance).
 */
#define DB_INGEST_WORK_MEM "4MB"
static const char tx_settings_sql[] =
	"SELECT set_config('eidastats.networks_known', 'on', true),"
	" set_config('work_mem', '" DB_INGEST_WORK_MEM "', true)";

/*
 * Whether the node has stored any row on one of the payload's days, and the
 * transaction's now() as PostgreSQL's binary timestamptz counts it.  When it
 * has not, the rows are copied straight into dataselect_stats: no ON
 * CONFLICT, whose probe of uniq_stat before each row was a fifth of the
 * instructions of an ingest into new days (callgrind, 40 000 rows), and no
 * session table to copy them through (another fifth).  uniq_stat begins with
 * (node_id, date).  Payloads of fewer than DB_NEW_DAYS_MIN_ROWS rows go to
 * the merge at once: for them the statements more (the question, SAVEPOINT,
 * RELEASE) cost more than the probes they save.
 */
#define DB_NEW_DAYS_MIN_ROWS 100
static const char days_stored_sql[] =
	"SELECT EXISTS (SELECT 1 FROM dataselect_stats WHERE node_id = $1::integer"
	" AND date = ANY($2::date[])),"
	" (extract(epoch FROM now()) * 1000000)::bigint - 946684800000000";

/*
 * Every statement below reads ingest_rows in the order COPY wrote it, which
 * is the key order submit_parse() sorted the rows in: the table is empty at
 * the start of each transaction (ON COMMIT DELETE ROWS), COPY appends, and a
 * sequential scan of a temporary table is never parallel nor synchronized
 * with another scan, so it starts at its first page.  Concurrent payloads
 * thus insert keys (a COPY straight into dataselect_stats sends them in that
 * order too), and lock the rows they merge into when the UPDATE's join walks
 * the COPY table (its plan for any payload of some size), in one order.
 * An ORDER BY here sorted the whole rows again, on disk past work_mem (12 %
 * of an ingest's instructions).  Should another plan lock in another order
 * and two payloads deadlock, PostgreSQL breaks the cycle and pgx_tx() runs
 * the transaction again.
 */
#define INSERT_ROWS_SQL                                                                        \
	"INSERT INTO dataselect_stats AS s (node_id, date, network, station, location, channel,"  \
	" country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients, created_at, updated_at)" \
	" SELECT $1::integer, date, network, station, location, channel, country, bytes, nb_reqs," \
	" nb_successful_reqs, nb_failed_reqs, clients, now(), now() FROM ingest_rows"

/* The SET lists of a merge and of a replacement, from the new row `n` (EXCLUDED, or the COPY table's). */
#define MERGE_SET(n)                                                                           \
	" bytes = coalesce(s.bytes, 0) + " n ".bytes,"                                             \
	" nb_reqs = coalesce(s.nb_reqs, 0) + " n ".nb_reqs,"                                       \
	" nb_successful_reqs = coalesce(s.nb_successful_reqs, 0) + " n ".nb_successful_reqs,"      \
	" nb_failed_reqs = coalesce(s.nb_failed_reqs, 0) + " n ".nb_failed_reqs,"                  \
	" clients = coalesce(hll_union(s.clients, " n ".clients), " n ".clients),"                 \
	" updated_at = now()"
#define OVERWRITE_SET(n)                                                                       \
	" bytes = " n ".bytes, nb_reqs = " n ".nb_reqs,"                                           \
	" nb_successful_reqs = " n ".nb_successful_reqs, nb_failed_reqs = " n ".nb_failed_reqs,"   \
	" clients = " n ".clients, created_at = now(), updated_at = now()"

/*
 * Rows on days the node has rows of: first an UPDATE joined with the COPY
 * table, then an INSERT ... ON CONFLICT of the rows it did not update, in one
 * statement.  The join is the planner's choice: a hash join reads the node's
 * rows of those days once, where ON CONFLICT searched uniq_stat for every row
 * (seven columns compared at each step: 46 % of a merge's instructions; the
 * hash join takes the statement from 1.58 G to 0.72 G instructions for
 * synthetic-small, callgrind), and a small payload into a large month still
 * gets its index probes.  Nothing is lost to a concurrent payload: a row the
 * UPDATE did not see (committed after its snapshot, or not yet) is not in u,
 * so the INSERT meets it as a conflict, waits for it if need be, and merges.
 */
#define UPSERT_SQL(set)                                                                        \
	"WITH u AS (UPDATE dataselect_stats s SET" set("r") " FROM ingest_rows r"                  \
	" WHERE s.node_id = $1::integer AND s.date = ANY($2::date[]) AND s.date = r.date"          \
	" AND s.network = r.network AND s.station = r.station AND s.location = r.location"         \
	" AND s.channel = r.channel AND s.country = r.country RETURNING r.ctid AS rid) "           \
	INSERT_ROWS_SQL " WHERE ctid NOT IN (SELECT rid FROM u)"                                   \
	" ON CONFLICT (node_id, date, network, station, location, channel, country) DO UPDATE SET" \
	set("EXCLUDED")

static const char merge_sql[] = UPSERT_SQL(MERGE_SET);
static const char overwrite_sql[] = UPSERT_SQL(OVERWRITE_SET);

/*
 * The query rollup (sql/004-query.sql) follows in the same transaction, so
 * that it always equals dataselect_stats.  An append adds the payload's
 * groups (grouped by the service, sgroup.h) to the counters and client sets
 * of the four rollup tables (sql/011): the cost of the payload, not of the
 * month, and appends of one node do not wait for each other.  A replacement
 * cannot be subtracted: the (node, month) groups it touched are recomputed
 * from dataselect_stats.
 */
static const char rollup_add_sql[] =
	"SELECT eidastats_rollup_add($1::integer, array_agg(month), array_agg(network)::text[],"
	" array_agg(country)::text[], array_agg(bytes), array_agg(nb_reqs),"
	" array_agg(nb_successful_reqs), array_agg(nb_failed_reqs), array_agg(clients))"
	" FROM ingest_groups";

static const char rollup_refresh_sql[] =
	"SELECT eidastats_rollup_refresh($1::integer,"
	" ARRAY(SELECT DISTINCT month FROM ingest_groups))";

struct db_pool *db_pool_new(const char *conninfo, unsigned size, enum db_role role)
{
	struct db_pool *pool = es_calloc(1, sizeof *pool);

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	pool->conninfo = es_strdup(conninfo);
	pool->size = size;
	pool->conns = es_calloc(size, sizeof pool->conns[0]);
	for (unsigned i = 0; i < size; i++) {
		pool->conns[i].conninfo = pool->conninfo;
		pool->conns[i].role = role;
	}
	return pool;
}

void db_pool_free(struct db_pool *pool)
{
	if (!pool)
		return;
	if (pool->warming) {
		pthread_mutex_lock(&pool->lock);
		pool->closing = true;
		pthread_mutex_unlock(&pool->lock);
		pthread_join(pool->warmer, NULL);
	}
	for (unsigned i = 0; i < pool->size; i++)
		if (pool->conns[i].pg)
			PQfinish(pool->conns[i].pg);
	free(pool->conns);
	free(pool->conninfo);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

struct db_conn *db_acquire(struct db_pool *pool)
{
	struct db_conn *c = NULL;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		for (unsigned i = 0; i < pool->size && !c; i++)
			if (!pool->conns[i].busy)
				c = &pool->conns[i];
		if (c)
			break;
		pthread_cond_wait(&pool->freed, &pool->lock);
	}
	c->busy = true;
	pthread_mutex_unlock(&pool->lock);
	return c;
}

void db_release(struct db_pool *pool, struct db_conn *c)
{
	pthread_mutex_lock(&pool->lock);
	c->busy = false;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}

unsigned db_pool_in_use(struct db_pool *pool)
{
	unsigned n = 0;

	pthread_mutex_lock(&pool->lock);
	for (unsigned i = 0; i < pool->size; i++)
		n += pool->conns[i].busy;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

unsigned db_pool_size(const struct db_pool *pool)
{
	return pool->size;
}

static void disconnect(struct db_conn *c)
{
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
}

static int connect_if_needed(struct db_conn *c, char *err, size_t errlen)
{
	int rc;

	if (!pgx_lost(c->pg))
		return 0;
	disconnect(c);
	if (c->role == DB_ROLE_READ) {
		rc = pgx_connect(&c->pg, c->conninfo, "eidastats-ingestd (read)", err, errlen);
		if (rc == 0)
			rc = pgx_exec(c->pg, "SET default_transaction_read_only = on", 0, NULL, NULL,
			              "making the session read-only", err, errlen);
	} else {
		rc = pgx_connect(&c->pg, c->conninfo, "eidastats-ingestd", err, errlen);
		if (rc == 0)
			rc = pgx_exec(c->pg, create_temp_sql, 0, NULL, NULL, "creating the COPY table",
			              err, errlen);
	}
	if (rc < 0) {
		rc = pgx_lost(c->pg) || rc == -ENOTCONN ? -ENOTCONN : ES_EINTERNAL;
		disconnect(c);
	}
	return rc;
}

static int rehearse(struct db_conn *c, int *node_id, char *err, size_t errlen);

/*
 * Opens the closed sessions one after the other, skipping those lent to a
 * request (which opens its own), and has each write session rehearse an
 * ingest; stops opening at the first failure, since the others would wait as
 * long to fail the same way, and rehearsing at the first failed rehearsal;
 * stops all when the pool is being freed.
 */
static void *warm_main(void *arg)
{
	struct db_pool *pool = arg;
	struct db_warm_report r = { .size = pool->size };
	int node = 0;

	for (unsigned i = 0; i < pool->size; i++) {
		struct db_conn *c = &pool->conns[i];
		bool skip;
		int rc;

		pthread_mutex_lock(&pool->lock);
		if (pool->closing) {
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		skip = c->busy;
		if (!skip)
			c->busy = true;
		pthread_mutex_unlock(&pool->lock);
		if (skip)
			continue;
		rc = connect_if_needed(c, r.err, sizeof r.err);
		if (rc == 0 && c->role == DB_ROLE_WRITE && node >= 0 && !r.rehearsal_err[0] &&
		    rehearse(c, &node, r.rehearsal_err, sizeof r.rehearsal_err) == 0 && node > 0)
			r.rehearsed++;
		db_release(pool, c);
		if (rc < 0)
			break;
		r.opened++;
	}
	r.no_node = node < 0;
	if (pool->warm_done)
		pool->warm_done(pool->warm_arg, &r);
	return NULL;
}

int db_pool_warm(struct db_pool *pool, db_warm_done_fn *done, void *arg)
{
	int rc;

	if (pool->warming)
		return -EALREADY;
	pool->warm_done = done;
	pool->warm_arg = arg;
	rc = pthread_create(&pool->warmer, NULL, warm_main, pool);
	if (rc != 0)
		return -rc;
	pool->warming = true;
	return 0;
}

static int query(struct db_conn *c, const char *what, const char *sql, int nparams,
                 const char *const *params, PGresult **res, char *err, size_t errlen)
{
	int rc = -ENOTCONN;

	*res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = connect_if_needed(c, err, errlen);
		if (rc < 0)
			return rc;
		rc = pgx_exec(c->pg, sql, nparams, params, res, what, err, errlen);
		if (rc == 0 || !pgx_lost(c->pg))
			return rc;
		/* The server went away since the session's last use: reconnect once. */
	}
	return rc;
}

int db_query(struct db_conn *c, const char *sql, int nparams, const char *const *params,
             PGresult **res, char *err, size_t errlen)
{
	return query(c, "query", sql, nparams, params, res, err, errlen);
}

int db_health(struct db_conn *c, char *err, size_t errlen)
{
	PGresult *res;
	int rc = query(c, "health check", "SELECT 1", 0, NULL, &res, err, errlen);

	PQclear(res);
	return rc < 0 ? -ENOTCONN : 0;
}

int db_authenticate(struct db_conn *c, const char *token, size_t len, int *node_id,
                    char *err, size_t errlen)
{
	return db_authenticate_name(c, token, len, node_id, NULL, 0, err, errlen);
}

int db_authenticate_name(struct db_conn *c, const char *token, size_t len, int *node_id,
                         char *name, size_t namecap, char *err, size_t errlen)
{
	char digest[PGX_DIGEST_TEXT];
	const char *params[1] = { digest };
	PGresult *res;
	int rc;

	*node_id = 0;
	if (len == 0) {
		snprintf(err, errlen, "empty token");
		return ES_EAUTH;
	}
	if (len > DB_TOKEN_MAX) {
		snprintf(err, errlen, "token longer than %d characters", DB_TOKEN_MAX);
		return ES_EAUTH;
	}
	if (pgx_token_digest(token, len, digest) < 0) {
		snprintf(err, errlen, "token lookup: OpenSSL could not compute SHA-256");
		return ES_EINTERNAL;
	}
	/* tokens.digest is UNIQUE (sql/003): at most one row, found through its index. */
	rc = query(c, "token lookup", "SELECT t.node_id, now() >= t.valid_from AND now() <= t.valid_until,"
	                 " coalesce(n.name, '') FROM tokens t LEFT JOIN nodes n ON n.id = t.node_id"
	                 " WHERE t.digest = $1::bytea AND t.node_id IS NOT NULL",
	           1, params, &res, err, errlen);
	explicit_bzero(digest, sizeof digest);
	if (rc < 0) {
		if (rc != -ENOTCONN)
			rc = ES_EINTERNAL;
		return rc;
	}
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 1)[0] != 't') {
		PQclear(res);
		snprintf(err, errlen, "unknown or expired token");
		return ES_EAUTH;
	}
	*node_id = atoi(PQgetvalue(res, 0, 0));
	if (name && namecap)
		snprintf(name, namecap, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/*
 * PostgreSQL's binary COPY (the COPY reference page, "Binary Format"): no
 * text to format here nor to parse in the server, and a client set goes as
 * its storage bytes, which hll's receive function takes as they are
 * (submit_parse() checked and re-serialized every set).
 */
static const uint8_t copy_bin_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

/* A binary field: its length, then its bytes. */
static uint8_t *bin_bytes(uint8_t *o, const void *data, size_t len)
{
	bytes_put_be32(o, (uint32_t)len);
	memcpy(o + 4, data, len);
	return o + 4 + len;
}

static uint8_t *bin_text(uint8_t *o, const char *s)
{
	return bin_bytes(o, s, strlen(s));
}

static uint8_t *bin_int8(uint8_t *o, int64_t v)
{
	bytes_put_be32(o, 8);
	bytes_put_be64(o + 4, (uint64_t)v);
	return o + 12;
}

static uint8_t *bin_int4(uint8_t *o, int32_t v)
{
	bytes_put_be32(o, 4);
	bytes_put_be32(o + 4, (uint32_t)v);
	return o + 8;
}

static uint8_t *bin_hll(uint8_t *o, const hll_t *h)
{
	size_t n = hll_serialize(h, o + 4);

	bytes_put_be32(o, (uint32_t)n);
	return o + 4 + n;
}

/* A date as days from 2000-01-01; `last` remembers the previous one (the rows come by date). */
struct bin_day {
	char text[11];
	int32_t days;
};

static uint8_t *bin_date(uint8_t *o, const char *ymd, struct bin_day *last)
{
	int y, m, d;

	if (memcmp(last->text, ymd, 11) != 0) {
		/* Checked by submit_parse(): the parse cannot fail. */
		if (cal_parse_ymd(ymd, 10, &y, &m, &d) < 0)
			y = 2000, m = 1, d = 1;
		memcpy(last->text, ymd, 11);
		last->days = (int32_t)(cal_days_since_epoch(y, m, d) - CAL_DAYS_1970_TO_2000);
	}
	return bin_int4(o, last->days);
}

/* The most bytes one tuple takes: its field count, 14 lengths, every field at its largest. */
#define COPY_TUPLE_MAX (2 + 14 * 4 + 3 * 8 + sizeof(struct submit_row) + sizeof(struct sgroup) + \
	HLL_MAX_BYTES)

/*
 * What one COPY sends: the rows, either to the session's table or (node >
 * 0) straight to dataselect_stats with their node and both times; or the
 * groups.  now_us is the transaction's now() in PostgreSQL's binary
 * timestamptz (microseconds from 2000-01-01 UTC).
 */
struct copy_src {
	const struct submit_row *rows;
	const struct sgroup *groups;
	size_t n;
	int node;
	int64_t now_us;
};

static size_t bin_row(uint8_t *buf, const struct copy_src *src, size_t i, struct bin_day *day)
{
	const struct submit_row *r = &src->rows[i];
	uint8_t *o = buf;

	bytes_put_be16(o, src->node > 0 ? 14 : 11);
	o += 2;
	if (src->node > 0)
		o = bin_int4(o, src->node);
	o = bin_date(o, r->date, day);
	o = bin_text(o, r->network);
	o = bin_text(o, r->station);
	o = bin_text(o, r->location);
	o = bin_text(o, r->channel);
	o = bin_text(o, r->country);
	o = bin_int8(o, r->bytes);
	o = bin_int4(o, r->nb_reqs);
	o = bin_int4(o, r->nb_successful);
	o = bin_int4(o, r->nb_failed);
	o = bin_hll(o, &r->clients);
	if (src->node > 0) {
		o = bin_int8(o, src->now_us);  /* created_at */
		o = bin_int8(o, src->now_us);  /* updated_at */
	}
	return (size_t)(o - buf);
}

static size_t bin_group(uint8_t *buf, const struct copy_src *src, size_t i, struct bin_day *day)
{
	const struct sgroup *g = &src->groups[i];
	uint8_t *o = buf;

	bytes_put_be16(o, 8);
	o = bin_date(o + 2, g->month, day);
	o = bin_text(o, g->network);
	o = bin_text(o, g->country);
	o = bin_int8(o, g->bytes);
	o = bin_int8(o, g->nb_reqs);
	o = bin_int8(o, g->nb_successful);
	o = bin_int8(o, g->nb_failed);
	o = bin_hll(o, &g->clients);
	return (size_t)(o - buf);
}

/*
 * The COPY's result.  The server may refuse the data before its end (a key
 * stored meanwhile, 23505): libpq then stops taking data, and the error
 * is in the result like any other.
 */
static int copy_result(PGconn *pg, char *err, size_t errlen)
{
	PGresult *res;
	int rc = 0;
	bool first = true;

	while ((res = PQgetResult(pg)) != NULL) {
		if (first && PQresultStatus(res) != PGRES_COMMAND_OK) {
			pgx_error_text(pg, res, "COPY", err, errlen);
			rc = pgx_classify(PQresultErrorField(res, PG_DIAG_SQLSTATE), pgx_lost(pg));
		}
		first = false;
		PQclear(res);
	}
	if (first && pgx_lost(pg)) {
		pgx_error_text(pg, NULL, "COPY", err, errlen);
		rc = -ENOTCONN;
	}
	return rc;
}

/* One COPY ... FROM STDIN (FORMAT binary) of src; 0 or a pgx code. */
static int copy_binary(PGconn *pg, const char *sql, const struct copy_src *src, char *err,
                       size_t errlen)
{
	struct bin_day day = { "", 0 };
	uint8_t *buf;
	size_t used = sizeof copy_bin_header;
	int ok = 1, rc;

	rc = pgx_exec(pg, sql, 0, NULL, NULL, "COPY", err, errlen);
	if (rc < 0)
		return rc;
	buf = es_malloc(DB_COPY_CHUNK + COPY_TUPLE_MAX);
	memcpy(buf, copy_bin_header, sizeof copy_bin_header);
	for (size_t i = 0; ok == 1 && i < src->n; i++) {
		used += src->rows ? bin_row(buf + used, src, i, &day) : bin_group(buf + used, src, i, &day);
		if (used >= DB_COPY_CHUNK) {
			ok = PQputCopyData(pg, (const char *)buf, (int)used);
			used = 0;
		}
	}
	bytes_put_be16(buf + used, (uint16_t)-1);  /* The trailer. */
	used += 2;
	if (ok == 1)
		ok = PQputCopyData(pg, (const char *)buf, (int)used);
	free(buf);
	if (ok == 1 && PQputCopyEnd(pg, NULL) != 1)
		ok = -1;
	rc = copy_result(pg, err, errlen);
	if (rc == 0 && ok != 1) {
		/* libpq refused data or the end without a result saying why. */
		pgx_error_text(pg, NULL, "COPY data", err, errlen);
		rc = pgx_lost(pg) ? -ENOTCONN : ES_EINTERNAL;
	}
	return rc;
}

struct ingest_args {
	int node_id;
	bool overwrite;
	const char *method;
	const struct submit_payload *p;
	const struct sgroup_set *g;
	const char *days;       /* The rows' days as an array literal. */
};

/* "{YYYY-MM-DD,...}" of n days: a date[] parameter; the caller frees it. */
static char *date_array(char (*days)[11], size_t n)
{
	char *out = es_malloc(3 + 11 * n), *o = out;

	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		memcpy(o, days[i], 10);
		o += 10;
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/*
 * Stores the payload's rows.  A payload of DB_NEW_DAYS_MIN_ROWS rows or more
 * none of whose days holds a row of the node yet is copied straight into
 * dataselect_stats, in a savepoint: when a concurrent payload stored one of
 * its keys first (23505), the rows go the other way.  Any other goes through
 * the session's table and the merge.
 */
static int store_rows(PGconn *pg, const struct ingest_args *a, const char *const *params,
                      char *err, size_t errlen)
{
	const char *probe[2] = { params[0], a->days };
	struct copy_src src = { .rows = a->p->rows, .n = a->p->nrows };
	PGresult *res;
	int rc;

	if (a->p->nrows >= DB_NEW_DAYS_MIN_ROWS) {
		bool stored;

		rc = pgx_exec(pg, days_stored_sql, 2, probe, &res, "looking for stored days", err,
		              errlen);
		if (rc < 0)
			return rc;
		stored = PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 'f';
		src.now_us = stored ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		if (!stored) {
			src.node = a->node_id;
			rc = pgx_exec(pg, "SAVEPOINT ingest_new", 0, NULL, NULL, "SAVEPOINT", err, errlen);
			if (rc == 0)
				rc = copy_binary(pg, copy_stats_sql, &src, err, errlen);
			if (rc != ES_EDUPLICATE)
				return rc == 0 ? pgx_exec(pg, "RELEASE SAVEPOINT ingest_new", 0, NULL, NULL,
				                          "RELEASE SAVEPOINT", err, errlen) : rc;
			rc = pgx_exec(pg, "ROLLBACK TO SAVEPOINT ingest_new", 0, NULL, NULL,
			              "ROLLBACK TO SAVEPOINT", err, errlen);
			if (rc < 0)
				return rc;
			src.node = 0;
		}
	}
	if ((rc = copy_binary(pg, copy_rows_sql, &src, err, errlen)) < 0)
		return rc;
	return pgx_exec(pg, a->overwrite ? overwrite_sql : merge_sql, 2, probe, NULL,
	                "storing the statistics", err, errlen);
}

/*
 * What an ingest writes after its payloads row (params[0]: the node): the
 * groups, the networks, the rows, the query rollup.
 */
static int store_payload(PGconn *pg, const struct ingest_args *a, const char *const *params,
                         char *err, size_t errlen)
{
	struct copy_src groups = { .groups = a->g->groups, .n = a->g->n };
	int rc;

	if ((rc = copy_binary(pg, copy_groups_sql, &groups, err, errlen)) < 0)
		return rc;
	rc = pgx_exec(pg, networks_sql, 1, params, NULL, "creating the networks", err, errlen);
	if (rc < 0)
		return rc;
	rc = pgx_exec(pg, tx_settings_sql, 0, NULL, NULL, "SET LOCAL", err, errlen);
	if (rc < 0)
		return rc;
	rc = store_rows(pg, a, params, err, errlen);
	if (rc == 0)
		rc = pgx_exec(pg, a->overwrite ? rollup_refresh_sql : rollup_add_sql, 1, params, NULL,
		              "updating the query rollup", err, errlen);
	if (rc == ES_EFORMAT)
		snprintf(err, errlen, "adding these statistics to the stored ones overflows a counter");
	return rc;
}

/* The ingest transaction's statements, run by pgx_tx between BEGIN and COMMIT. */
static int ingest_tx(PGconn *pg, void *arg, char *err, size_t errlen)
{
	const struct ingest_args *a = arg;
	const struct submit_payload *p = a->p;
	char node[16], nstats[24], digest[2 + 2 * SUBMIT_DIGEST_LEN + 1];
	char *coverage;
	const char *first = NULL, *last = NULL;
	const char *params[9];
	PGresult *res;
	int rc, inserted;

	snprintf(node, sizeof node, "%d", a->node_id);
	snprintf(nstats, sizeof nstats, "%zu", p->nstats > INT32_MAX ? (size_t)INT32_MAX : p->nstats);
	pgx_bytea_text(digest, p->digest, SUBMIT_DIGEST_LEN);
	coverage = date_array(p->days, p->ndays);
	submit_span(p, &first, &last);
	params[0] = node;
	params[1] = p->generated_at;
	params[2] = p->version;
	params[3] = first;
	params[4] = last;
	params[5] = coverage;
	params[6] = digest;
	params[7] = a->method;
	params[8] = nstats;
	rc = pgx_exec(pg, insert_payload_sql, 9, params, &res, "recording the payload", err, errlen);
	free(coverage);
	if (rc < 0)
		return rc;
	inserted = PQntuples(res) > 0;
	PQclear(res);
	if (!inserted) {
		snprintf(err, errlen, "this node already sent the same payload");
		return ES_EDUPLICATE;
	}
	return store_payload(pg, a, params, err, errlen);
}

int db_ingest(struct db_conn *c, int node_id, bool overwrite, const char *method,
              const struct submit_payload *p, char *err, size_t errlen)
{
	struct sgroup_set g;
	struct ingest_args a = { node_id, overwrite, method, p, &g, NULL };
	int rc;

	if (c->role != DB_ROLE_WRITE) {
		snprintf(err, errlen, "db_ingest on a connection of the read pool");
		return ES_EINTERNAL;
	}
	sgroup_init(&g);
	if (sgroup_build(&g, p) < 0) {
		/* What PostgreSQL's sum()::bigint of the rollup would refuse (22003). */
		snprintf(err, errlen, "adding these statistics to the stored ones overflows a counter");
		return ES_EFORMAT;
	}
	rc = connect_if_needed(c, err, errlen);
	if (rc == 0) {
		char *days = date_array(g.days, g.ndays);
		a.days = days;
		rc = pgx_tx(c->pg, ingest_tx, &a, err, errlen);
		free(days);
	}
	sgroup_fini(&g);
	return rc;
}

/*
 * The rehearsal of db_pool_warm(): DB_REHEARSAL_ROWS rows of the first node
 * (lowest id) on DB_REHEARSAL_DAY, in network XX, go through every statement
 * of an ingest but the payloads row (store_payload(): the straight COPY into
 * dataselect_stats, as its rows are enough; the merge, should the node have
 * rows on that day), and the transaction is rolled back.  What a session's first payload paid on
 * top of the next ones -- PL/pgSQL functions compiled and their plans made,
 * tables, indexes and triggers loaded, memory grown -- it pays here, before
 * any request: about 30 ms of a first synthetic-small payload of 0.38 s
 * (README, Performance).  Nothing stays: no row, no network, no sequence
 * value (the payloads row is not written); the node's row is locked FOR KEY
 * SHARE and its rollup lock taken shared for those milliseconds.
 */
#define DB_REHEARSAL_ROWS DB_NEW_DAYS_MIN_ROWS
#define DB_REHEARSAL_DAY "1900-01-01"

static int rehearse_tx(PGconn *pg, void *arg, char *err, size_t errlen)
{
	const struct ingest_args *a = arg;
	char node[16];
	const char *params[1] = { node };
	int rc;

	snprintf(node, sizeof node, "%d", a->node_id);
	rc = store_payload(pg, a, params, err, errlen);
	/* Any code makes pgx_tx() roll back; this one is not retried. */
	return rc == 0 ? -ECANCELED : rc;
}

/*
 * Rehearses on c (open): *node_id 0 is looked up first, then -1 when there
 * is no node (nothing to rehearse with: 0).  0, or a pgx code with err.
 */
static int rehearse(struct db_conn *c, int *node_id, char *err, size_t errlen)
{
	struct submit_payload p;
	struct sgroup_set g;
	struct ingest_args a = { 0, false, "POST", &p, &g, NULL };
	char *days;
	int rc;

	if (*node_id == 0) {
		PGresult *res;

		rc = pgx_exec(c->pg, "SELECT min(id) FROM nodes", 0, NULL, &res,
		              "finding a node to rehearse an ingest with", err, errlen);
		if (rc < 0)
			return rc;
		*node_id = PQgetisnull(res, 0, 0) ? -1 : atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (*node_id <= 0)
		return 0;
	submit_init(&p);
	sgroup_init(&g);
	p.rows = es_calloc(DB_REHEARSAL_ROWS, sizeof *p.rows);
	for (size_t i = 0; i < DB_REHEARSAL_ROWS; i++) {
		struct submit_row *r = &p.rows[i];

		memcpy(r->date, DB_REHEARSAL_DAY, sizeof r->date);
		memcpy(r->network, "XX", 3);
		snprintf(r->station, sizeof r->station, "R%03zu", i);
		memcpy(r->channel, "HHZ", 4);
		memcpy(r->country, "FR", 3);
		r->bytes = 1;
		r->nb_reqs = r->nb_successful = 1;
		hll_init(&r->clients);
		hll_add_raw(&r->clients, (int64_t)i + 1);
		r->stat_index = i;
		p.nrows = p.nstats = i + 1;
	}
	/* The rows are in key order (stations R000, R001, ...), as sgroup_build() wants them. */
	if (sgroup_build(&g, &p) < 0) {
		snprintf(err, errlen, "rehearsal: its rows could not be grouped");
		rc = ES_EINTERNAL;
	} else {
		a.node_id = *node_id;
		a.days = days = date_array(g.days, g.ndays);
		rc = pgx_tx(c->pg, rehearse_tx, &a, err, errlen);
		free(days);
		if (rc == -ECANCELED)
			rc = 0;
	}
	sgroup_fini(&g);
	submit_fini(&p);
	return rc;
}
