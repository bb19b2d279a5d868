#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "hll.h"
#include "mem.h"
#include "pgx.h"

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
};

/*
 * The codes are "C": submit_parse() sorted the rows by their bytes, so the
 * ORDER BY of the statements below finds them in order at the cost of a
 * memcmp per row instead of the database collation's strcoll (3 % of a
 * merge's instructions).  Any one order serves to lock rows without deadlocks.
 */
static const char create_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS ingest_rows ("
	" date date, network varchar(6) COLLATE \"C\", station varchar(5) COLLATE \"C\","
	" location varchar(2) COLLATE \"C\", channel varchar(3) COLLATE \"C\","
	" country varchar(2) COLLATE \"C\", bytes bigint, nb_reqs integer,"
	" nb_successful_reqs integer, nb_failed_reqs integer, clients hll(11,5)"
	") ON COMMIT DELETE ROWS";

static const char insert_payload_sql[] =
	"INSERT INTO payloads (node_id, generated_at, version, first_stat_at, last_stat_at,"
	" coverage, digest, method, nb_stats)"
	" VALUES ($1::integer, $2::timestamptz, $3, $4::timestamptz, $5::timestamptz,"
	" $6::date[], $7::bytea, $8, $9::integer)"
	" ON CONFLICT (node_id, digest) DO NOTHING RETURNING id";

/* The networks of the rows, in one statement; the trigger then has nothing to do (sql/002). */
static const char networks_sql[] =
	"INSERT INTO networks (node_id, name, inverted_policy)"
	" SELECT DISTINCT $1::integer, network, false FROM ingest_rows"
	" ON CONFLICT DO NOTHING";

/*
 * For the rest of the transaction: the networks exist (sql/002's row trigger
 * has nothing to do), and sorts, hash tables and the transition table of
 * sql/013's parents check stay in memory up to DB_INGEST_WORK_MEM instead of
 * the server's work_mem (4 MB by default): with it synthetic-small's client
 * sets spilled to temporary files (the rollup's grouping in 85 batches, the
 * transition table in 316 blocks), 4 % of the instructions of an ingest
 * into an empty table (callgrind).  Each sort or hash of one ingest
 * may take that much, so a connection of the write pool may hold a few times
 * it while a large payload is stored.
 */
#define DB_INGEST_WORK_MEM "32MB"
static const char tx_settings_sql[] =
	"SELECT set_config('eidastats.networks_known', 'on', true),"
	" set_config('work_mem', '" DB_INGEST_WORK_MEM "', true)";

/* The ORDER BY makes concurrent payloads lock shared rows in one order, so they cannot deadlock. */
static const char merge_sql[] =
	"INSERT INTO dataselect_stats AS s (node_id, date, network, station, location, channel,"
	" country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients, created_at, updated_at)"
	" SELECT $1::integer, date, network, station, location, channel, country, bytes, nb_reqs,"
	" nb_successful_reqs, nb_failed_reqs, clients, now(), now() FROM ingest_rows"
	" ORDER BY date, network, station, location, channel, country"
	" ON CONFLICT (node_id, date, network, station, location, channel, country) DO UPDATE SET"
	" bytes = coalesce(s.bytes, 0) + EXCLUDED.bytes,"
	" nb_reqs = coalesce(s.nb_reqs, 0) + EXCLUDED.nb_reqs,"
	" nb_successful_reqs = coalesce(s.nb_successful_reqs, 0) + EXCLUDED.nb_successful_reqs,"
	" nb_failed_reqs = coalesce(s.nb_failed_reqs, 0) + EXCLUDED.nb_failed_reqs,"
	" clients = coalesce(hll_union(s.clients, EXCLUDED.clients), EXCLUDED.clients),"
	" updated_at = now()";

static const char overwrite_sql[] =
	"INSERT INTO dataselect_stats AS s (node_id, date, network, station, location, channel,"
	" country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients, created_at, updated_at)"
	" SELECT $1::integer, date, network, station, location, channel, country, bytes, nb_reqs,"
	" nb_successful_reqs, nb_failed_reqs, clients, now(), now() FROM ingest_rows"
	" ORDER BY date, network, station, location, channel, country"
	" ON CONFLICT (node_id, date, network, station, location, channel, country) DO UPDATE SET"
	" bytes = EXCLUDED.bytes, nb_reqs = EXCLUDED.nb_reqs,"
	" nb_successful_reqs = EXCLUDED.nb_successful_reqs, nb_failed_reqs = EXCLUDED.nb_failed_reqs,"
	" clients = EXCLUDED.clients, created_at = now(), updated_at = now()";

/*
 * The query rollup (sql/004-query.sql) follows in the same transaction, from
 * the COPY table, so that it always equals dataselect_stats.  An append adds
 * the payload's rows, grouped here by (month, network, country), to the
 * counters and client sets of the four rollup tables (sql/011): the cost of
 * the payload, not of the month, and appends of one node do not wait for
 * each other.  A replacement cannot be subtracted: the (node, month) groups it
 * touched are recomputed from dataselect_stats.
 */
static const char rollup_add_sql[] =
	"SELECT eidastats_rollup_add($1::integer, array_agg(m), array_agg(n)::text[],"
	" array_agg(c)::text[], array_agg(b), array_agg(q), array_agg(s), array_agg(f), array_agg(h))"
	" FROM (SELECT date_trunc('month', date)::date AS m, network AS n, country AS c,"
	" sum(bytes)::bigint AS b, sum(nb_reqs)::bigint AS q, sum(nb_successful_reqs)::bigint AS s,"
	" sum(nb_failed_reqs)::bigint AS f, hll_union_agg(clients) AS h"
	" FROM ingest_rows GROUP BY 1, 2, 3) g";

static const char rollup_refresh_sql[] =
	"SELECT eidastats_rollup_refresh($1::integer,"
	" ARRAY(SELECT DISTINCT date_trunc('month', date)::date FROM ingest_rows))";

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

/* Appends text to the COPY buffer, escaped for COPY's text format. */
static char *copy_text(char *out, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\') {
			*out++ = '\\';
			*out++ = '\\';
		} else if (ch < 0x20 || ch == 0x7F) {
			/* Backslash and three octal digits: the byte itself, never a delimiter. */
			*out++ = '\\';
			*out++ = (char)('0' + (ch >> 6));
			*out++ = (char)('0' + ((ch >> 3) & 7));
			*out++ = (char)('0' + (ch & 7));
		} else {
			*out++ = (char)ch;
		}
	}
	return out;
}

