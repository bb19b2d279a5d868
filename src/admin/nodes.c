#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pgx.h"

#include "admin.h"

/* A bound on what an operator types, so that messages and columns stay sane. */
#define NAME_MAX_CHARS 64
#define CONTACT_MAX_CHARS 256

int admin_node_add(struct admin *a)
{
	const char *params[3] = { a->name, a->contact, NULL };
	bool restricted;
	PGresult *res;
	int rc;

	if (!a->name || !a->contact) {
		fprintf(stderr, "eidastats-admin: node add needs --name NAME and --contact EMAIL\n");
		return ADMIN_USAGE;
	}
	if (admin_check_text("--name", a->name, NAME_MAX_CHARS, false) < 0 ||
	    admin_check_text("--contact", a->contact, CONTACT_MAX_CHARS, false) < 0)
		return ADMIN_USAGE;
	if (strspn(a->name, "0123456789") == strlen(a->name)) {
		fprintf(stderr, "eidastats-admin: a node name cannot be all digits (it would read as an id)\n");
		return ADMIN_USAGE;
	}
	/* Without --policy it stays NULL, "not yet defined", as upstream's `nodes add`. */
	if (a->policy) {
		if (admin_node_policy(a->policy, &restricted) < 0)
			return ADMIN_USAGE;
		params[2] = restricted ? "true" : "false";
	}
	if (admin_connect(a) < 0)
		return ADMIN_FAIL;
	rc = admin_try(a, "INSERT INTO nodes (name, contact, restriction_policy)"
	                  " VALUES ($1, $2, $3::boolean) RETURNING id", 3, params,
	               &res, "adding the node");
	if (rc < 0) {
		if (rc == ES_EDUPLICATE)
			fprintf(stderr, "eidastats-admin: a node named '%s' already exists\n", a->name);
		else
			admin_print_error(a);
		return ADMIN_FAIL;
	}
	printf("%s\n", PQgetvalue(res, 0, 0));
	fprintf(stderr, "eidastats-admin: node '%s' added with id %s\n", a->name, PQgetvalue(res, 0, 0));
	PQclear(res);
	return ADMIN_OK;
}

int admin_node_list(struct admin *a)
{
	static const char *const headers[] = { "id", "name", "contact", "policy", "group", "tokens",
	                                       "payloads", "last payload (UTC)" };
	static const int widths[] = { 5, 16, 32, 10, 20, -6, -8, 0 };
	PGresult *res;

	if (admin_connect(a) < 0)
		return ADMIN_FAIL;
	if (admin_exec(a,
	             "SELECT n.id, coalesce(n.name, ''), coalesce(n.contact, ''),"
	             " CASE WHEN n.restriction_policy IS NULL THEN 'undefined'"
	             "   WHEN n.restriction_policy THEN 'restricted' ELSE 'open' END,"
	             " coalesce(n.eas_group, '-'),"
	             " (SELECT count(*) FROM tokens t WHERE t.node_id = n.id"
	             "   AND now() BETWEEN t.valid_from AND t.valid_until),"
	             " (SELECT count(*) FROM payloads p WHERE p.node_id = n.id),"
	             " coalesce((SELECT to_char(max(p.created_at), 'YYYY-MM-DD HH24:MI:SS')"
	             "   FROM payloads p WHERE p.node_id = n.id), '-')"
	             " FROM nodes n ORDER BY n.id", 0, NULL, &res, "listing the nodes") < 0)
		return ADMIN_FAIL;
	admin_print_table(res, 8, headers, widths);
	PQclear(res);
	return ADMIN_OK;
}

