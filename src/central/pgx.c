#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "error.h"

#include "hex.h"
#include "pgx.h"

/* The classes of SQLSTATE codes (PostgreSQL's documentation, appendix "Error Codes"). */
static const struct {
	char cls[3];
	const char *name;
} classes[] = {
	{ "00", "successful completion" },
	{ "01", "warning" },
	{ "02", "no data" },
	{ "03", "SQL statement not yet complete" },
	{ "08", "connection exception" },
	{ "09", "triggered action exception" },
	{ "0A", "feature not supported" },
	{ "0B", "invalid transaction initiation" },
	{ "0F", "locator exception" },
	{ "0L", "invalid grantor" },
	{ "0P", "invalid role specification" },
	{ "0Z", "diagnostics exception" },
	{ "20", "case not found" },
	{ "21", "cardinality violation" },
	{ "22", "data exception" },
	{ "23", "integrity constraint violation" },
	{ "24", "invalid cursor state" },
	{ "25", "invalid transaction state" },
	{ "26", "invalid SQL statement name" },
	{ "27", "triggered data change violation" },
	{ "28", "invalid authorization specification" },
	{ "2B", "dependent privilege descriptors still exist" },
	{ "2D", "invalid transaction termination" },
	{ "2F", "SQL routine exception" },
	{ "34", "invalid cursor name" },
	{ "38", "external routine exception" },
	{ "39", "external routine invocation exception" },
	{ "3B", "savepoint exception" },
	{ "3D", "invalid catalog name" },
	{ "3F", "invalid schema name" },
	{ "40", "transaction rollback" },
	{ "42", "syntax error or access rule violation" },
	{ "44", "WITH CHECK OPTION violation" },
	{ "53", "insufficient resources" },
	{ "54", "program limit exceeded" },
	{ "55", "object not in prerequisite state" },
	{ "57", "operator intervention" },
	{ "58", "system error" },
	{ "72", "snapshot failure" },
	{ "F0", "configuration file error" },
	{ "HV", "foreign data wrapper error" },
	{ "P0", "PL/pgSQL error" },
	{ "XX", "internal error" },
};

static bool is_sqlstate(const char *s)
{
	if (!s || strlen(s) != 5)
		return false;
	for (int i = 0; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

const char *pgx_class_name(const char *sqlstate)
{
	if (!is_sqlstate(sqlstate))
		return "unknown class";
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (memcmp(classes[i].cls, sqlstate, 2) == 0)
			return classes[i].name;
	return "unknown class";
}

int pgx_classify(const char *sqlstate, bool lost)
{
	if (lost)
		return -ENOTCONN;
	if (!is_sqlstate(sqlstate))
		return ES_EINTERNAL;
	if (strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "40001") == 0)
		return -EAGAIN;
	/* 57P: shutdown, crash, cannot connect now, database dropped, idle timeout. */
	if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "53", 2) == 0 ||
	    strncmp(sqlstate, "57P", 3) == 0)
		return -ENOTCONN;
	if (strcmp(sqlstate, "23505") == 0)
		return ES_EDUPLICATE;
	if (strncmp(sqlstate, "22", 2) == 0)
		return ES_EFORMAT;
	return ES_EINTERNAL;
}

bool pgx_lost(const PGconn *pg)
{
	return !pg || PQstatus(pg) != CONNECTION_OK;
}