/* The longest COPY line a row can make: text escaped at 4 bytes per byte, numbers, HLL hex. */
#define COPY_LINE_MAX (4 * (11 + sizeof(((struct submit_row *)0)->network) +            \
	sizeof(((struct submit_row *)0)->station) + sizeof(((struct submit_row *)0)->location) + \
	sizeof(((struct submit_row *)0)->channel) + 3) + 4 * 21 + 16 + 1 + HLL_HEX_MAX + 16)

static size_t copy_row(char *buf, const struct submit_row *r)
{
	char *o = buf;

	o = copy_text(o, r->date);
	*o++ = '\t';
	o = copy_text(o, r->network);
	*o++ = '\t';
	o = copy_text(o, r->station);
	*o++ = '\t';
	o = copy_text(o, r->location);
	*o++ = '\t';
	o = copy_text(o, r->channel);
	*o++ = '\t';
	o = copy_text(o, r->country);
	o += sprintf(o, "\t%lld\t%ld\t%ld\t%ld\t\\", (long long)r->bytes, (long)r->nb_reqs,
	             (long)r->nb_successful, (long)r->nb_failed);
	/* hll_to_hex writes "\x...": with the backslash above, COPY reads "\\x..." as "\x...". */
	o += hll_to_hex(&r->clients, o);
	*o++ = '\n';
	return (size_t)(o - buf);
}

