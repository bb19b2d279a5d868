#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "error.h"
#include "hll.h"
#include "mem.h"

#include "db.h"

/* Attempts of a transaction that lost a deadlock or a serialization race. */
#define DB_TX_ATTEMPTS 4
/* Bytes of COPY data handed to libpq at once. */
#define DB_COPY_CHUNK (256 * 1024)

struct db_conn {
	PGconn *pg;
	const char *conninfo;  /* The pool's, for reconnecting. */
	bool busy;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	char *conninfo;
	unsigned size;
	struct db_conn *conns;
};

static const char create_temp_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS ingest_rows ("
	" date date, network varchar(6), station varchar(5), location varchar(2),"
	" channel varchar(3), country varchar(2), bytes bigint, nb_reqs integer,"
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

struct db_pool *db_pool_new(const char *conninfo, unsigned size)
{
	struct db_pool *pool = es_calloc(1, sizeof *pool);

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	pool->conninfo = es_strdup(conninfo);
	pool->size = size;
	pool->conns = es_calloc(size, sizeof pool->conns[0]);
	for (unsigned i = 0; i < size; i++)
		pool->conns[i].conninfo = pool->conninfo;
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

/* Copies libpq's message (one line, no trailing newline) into err. */
static void pg_error(PGconn *pg, const PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	size_t n;

	if (!msg || !*msg)
		msg = pg ? PQerrorMessage(pg) : "no connection";
	snprintf(err, errlen, "%s: %s", what, msg);
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static bool lost(const struct db_conn *c)
{
	return !c->pg || PQstatus(c->pg) != CONNECTION_OK;
}

static bool exec_ok(struct db_conn *c, const char *sql, ExecStatusType want, char *err, size_t errlen)
{
	PGresult *res = PQexec(c->pg, sql);
	bool ok = PQresultStatus(res) == want;

	if (!ok)
		pg_error(c->pg, res, sql, err, errlen);
	PQclear(res);
	return ok;
}

static int connect_if_needed(struct db_conn *c, char *err, size_t errlen)
{
	/* Keywords before "dbname" are defaults that the expanded conninfo may override. */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "10", "eidastats-ingestd", c->conninfo, NULL };

	if (!lost(c))
		return 0;
	if (c->pg)
		PQfinish(c->pg);
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		pg_error(c->pg, NULL, "cannot connect to the database", err, errlen);
		if (c->pg) {
			PQfinish(c->pg);
			c->pg = NULL;
		}
		return -ENOTCONN;
	}
	if (!exec_ok(c, "SET TIME ZONE 'UTC'", PGRES_COMMAND_OK, err, errlen) ||
	    !exec_ok(c, create_temp_sql, PGRES_COMMAND_OK, err, errlen)) {
		int rc = lost(c) ? -ENOTCONN : ES_EINTERNAL;
		PQfinish(c->pg);
		c->pg = NULL;
		return rc;
	}
	return 0;
}

int db_health(struct db_conn *c, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc = connect_if_needed(c, err, errlen);
		if (rc < 0)
			return -ENOTCONN;
		if (exec_ok(c, "SELECT 1", PGRES_TUPLES_OK, err, errlen))
			return 0;
		if (!lost(c))
			return -ENOTCONN;
		/* The server went away since the last request: reconnect once. */
	}
	return -ENOTCONN;
}

int db_authenticate(struct db_conn *c, const char *token, size_t len, int *node_id,
                    char *err, size_t errlen)
{
	unsigned char want[DB_TOKEN_MAX] = { 0 };
	PGresult *res = NULL;
	int found = 0, found_node = 0;

	*node_id = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc = connect_if_needed(c, err, errlen);
		if (rc < 0)
			return rc;
		res = PQexec(c->pg,
		             "SELECT node_id, value, (now() >= valid_from AND now() <= valid_until)"
		             " FROM tokens WHERE value IS NOT NULL AND node_id IS NOT NULL");
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			break;
		pg_error(c->pg, res, "token lookup", err, errlen);
		PQclear(res);
		res = NULL;
		if (!lost(c))
			return ES_EINTERNAL;
	}
	if (!res)
		return -ENOTCONN;
	if (len > DB_TOKEN_MAX) {
		PQclear(res);
		snprintf(err, errlen, "token longer than %d characters", DB_TOKEN_MAX);
		return ES_EAUTH;
	}
	memcpy(want, token, len);
	for (int i = 0; i < PQntuples(res); i++) {
		unsigned char have[DB_TOKEN_MAX] = { 0 };
		const char *value = PQgetvalue(res, i, 1);
		size_t vlen = (size_t)PQgetlength(res, i, 1);
		int match, valid = PQgetvalue(res, i, 2)[0] == 't';

		if (vlen > DB_TOKEN_MAX)
			continue;
		memcpy(have, value, vlen);
		/* Constant time: every token is compared in full and nothing branches on the bytes. */
		match = (CRYPTO_memcmp(want, have, DB_TOKEN_MAX) == 0) & (vlen == len) & (len > 0);
		found |= match & valid;
		found_node |= (match & valid) ? atoi(PQgetvalue(res, i, 0)) : 0;
	}
	PQclear(res);
	if (!found) {
		snprintf(err, errlen, "unknown or expired token");
		return ES_EAUTH;
	}
	*node_id = found_node;
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

