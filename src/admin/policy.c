/*
 * Restriction policies, EAS groups and contacts of nodes and networks
 * (doc/query-api.md): a (node, network) pair is restricted when
 * nodes.restriction_policy XOR networks.inverted_policy, and "not yet
 * defined" when either is NULL (the query API then treats it as restricted).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgx.h"

#include "admin.h"

/* Upstream's networks.name is varchar(6); FDSN network codes are upper case. */
#define NETWORK_MAX_CHARS 6
#define GROUP_MAX_CHARS 256
#define EMAIL_MAX_CHARS 256

/* The effective state of a pair, as upstream's /_isRestricted says it. */
#define STATE_SQL(node, net)                                                              \
	"CASE WHEN " node ".restriction_policy IS NULL OR " net ".inverted_policy IS NULL"    \
	" THEN 'not yet defined' WHEN " node ".restriction_policy <> " net ".inverted_policy" \
	" THEN 'yes' ELSE 'no' END"

int admin_node_policy(const char *word, bool *restricted)
{
	if (strcmp(word, "open") == 0) {
		*restricted = false;
		return 0;
	}
	if (strcmp(word, "restricted") == 0) {
		*restricted = true;
		return 0;
	}
	fprintf(stderr, "eidastats-admin: bad node policy '%.32s': give open or restricted\n", word);
	return -1;
}

static int network_policy(const char *word, bool *inverted)
{
	if (strcmp(word, "default") == 0) {
		*inverted = false;
		return 0;
	}
	if (strcmp(word, "inverted") == 0) {
		*inverted = true;
		return 0;
	}
	fprintf(stderr, "eidastats-admin: bad network policy '%.32s': give default (the node's"
	        " policy) or inverted (the opposite)\n", word);
	return -1;
}

static int check_network(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n > NETWORK_MAX_CHARS ||
	    strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n) {
		fprintf(stderr, "eidastats-admin: bad network code '%.32s': 1 to %d characters"
		        " A-Z or 0-9\n", code, NETWORK_MAX_CHARS);
		return -1;
	}
	return 0;
}

/* An EAS group is matched against the token's memberof entries, split at ';'. */
static int check_group(const char *group)
{
	if (admin_check_text("GROUP", group, GROUP_MAX_CHARS, true) < 0)
		return -1;
	if (group[0] != '\0' && (group[0] != '/' || strpbrk(group, "; ") != NULL)) {
		fprintf(stderr, "eidastats-admin: bad group '%s': an EAS group is a full memberof"
		        " entry such as /epos/alparray (starts with /, no ';' or space);"
		        " \"\" clears it\n", group);
		return -1;
	}
	return 0;
}

static int check_email(const char *email)
{
	const char *at;

	if (admin_check_text("EMAIL", email, EMAIL_MAX_CHARS, true) < 0)
		return -1;
	if (email[0] == '\0')
		return 0;
	at = strchr(email, '@');
	if (!at || at == email || at[1] == '\0' || strchr(at + 1, '@') ||
	    strpbrk(email, " ,;<>\"") != NULL) {
		fprintf(stderr, "eidastats-admin: bad e-mail address '%s': give one address such as"
		        " pi@example.org (\"\" clears it)\n", email);
		return -1;
	}
	return 0;
}

/* The node of the command line's first word, found; -1 after a message. */
static int node_arg(struct admin *a, int *id, char *id_text, size_t idcap,
                    char *name, size_t namecap)
{
	if (admin_connect(a) < 0 || admin_find_node(a, a->args[0], id, name, namecap) < 0)
		return -1;
	snprintf(id_text, idcap, "%d", *id);
	return 0;
}