int admin_node_update(struct admin *a)
{
	char id_text[16], old[256];
	const char *params[3];
	int id, rc;

	if (a->nargs != 1 || (!a->name && !a->contact)) {
		fprintf(stderr, "eidastats-admin: node update needs one NODE and --name and/or --contact\n");
		return ADMIN_USAGE;
	}
	if ((a->name && admin_check_text("--name", a->name, NAME_MAX_CHARS, false) < 0) ||
	    (a->contact && admin_check_text("--contact", a->contact, CONTACT_MAX_CHARS, false) < 0))
		return ADMIN_USAGE;
	if (a->name && strspn(a->name, "0123456789") == strlen(a->name)) {
		fprintf(stderr, "eidastats-admin: a node name cannot be all digits (it would read as an id)\n");
		return ADMIN_USAGE;
	}
	if (admin_connect(a) < 0 || admin_find_node(a, a->args[0], &id, old, sizeof old) < 0)
		return ADMIN_FAIL;
	snprintf(id_text, sizeof id_text, "%d", id);
	params[0] = id_text;
	params[1] = a->name;
	params[2] = a->contact;
	rc = admin_try(a, "UPDATE nodes SET name = coalesce($2, name), contact = coalesce($3, contact),"
	                  " updated_at = now() WHERE id = $1::integer",
	               3, params, NULL, "updating the node");
	if (rc < 0) {
		if (rc == ES_EDUPLICATE)
			fprintf(stderr, "eidastats-admin: a node named '%s' already exists\n", a->name);
		else
			admin_print_error(a);
		return ADMIN_FAIL;
	}
	fprintf(stderr, "eidastats-admin: node %d ('%s') updated\n", id, old);
	return ADMIN_OK;
}

/* What belongs to a node, children first (the foreign keys do not cascade). */
static int delete_node_tx(PGconn *pg, void *arg, char *err, size_t errlen)
{
	static const char *const deletes[] = {
		"DELETE FROM dataselect_stats WHERE node_id = $1::integer",
		"DELETE FROM dataselect_rollup_node WHERE node_id = $1::integer",
		"DELETE FROM dataselect_rollup_node_year_country WHERE node_id = $1::integer",
		"DELETE FROM dataselect_rollup_country WHERE node_id = $1::integer",
		"DELETE FROM dataselect_rollup WHERE node_id = $1::integer",
		/* Its triggers removed the packs of those rows; any other too (sql/012). */
		"DELETE FROM dataselect_rollup_pack WHERE node_id = $1::integer",
		"DELETE FROM networks WHERE node_id = $1::integer",
		"DELETE FROM payloads WHERE node_id = $1::integer",
		"DELETE FROM tokens WHERE node_id = $1::integer",
		"DELETE FROM nodes WHERE id = $1::integer",
	};
	const char *params[1] = { arg };

	for (size_t i = 0; i < sizeof deletes / sizeof deletes[0]; i++) {
		int rc = pgx_exec(pg, deletes[i], 1, params, NULL, "deleting the node", err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int delete_node(struct admin *a, const char *ref)
{
	char id_text[16], name[256], question[512];
	const char *params[1] = { id_text };
	PGresult *res;
	int id;

	if (admin_find_node(a, ref, &id, name, sizeof name) < 0)
		return ADMIN_FAIL;
	snprintf(id_text, sizeof id_text, "%d", id);
	if (admin_exec(a, "SELECT (SELECT count(*) FROM tokens WHERE node_id = $1::integer),"
	                  " (SELECT count(*) FROM payloads WHERE node_id = $1::integer),"
	                  " (SELECT count(*) FROM dataselect_stats WHERE node_id = $1::integer)",
	               1, params, &res, "counting the node's data") < 0)
		return ADMIN_FAIL;
	snprintf(question, sizeof question,
	         "Delete node %d ('%s') with its %s token(s), %s payload(s) and %s statistics row(s)?",
	         id, name, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	PQclear(res);
	if (!admin_confirm(a, question)) {
		fprintf(stderr, "eidastats-admin: node %d not deleted\n", id);
		return ADMIN_FAIL;
	}
	if (pgx_tx(a->pg, delete_node_tx, id_text, a->err, sizeof a->err) < 0) {
		admin_print_error(a);
		return ADMIN_FAIL;
	}
	fprintf(stderr, "eidastats-admin: node %d ('%s') deleted\n", id, name);
	return ADMIN_OK;
}

int admin_node_del(struct admin *a)
{
	int rc = ADMIN_OK;

	if (a->nargs < 1) {
		fprintf(stderr, "eidastats-admin: node del needs at least one NODE (id or name)\n");
		return ADMIN_USAGE;
	}
	if (admin_connect(a) < 0)
		return ADMIN_FAIL;
	for (int i = 0; i < a->nargs; i++)
		if (delete_node(a, a->args[i]) != ADMIN_OK)
			rc = ADMIN_FAIL;
	return rc;
}
