#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "error.h"
#include "pgx.h"

#include "admin.h"
#include "cal.h"
#include "hex.h"

/* 16 random bytes as 32 lower-case hex digits: fits upstream's varchar(32). */
#define TOKEN_BYTES 16

int admin_token_add(struct admin *a)
{
	unsigned char raw[TOKEN_BYTES];
	char token[2 * TOKEN_BYTES + 1], digest[PGX_DIGEST_TEXT], id_text[16], until[40], name[256];
	const char *params[3] = { id_text, digest, until };
	PGresult *res;
	int id, rc;

	if (!a->node) {
		fprintf(stderr, "eidastats-admin: token add needs --node NODE (id or name)\n");
		return ADMIN_USAGE;
	}
	if (a->expires && cal_parse_ymd(a->expires, strlen(a->expires), NULL, NULL, NULL) != 0) {
		fprintf(stderr, "eidastats-admin: --expires '%s' is not a date YYYY-MM-DD\n", a->expires);
		return ADMIN_USAGE;
	}
	if (admin_connect(a) < 0 || admin_find_node(a, a->node, &id, name, sizeof name) < 0)
		return ADMIN_FAIL;
	if (RAND_bytes(raw, sizeof raw) != 1) {
		fprintf(stderr, "eidastats-admin: OpenSSL could not make random bytes\n");
		return ADMIN_FAIL;
	}
	hex_encode(token, raw, sizeof raw);
	explicit_bzero(raw, sizeof raw);
	/* Only the digest is stored (sql/003); the token exists once, on stdout. */
	if (pgx_token_digest(token, strlen(token), digest) < 0) {
		explicit_bzero(token, sizeof token);
		fprintf(stderr, "eidastats-admin: OpenSSL could not compute SHA-256\n");
		return ADMIN_FAIL;
	}
	snprintf(id_text, sizeof id_text, "%d", id);
	/* A token stays valid through its expiry day (UTC). */
	if (a->expires)
		snprintf(until, sizeof until, "%s 23:59:59.999999+00", a->expires);
	else
		snprintf(until, sizeof until, "infinity");
	rc = admin_try(a, "INSERT INTO tokens (node_id, digest, valid_from, valid_until)"
	                  " SELECT $1::integer, $2::bytea, now(), $3::timestamptz"
	                  " WHERE $3::timestamptz > now() RETURNING id",
	               3, params, &res, "adding the token");
	explicit_bzero(digest, sizeof digest);
	if (rc < 0) {
		explicit_bzero(token, sizeof token);
		if (rc == ES_EDUPLICATE)
			fprintf(stderr, "eidastats-admin: the new token's digest is already stored "
			        "(OpenSSL's random bytes repeat?): %s\n", a->err);
		else
			admin_print_error(a);
		return ADMIN_FAIL;
	}
	if (PQntuples(res) != 1) {
		explicit_bzero(token, sizeof token);
		fprintf(stderr, "eidastats-admin: --expires %s is in the past\n", a->expires);
		PQclear(res);
		return ADMIN_FAIL;
	}
	printf("%s\n", token);
	fflush(stdout);
	explicit_bzero(token, sizeof token);
	fprintf(stderr, "eidastats-admin: token %s added for node '%s', valid %s%s\n",
	        PQgetvalue(res, 0, 0), name, a->expires ? "through " : "without expiry",
	        a->expires ? a->expires : "");
	PQclear(res);
	return ADMIN_OK;
}

int admin_token_list(struct admin *a)
{
	static const char *const headers[] = { "id", "node", "sha256", "valid from (UTC)",
	                                       "valid until", "state" };
	static const int widths[] = { 5, 16, 10, 16, 16, 0 };
	char id_text[16], name[256];
	const char *params[1] = { id_text };
	PGresult *res;
	int id = 0;

	if (admin_connect(a) < 0)
		return ADMIN_FAIL;
	if (a->node && admin_find_node(a, a->node, &id, name, sizeof name) < 0)
		return ADMIN_FAIL;
	snprintf(id_text, sizeof id_text, "%d", id);
	/* No secret: the start of each token's SHA-256 (sha256sum of the token shows the same),
	 * eight hex digits: enough to tell tokens apart. */
	if (admin_exec(a,
	                   "SELECT t.id, coalesce(n.name, '?'),"
	                   " coalesce(left(encode(t.digest, 'hex'), 8) || '...', '-'),"
	                   " to_char(t.valid_from, 'YYYY-MM-DD HH24:MI'),"
	                   " CASE WHEN t.valid_until = 'infinity' THEN 'never'"
	                   "  ELSE to_char(t.valid_until, 'YYYY-MM-DD HH24:MI') END,"
	                   " CASE WHEN now() < t.valid_from THEN 'not yet valid'"
	                   "  WHEN now() > t.valid_until THEN 'expired' ELSE 'valid' END"
	                   " FROM tokens t LEFT JOIN nodes n ON n.id = t.node_id"
	                   " WHERE $1::integer = 0 OR t.node_id = $1::integer ORDER BY t.id",
	               1, params, &res, "listing the tokens") < 0)
		return ADMIN_FAIL;
	admin_print_table(res, 6, headers, widths);
	PQclear(res);
	return ADMIN_OK;
}

int admin_token_del(struct admin *a)
{
	int rc = ADMIN_OK;

	if (a->nargs < 1) {
		fprintf(stderr, "eidastats-admin: token del needs at least one token ID (see token list)\n");
		return ADMIN_USAGE;
	}
	for (int i = 0; i < a->nargs; i++) {
		if (strspn(a->args[i], "0123456789") != strlen(a->args[i]) || strlen(a->args[i]) > 9 ||
		    a->args[i][0] == '\0') {
			fprintf(stderr, "eidastats-admin: '%s' is not a token id\n", a->args[i]);
			return ADMIN_USAGE;
		}
	}
	if (admin_connect(a) < 0)
		return ADMIN_FAIL;
	for (int i = 0; i < a->nargs; i++) {
		const char *params[1] = { a->args[i] };
		char question[256];
		PGresult *res;

		if (admin_exec(a, "SELECT coalesce(n.name, '?') FROM tokens t LEFT JOIN nodes n"
		                  " ON n.id = t.node_id WHERE t.id = $1::integer",
		               1, params, &res, "looking up the token") < 0)
			return ADMIN_FAIL;
		if (PQntuples(res) != 1) {
			fprintf(stderr, "eidastats-admin: no token with id %s\n", a->args[i]);
			PQclear(res);
			rc = ADMIN_FAIL;
			continue;
		}
		snprintf(question, sizeof question, "Delete token %s of node '%s'?", a->args[i],
		         PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!admin_confirm(a, question)) {
			fprintf(stderr, "eidastats-admin: token %s not deleted\n", a->args[i]);
			rc = ADMIN_FAIL;
			continue;
		}
		if (admin_exec(a, "DELETE FROM tokens WHERE id = $1::integer", 1, params, NULL,
		               "deleting the token") < 0)
			return ADMIN_FAIL;
		fprintf(stderr, "eidastats-admin: token %s deleted\n", a->args[i]);
	}
	return rc;
}