int admin_node_set_policy(struct admin *a)
{
	char id_text[16], name[256];
	const char *params[2] = { id_text, NULL };
	bool restricted;
	PGresult *res;
	int id;

	if (a->nargs != 2) {
		fprintf(stderr, "eidastats-admin: node set-policy needs NODE and open or restricted\n");
		return ADMIN_USAGE;
	}
	if (admin_node_policy(a->args[1], &restricted) < 0)
		return ADMIN_USAGE;
	if (node_arg(a, &id, id_text, sizeof id_text, name, sizeof name) < 0)
		return ADMIN_FAIL;
	params[1] = restricted ? "true" : "false";
	/* One statement, so one transaction: upstream's `nodes set_policy ID true` also sets
	 * every inverted_policy of the node to false. */
	if (admin_exec(a,
	             "WITH n AS (UPDATE nodes SET restriction_policy = $2::boolean, updated_at = now()"
	             "   WHERE id = $1::integer RETURNING id),"
	             " r AS (UPDATE networks SET inverted_policy = false WHERE node_id = $1::integer"
	             "   AND $2::boolean AND inverted_policy IS DISTINCT FROM false RETURNING name)"
	             " SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM r),"
	             " coalesce((SELECT string_agg(name, ' ' ORDER BY name) FROM r), ''),"
	             " (SELECT count(*) FROM networks WHERE node_id = $1::integer)",
	             2, params, &res, "setting the node's policy") < 0)
		return ADMIN_FAIL;
	if (PQgetvalue(res, 0, 0)[0] == '0') {
		fprintf(stderr, "eidastats-admin: node %d ('%s') was deleted meanwhile\n", id, name);
		PQclear(res);
		return ADMIN_FAIL;
	}
	if (restricted) {
		fprintf(stderr, "eidastats-admin: node %d ('%s') policy set to restricted\n", id, name);
		if (PQgetvalue(res, 0, 1)[0] == '0')
			fprintf(stderr, "eidastats-admin: its %s network(s) have policy default, so all are"
			        " restricted\n", PQgetvalue(res, 0, 3));
		else
			fprintf(stderr, "eidastats-admin: as upstream does, its networks were reset to policy"
			        " default, so all %s are restricted; reset: %s\n",
			        PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 2));
	} else {
		fprintf(stderr, "eidastats-admin: node %d ('%s') policy set to open: its networks of"
		        " policy default are open, those of policy inverted restricted\n", id, name);
	}
	PQclear(res);
	return ADMIN_OK;
}

int admin_node_set_group(struct admin *a)
{
	char id_text[16], name[256];
	const char *params[2] = { id_text, NULL };
	int id;

	if (a->nargs != 2) {
		fprintf(stderr, "eidastats-admin: node set-group needs NODE and GROUP (\"\" clears it)\n");
		return ADMIN_USAGE;
	}
	if (check_group(a->args[1]) < 0)
		return ADMIN_USAGE;
	if (node_arg(a, &id, id_text, sizeof id_text, name, sizeof name) < 0)
		return ADMIN_FAIL;
	params[1] = a->args[1];
	if (admin_exec(a, "UPDATE nodes SET eas_group = nullif($2, ''), updated_at = now()"
	                  " WHERE id = $1::integer", 2, params, NULL, "setting the node's group") < 0)
		return ADMIN_FAIL;
	if (a->args[1][0] == '\0')
		fprintf(stderr, "eidastats-admin: node %d ('%s') has no operators' group now\n", id, name);
	else
		fprintf(stderr, "eidastats-admin: node %d ('%s') operators' group set to %s\n", id, name,
		        a->args[1]);
	return ADMIN_OK;
}

int admin_network_list(struct admin *a)
{
	static const char *const headers[] = { "node", "network", "policy", "restricted", "group",
	                                       "contact" };
	static const int widths[] = { 16, 7, 9, 15, 24, 0 };
	char id_text[16], name[256];
	const char *params[1] = { NULL };
	PGresult *res;
	int id;

	if (a->nargs != 0) {
		fprintf(stderr, "eidastats-admin: network list takes no words, only [--node NODE]\n");
		return ADMIN_USAGE;
	}
	if (admin_connect(a) < 0)
		return ADMIN_FAIL;
	if (a->node) {
		if (admin_find_node(a, a->node, &id, name, sizeof name) < 0)
			return ADMIN_FAIL;
		snprintf(id_text, sizeof id_text, "%d", id);
		params[0] = id_text;
	}
	if (admin_exec(a,
	             "SELECT coalesce(n.name, n.id::text), CASE WHEN w.name = '' THEN '\"\"' ELSE w.name END,"
	             " CASE WHEN w.inverted_policy IS NULL THEN 'undefined'"
	             "   WHEN w.inverted_policy THEN 'inverted' ELSE 'default' END, "
	             STATE_SQL("n", "w") ", coalesce(w.eas_group, '-'), coalesce(w.contact, '-')"
	             " FROM networks w JOIN nodes n ON n.id = w.node_id"
	             " WHERE $1::integer IS NULL OR w.node_id = $1::integer"
	             " ORDER BY n.name, n.id, w.name", 1, params, &res, "listing the networks") < 0)
		return ADMIN_FAIL;
	admin_print_table(res, 6, headers, widths);
	PQclear(res);
	return ADMIN_OK;
}