void pgx_error_text(const PGconn *pg, const PGresult *res, const char *what, char *err, size_t errlen)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	char tail[96] = "";
	size_t n, room;
	int w;

	if (errlen == 0)
		return;
	if (is_sqlstate(state))
		snprintf(tail, sizeof tail, " [SQLSTATE %s, class %.2s %s]", state, state,
		         pgx_class_name(state));
	/* The SQLSTATE survives a long message: the message is cut, not the tail. */
	room = strlen(tail) < errlen / 2 ? errlen - strlen(tail) : errlen;
	if (!msg || !*msg)
		msg = pg ? PQerrorMessage(pg) : "no connection";
	if (!msg || !*msg)
		msg = "no message from libpq";
	/* The server's fields when it sent them (no severity, no PL/pgSQL context), else libpq's text. */
	if (primary && *primary)
		w = snprintf(err, room, "%s: %s%s%s%s%s%s", what, primary, detail ? " (" : "",
		             detail ? detail : "", detail ? ")" : "", hint ? "; hint: " : "",
		             hint ? hint : "");
	else
		w = snprintf(err, room, "%s: %s", what, msg);
	n = w < 0 ? 0 : (size_t)w >= room ? room - 1 : (size_t)w;
	err[n] = '\0';
	/* One line: libpq ends messages with a newline and puts DETAIL on the next. */
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	if (room < errlen)
		snprintf(err + n, errlen - n, "%s", tail);
}

static void no_notices(void *arg, const char *message)
{
	/* "already exists, skipping" and the like are not news, and a library never prints. */
	(void)arg;
	(void)message;
}

int pgx_connect(PGconn **out, const char *conninfo, const char *app, char *err, size_t errlen)
{
	/* Keywords before "dbname" are defaults that the expanded conninfo may override. */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "10", app, conninfo, NULL };
	PGconn *pg;
	int rc;

	*out = NULL;
	pg = PQconnectdbParams(keys, vals, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		pgx_error_text(pg, NULL, "cannot connect to the database", err, errlen);
		if (pg)
			PQfinish(pg);
		return -ENOTCONN;
	}
	PQsetNoticeProcessor(pg, no_notices, NULL);
	rc = pgx_exec(pg, "SET TIME ZONE 'UTC'", 0, NULL, NULL, "setting the time zone", err, errlen);
	if (rc < 0) {
		PQfinish(pg);
		return rc == -ENOTCONN ? rc : ES_EINTERNAL;
	}
	*out = pg;
	return 0;
}

int pgx_exec(PGconn *pg, const char *sql, int nparams, const char *const *params, PGresult **out,
             const char *what, char *err, size_t errlen)
{
	PGresult *res;
	ExecStatusType st;
	int rc;

	if (out)
		*out = NULL;
	if (pgx_lost(pg)) {
		pgx_error_text(pg, NULL, what, err, errlen);
		return -ENOTCONN;
	}
	res = nparams > 0 ? PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0)
	                  : PQexec(pg, sql);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN ||
	    st == PGRES_COPY_OUT) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	pgx_error_text(pg, res, what, err, errlen);
	rc = pgx_classify(res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL, pgx_lost(pg));
	PQclear(res);
	return rc;
}

int pgx_tx(PGconn *pg, pgx_tx_fn fn, void *arg, char *err, size_t errlen)
{
	int rc = -EAGAIN;

	for (int attempt = 0; rc == -EAGAIN && attempt < PGX_TX_ATTEMPTS; attempt++) {
		rc = pgx_exec(pg, "BEGIN", 0, NULL, NULL, "BEGIN", err, errlen);
		if (rc < 0)
			return rc == -EAGAIN ? ES_EINTERNAL : rc;
		rc = fn(pg, arg, err, errlen);
		if (rc == 0)
			rc = pgx_exec(pg, "COMMIT", 0, NULL, NULL, "COMMIT", err, errlen);
		if (rc != 0 && !pgx_lost(pg)) {
			/* A failed COMMIT has ended the transaction already; ROLLBACK then only warns. */
			PQclear(PQexec(pg, "ROLLBACK"));
		}
	}
	return rc == -EAGAIN ? ES_EINTERNAL : rc;
}

void pgx_bytea_text(char *out, const unsigned char *in, size_t n)
{
	out[0] = '\\';
	out[1] = 'x';
	hex_encode(out + 2, in, n);
}

int pgx_token_digest(const char *token, size_t len, char out[PGX_DIGEST_TEXT])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != PGX_DIGEST_LEN)
		return ES_EINTERNAL;
	pgx_bytea_text(out, md, PGX_DIGEST_LEN);
	explicit_bzero(md, sizeof md);
	return 0;
}
