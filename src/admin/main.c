/*
 * eidastats-admin: administration of the central statistics database.
 * main() parses options and the command words and calls the command.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

#include "admin.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: eidastats-admin [--db CONNINFO] COMMAND [OPTION...]\n"
	        "Administer the EIDA central statistics database (PostgreSQL with hll).\n"
	        "\n"
	        "Commands:\n"
	        "  db init [--sql-dir DIR]                 create or migrate the schema (idempotent)\n"
	        "  db status [--sql-dir DIR]               list applied and pending migrations\n"
	        "  node add --name NAME --contact EMAIL [--policy open|restricted]\n"
	        "                                          add a node; prints its id\n"
	        "  node list                               list the nodes\n"
	        "  node update NODE [--name NAME] [--contact EMAIL]\n"
	        "  node set-policy NODE open|restricted    a node's default; restricted also resets\n"
	        "                                          its networks to default\n"
	        "  node set-group NODE GROUP               the node operators' EAS group (\"\" clears)\n"
	        "  node del NODE... [--yes]                delete nodes with their tokens and statistics\n"
	        "  network list [--node NODE]              networks: policy, restricted, group, contact\n"
	        "  network set-policy NODE NET default|inverted\n"
	        "                                          a network's exception (creates the network)\n"
	        "  network set-group NODE NET GROUP        the EAS group that may see it (\"\" clears)\n"
	        "  network set-contact NODE NET EMAIL      its principal investigator (\"\" clears)\n"
	        "  token add --node NODE [--expires YYYY-MM-DD]\n"
	        "                                          make a token; prints only the token\n"
	        "  token list [--node NODE]                list tokens (values shortened)\n"
	        "  token del ID... [--yes]                 delete tokens\n"
	        "  rollup verify                           compare the query rollup with the raw\n"
	        "                                          statistics; exit 1 and list differences\n"
	        "  rollup rebuild                          remake the query rollup\n"
	        "\n"
	        "NODE is a node's id or name, NET a network code (A-Z, 0-9, up to 6), GROUP an\n"
	        "EAS memberof entry such as /epos/alparray.  A network is restricted when its\n"
	        "node's policy is restricted and its own default, or the node's open and its\n"
	        "own inverted; without a node policy it is not yet defined (kept restricted).\n"
	        "The database comes from --db or the environment variable DBURI (a libpq connection string or URI).  Deleting asks for\n"
	        "confirmation on stdin unless --yes is given.\n"
	        "Exit status: 0 done, 1 failed or not confirmed, 2 usage error.\n");
}

struct command {
	const char *group;
	const char *verb;
	int (*run)(struct admin *a);
};

static const struct command commands[] = {
	{ "db", "init", admin_db_init },
	{ "db", "status", admin_db_status },
	{ "node", "add", admin_node_add },
	{ "node", "list", admin_node_list },
	{ "node", "update", admin_node_update },
	{ "node", "del", admin_node_del },
	{ "node", "set-policy", admin_node_set_policy },
	{ "node", "set-group", admin_node_set_group },
	{ "network", "list", admin_network_list },
	{ "network", "set-policy", admin_network_set_policy },
	{ "network", "set-group", admin_network_set_group },
	{ "network", "set-contact", admin_network_set_contact },
	{ "token", "add", admin_token_add },
	{ "token", "list", admin_token_list },
	{ "token", "del", admin_token_del },
	{ "rollup", "verify", admin_rollup_verify },
	{ "rollup", "rebuild", admin_rollup_rebuild },
};

/* Options taking a value, and where they go. */
static const char **option_slot(struct admin *a, const char *name)
{
	if (strcmp(name, "db") == 0)
		return &a->db;
	if (strcmp(name, "sql-dir") == 0)
		return &a->sql_dir;
	if (strcmp(name, "name") == 0)
		return &a->name;
	if (strcmp(name, "contact") == 0)
		return &a->contact;
	if (strcmp(name, "node") == 0)
		return &a->node;
	if (strcmp(name, "expires") == 0)
		return &a->expires;
	if (strcmp(name, "policy") == 0)
		return &a->policy;
	return NULL;
}

int main(int argc, char **argv)
{
	struct admin a;
	const char *words[2] = { NULL, NULL };
	int nwords = 0, rc;

	memset(&a, 0, sizeof a);
	a.args = es_calloc((size_t)argc + 1, sizeof a.args[0]);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			free(a.args);
			return ADMIN_OK;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			printf("eidastats-admin %s\n", PACKAGE_VERSION);
			free(a.args);
			return ADMIN_OK;
		}
		if (strcmp(arg, "-y") == 0 || strcmp(arg, "--yes") == 0) {
			a.yes = true;
			continue;
		}
		if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
			char name[32];
			const char *eq = strchr(arg + 2, '='), *value;
			size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			const char **slot;

			if (n >= sizeof name) {
				fprintf(stderr, "eidastats-admin: unknown option %s\n", arg);
				free(a.args);
				return ADMIN_USAGE;
			}
			memcpy(name, arg + 2, n);
			name[n] = '\0';
			slot = option_slot(&a, name);
			if (!slot) {
				fprintf(stderr, "eidastats-admin: unknown option --%s\n", name);
				free(a.args);
				return ADMIN_USAGE;
			}
			if (eq) {
				value = eq + 1;
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				fprintf(stderr, "eidastats-admin: --%s needs a value\n", name);
				free(a.args);
				return ADMIN_USAGE;
			}
			*slot = value;
			continue;
		}
		if (arg[0] == '-' && arg[1] != '\0') {
			fprintf(stderr, "eidastats-admin: unknown option %s\n", arg);
			free(a.args);
			return ADMIN_USAGE;
		}
		if (nwords < 2)
			words[nwords++] = arg;
		else
			a.args[a.nargs++] = argv[i];
	}
	if (!a.db)
		a.db = getenv("DBURI");
	if (!a.sql_dir)
		a.sql_dir = getenv("EIDASTATS_SQL_DIR");
	if (!a.sql_dir)
		a.sql_dir = PKGDATADIR "/sql";
	if (nwords < 2) {
		usage(stderr);
		free(a.args);
		return ADMIN_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(words[0], commands[i].group) == 0 && strcmp(words[1], commands[i].verb) == 0) {
			if (!a.db) {
				fprintf(stderr, "eidastats-admin: no database: give --db CONNINFO or set DBURI\n");
				free(a.args);
				return ADMIN_USAGE;
			}
			rc = commands[i].run(&a);
			admin_fini(&a);
			free(a.args);
			return rc;
		}
	}
	fprintf(stderr, "eidastats-admin: unknown command '%s %s'\n", words[0], words[1]);
	usage(stderr);
	free(a.args);
	return ADMIN_USAGE;
}