int admin_network_set_policy(struct admin *a)
{
	char id_text[16], name[256];
	const char *params[3] = { id_text, NULL, NULL };
	bool inverted;
	PGresult *res;
	int id;

	if (a->nargs != 3) {
		fprintf(stderr, "eidastats-admin: network set-policy needs NODE, NET and default or"
		        " inverted\n");
		return ADMIN_USAGE;
	}
	if (network_policy(a->args[2], &inverted) < 0 || check_network(a->args[1]) < 0)
		return ADMIN_USAGE;
	if (node_arg(a, &id, id_text, sizeof id_text, name, sizeof name) < 0)
		return ADMIN_FAIL;
	params[1] = a->args[1];
	params[2] = inverted ? "true" : "false";
	/* A network not seen yet gets its row now, so that it is restricted before its
	 * first statistics arrive (the ingest then keeps the row as it is). */
	if (admin_exec(a,
	             "WITH w AS (INSERT INTO networks AS w (node_id, name, inverted_policy)"
	             "   VALUES ($1::integer, $2, $3::boolean)"
	             "   ON CONFLICT (node_id, name) DO UPDATE SET inverted_policy = EXCLUDED.inverted_policy"
	             "   RETURNING w.inverted_policy, xmax = 0 AS created)"
	             " SELECT w.created, " STATE_SQL("n", "w")
	             " FROM w CROSS JOIN nodes n WHERE n.id = $1::integer",
	             3, params, &res, "setting the network's policy") < 0)
		return ADMIN_FAIL;
	if (PQntuples(res) != 1) {
		fprintf(stderr, "eidastats-admin: node %d ('%s') was deleted meanwhile\n", id, name);
		PQclear(res);
		return ADMIN_FAIL;
	}
	fprintf(stderr, "eidastats-admin: network %s of node %d ('%s')%s: policy %s, restricted: %s\n",
	        a->args[1], id, name, PQgetvalue(res, 0, 0)[0] == 't' ? " created" : "",
	        a->args[2], PQgetvalue(res, 0, 1));
	PQclear(res);
	return ADMIN_OK;
}

/* Sets one text column of an existing network; what names it in messages. */
static int set_network_text(struct admin *a, const char *sql, const char *what)
{
	char id_text[16], name[256];
	const char *params[3] = { id_text, NULL, NULL };
	PGresult *res;
	int id, n;

	if (node_arg(a, &id, id_text, sizeof id_text, name, sizeof name) < 0)
		return ADMIN_FAIL;
	params[1] = a->args[1];
	params[2] = a->args[2];
	if (admin_exec(a, sql, 3, params, &res, what) < 0)
		return ADMIN_FAIL;
	n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		fprintf(stderr, "eidastats-admin: node %d ('%s') has no network %s yet (it comes with the"
		        " first statistics, or with `network set-policy %s %s default|inverted`)\n",
		        id, name, a->args[1], name, a->args[1]);
		return ADMIN_FAIL;
	}
	if (a->args[2][0] == '\0')
		fprintf(stderr, "eidastats-admin: network %s of node %d ('%s'): %s cleared\n",
		        a->args[1], id, name, what);
	else
		fprintf(stderr, "eidastats-admin: network %s of node %d ('%s'): %s set to %s\n",
		        a->args[1], id, name, what, a->args[2]);
	return ADMIN_OK;
}

int admin_network_set_group(struct admin *a)
{
	if (a->nargs != 3) {
		fprintf(stderr, "eidastats-admin: network set-group needs NODE, NET and GROUP"
		        " (\"\" clears it)\n");
		return ADMIN_USAGE;
	}
	if (check_network(a->args[1]) < 0 || check_group(a->args[2]) < 0)
		return ADMIN_USAGE;
	return set_network_text(a, "UPDATE networks SET eas_group = nullif($3, '')"
	                           " WHERE node_id = $1::integer AND name = $2 RETURNING 1", "group");
}

int admin_network_set_contact(struct admin *a)
{
	if (a->nargs != 3) {
		fprintf(stderr, "eidastats-admin: network set-contact needs NODE, NET and EMAIL"
		        " (\"\" clears it)\n");
		return ADMIN_USAGE;
	}
	if (check_network(a->args[1]) < 0 || check_email(a->args[2]) < 0)
		return ADMIN_USAGE;
	return set_network_text(a, "UPDATE networks SET contact = nullif($3, '')"
	                           " WHERE node_id = $1::integer AND name = $2 RETURNING 1", "contact");
}