static int copy_rows(struct db_conn *c, const struct submit_payload *p, char *err, size_t errlen)
{
	PGresult *res;
	char *buf;
	size_t used = 0;
	int ok = 1;

	res = PQexec(c->pg, "COPY ingest_rows (date, network, station, location, channel, country,"
	                    " bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients) FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		pg_error(c->pg, res, "COPY", err, errlen);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	buf = es_malloc(DB_COPY_CHUNK + COPY_LINE_MAX);
	for (size_t i = 0; ok == 1 && i < p->nrows; i++) {
		used += copy_row(buf + used, &p->rows[i]);
		if (used >= DB_COPY_CHUNK) {
			ok = PQputCopyData(c->pg, buf, (int)used);
			used = 0;
		}
	}
	if (ok == 1 && used > 0)
		ok = PQputCopyData(c->pg, buf, (int)used);
	free(buf);
	if (ok != 1) {
		pg_error(c->pg, NULL, "COPY data", err, errlen);
		return -1;
	}
	if (PQputCopyEnd(c->pg, NULL) != 1) {
		pg_error(c->pg, NULL, "COPY end", err, errlen);
		return -1;
	}
	res = PQgetResult(c->pg);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		pg_error(c->pg, res, "COPY", err, errlen);
	PQclear(res);
	while ((res = PQgetResult(c->pg)) != NULL)
		PQclear(res);
	return ok ? 0 : -1;
}

static void hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	*out++ = '\\';
	*out++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 15];
	}
	*out = '\0';
}

/* Maps a failed statement to an error code by its SQLSTATE. */
static int classify(struct db_conn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (lost(c))
		return -ENOTCONN;
	if (!state)
		return ES_EINTERNAL;
	if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)
		return -EAGAIN;
	/* 22003: numeric value out of range, i.e. a sum no longer fits its column. */
	if (strcmp(state, "22003") == 0)
		return ES_EFORMAT;
	/* Class 08 (connection), 57P (shutdown), 53 (resources): the database is not available. */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0)
		return -ENOTCONN;
	return ES_EINTERNAL;
}

static void rollback(struct db_conn *c)
{
	if (!lost(c))
		PQclear(PQexec(c->pg, "ROLLBACK"));
}

/*
 * Checks the result of one statement of the ingest transaction and frees it;
 * on failure the error is reported in err, the transaction rolled back and the
 * classified code returned.
 */
static int txn_step(struct db_conn *c, PGresult *res, ExecStatusType want, const char *what,
                    char *err, size_t errlen)
{
	int rc = 0;

	if (PQresultStatus(res) != want) {
		pg_error(c->pg, res, what, err, errlen);
		rc = classify(c, res);
	}
	PQclear(res);
	if (rc)
		rollback(c);
	return rc;
}

static int ingest_once(struct db_conn *c, int node_id, bool overwrite, const char *method,
                       const struct submit_payload *p, char *err, size_t errlen)
{
	char node[16], nstats[24], digest[2 + 2 * SUBMIT_DIGEST_LEN + 1];
	char *coverage;
	const char *first = NULL, *last = NULL;
	const char *params[9];
	PGresult *res;
	int rc;

	if (!exec_ok(c, "BEGIN", PGRES_COMMAND_OK, err, errlen))
		return lost(c) ? -ENOTCONN : ES_EINTERNAL;

	snprintf(node, sizeof node, "%d", node_id);
	snprintf(nstats, sizeof nstats, "%zu", p->nstats > INT32_MAX ? (size_t)INT32_MAX : p->nstats);
	hex(digest, p->digest, SUBMIT_DIGEST_LEN);
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
	params[7] = method;
	params[8] = nstats;
	res = PQexecParams(c->pg, insert_payload_sql, 9, NULL, params, NULL, NULL, 0);
	free(coverage);
	int inserted = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
	if ((rc = txn_step(c, res, PGRES_TUPLES_OK, "recording the payload", err, errlen)) != 0)
		return rc;
	if (!inserted) {
		rollback(c);
		snprintf(err, errlen, "this node already sent the same payload");
		return ES_EDUPLICATE;
	}

	if (copy_rows(c, p, err, errlen) < 0) {
		rc = lost(c) ? -ENOTCONN : ES_EINTERNAL;
		rollback(c);
		return rc;
	}
	res = PQexecParams(c->pg, networks_sql, 1, NULL, params, NULL, NULL, 0);
	if ((rc = txn_step(c, res, PGRES_COMMAND_OK, "creating the networks", err, errlen)) != 0)
		return rc;
	if (!exec_ok(c, "SET LOCAL eidastats.networks_known = 'on'", PGRES_COMMAND_OK, err, errlen)) {
		rc = lost(c) ? -ENOTCONN : ES_EINTERNAL;
		rollback(c);
		return rc;
	}
	res = PQexecParams(c->pg, overwrite ? overwrite_sql : merge_sql, 1, NULL, params, NULL, NULL, 0);
	if ((rc = txn_step(c, res, PGRES_COMMAND_OK, "storing the statistics", err, errlen)) != 0) {
		if (rc == ES_EFORMAT)
			snprintf(err, errlen, "adding these statistics to the stored ones overflows a counter");
		return rc;
	}
	return txn_step(c, PQexec(c->pg, "COMMIT"), PGRES_COMMAND_OK, "COMMIT", err, errlen);
}

int db_ingest(struct db_conn *c, int node_id, bool overwrite, const char *method,
              const struct submit_payload *p, char *err, size_t errlen)
{
	int rc = -EAGAIN;

	for (int attempt = 0; rc == -EAGAIN && attempt < DB_TX_ATTEMPTS; attempt++) {
		rc = connect_if_needed(c, err, errlen);
		if (rc < 0)
			return rc;
		rc = ingest_once(c, node_id, overwrite, method, p, err, errlen);
	}
	if (rc == -EAGAIN)
		rc = ES_EINTERNAL;
	return rc;
}