/* 0 or a pgx code; the COPY table is the session's (DB_ROLE_WRITE). */
static int copy_rows(PGconn *pg, const struct submit_payload *p, char *err, size_t errlen)
{
	PGresult *res;
	char *buf;
	size_t used = 0;
	int ok = 1, rc;

	rc = pgx_exec(pg, "COPY ingest_rows (date, network, station, location, channel, country,"
	                  " bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients) FROM STDIN",
	              0, NULL, NULL, "COPY", err, errlen);
	if (rc < 0)
		return rc;
	buf = es_malloc(DB_COPY_CHUNK + COPY_LINE_MAX);
	for (size_t i = 0; ok == 1 && i < p->nrows; i++) {
		used += copy_row(buf + used, &p->rows[i]);
		if (used >= DB_COPY_CHUNK) {
			ok = PQputCopyData(pg, buf, (int)used);
			used = 0;
		}
	}
	if (ok == 1 && used > 0)
		ok = PQputCopyData(pg, buf, (int)used);
	free(buf);
	if (ok != 1) {
		pgx_error_text(pg, NULL, "COPY data", err, errlen);
		return pgx_lost(pg) ? -ENOTCONN : ES_EINTERNAL;
	}
	if (PQputCopyEnd(pg, NULL) != 1) {
		pgx_error_text(pg, NULL, "COPY end", err, errlen);
		return pgx_lost(pg) ? -ENOTCONN : ES_EINTERNAL;
	}
	res = PQgetResult(pg);
	rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pgx_error_text(pg, res, "COPY", err, errlen);
		rc = pgx_classify(PQresultErrorField(res, PG_DIAG_SQLSTATE), pgx_lost(pg));
	}
	PQclear(res);
	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
	return rc;
}

struct ingest_args {
	int node_id;
	bool overwrite;
	const char *method;
	const struct submit_payload *p;
};

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
	coverage = es_malloc(3 + 11 * p->ndays);
	{
		char *o = coverage;
		*o++ = '{';
		for (size_t i = 0; i < p->ndays; i++) {
			if (i > 0)
				*o++ = ',';
			memcpy(o, p->days[i], 10);
			o += 10;
		}
		*o++ = '}';
		*o = '\0';
	}
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
	if ((rc = copy_rows(pg, p, err, errlen)) < 0)
		return rc;
	rc = pgx_exec(pg, networks_sql, 1, params, NULL, "creating the networks", err, errlen);
	if (rc < 0)
		return rc;
	rc = pgx_exec(pg, tx_settings_sql, 0, NULL, NULL, "SET LOCAL", err, errlen);
	if (rc < 0)
		return rc;
	rc = pgx_exec(pg, a->overwrite ? overwrite_sql : merge_sql, 1, params, NULL,
	              "storing the statistics", err, errlen);
	if (rc == 0)
		rc = pgx_exec(pg, a->overwrite ? rollup_refresh_sql : rollup_add_sql, 1, params, NULL,
		              "updating the query rollup", err, errlen);
	if (rc == ES_EFORMAT)
		snprintf(err, errlen, "adding these statistics to the stored ones overflows a counter");
	return rc;
}

int db_ingest(struct db_conn *c, int node_id, bool overwrite, const char *method,
              const struct submit_payload *p, char *err, size_t errlen)
{
	struct ingest_args a = { node_id, overwrite, method, p };
	int rc;

	if (c->role != DB_ROLE_WRITE) {
		snprintf(err, errlen, "db_ingest on a connection of the read pool");
		return ES_EINTERNAL;
	}
	rc = connect_if_needed(c, err, errlen);
	if (rc < 0)
		return rc;
	return pgx_tx(c->pg, ingest_tx, &a, err, errlen);
}
