#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int admin_connect(struct admin *a)
{
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "10", "eidastats-admin", a->db, NULL };
	PGresult *res;

	if (a->pg)
		return 0;
	a->pg = PQconnectdbParams(keys, vals, 1);
	if (!a->pg || PQstatus(a->pg) != CONNECTION_OK) {
		admin_pg_error(a, NULL, "cannot connect to the database");
		return -1;
	}
	/* "already exists, skipping" notices of idempotent migrations are not news. */
	PQsetNoticeProcessor(a->pg, quiet_notices, NULL);
	res = PQexec(a->pg, "SET TIME ZONE 'UTC'");
	PQclear(res);
	return 0;
}

void admin_fini(struct admin *a)
{
	if (a->pg)
		PQfinish(a->pg);
	a->pg = NULL;
}

void admin_pg_error(const struct admin *a, const PGresult *res, const char *what)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	char line[1024];
	size_t n;

	if (!msg || !*msg)
		msg = a->pg ? PQerrorMessage(a->pg) : "out of memory";
	snprintf(line, sizeof line, "%s", msg);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(stderr, "eidastats-admin: %s: %s\n", what, line);
}

bool admin_confirm(const struct admin *a, const char *question)
{
	char answer[32];
	size_t n;

	if (a->yes)
		return true;
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(answer, sizeof answer, stdin)) {
		fprintf(stderr, "\n");
		return false;
	}
	n = strcspn(answer, "\r\n");
	answer[n] = '\0';
	return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

int admin_find_node(struct admin *a, const char *ref, int *id, char *name, size_t namecap)
{
	const char *params[1] = { ref };
	bool numeric = ref[0] != '\0' && strspn(ref, "0123456789") == strlen(ref) && strlen(ref) < 10;
	PGresult *res;

	res = PQexecParams(a->pg, numeric ? "SELECT id, name FROM nodes WHERE id = $1::integer"
	                                  : "SELECT id, name FROM nodes WHERE name = $1",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		admin_pg_error(a, res, "looking up the node");
		PQclear(res);
		return -1;
	}
	if (PQntuples(res) != 1) {
		fprintf(stderr, "eidastats-admin: no node %s '%s'\n", numeric ? "with id" : "named", ref);
		PQclear(res);
		return -1;
	}
	*id = atoi(PQgetvalue(res, 0, 0));
	snprintf(name, namecap, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}
