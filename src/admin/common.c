#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgx.h"

#include "admin.h"

int admin_connect(struct admin *a)
{
	if (a->pg)
		return 0;
	if (pgx_connect(&a->pg, a->db, "eidastats-admin", a->err, sizeof a->err) < 0) {
		admin_print_error(a);
		return -1;
	}
	return 0;
}

void admin_fini(struct admin *a)
{
	if (a->pg)
		PQfinish(a->pg);
	a->pg = NULL;
}

void admin_print_error(const struct admin *a)
{
	fprintf(stderr, "eidastats-admin: %s\n", a->err);
}

int admin_try(struct admin *a, const char *sql, int nparams, const char *const *params,
              PGresult **res, const char *what)
{
	return pgx_exec(a->pg, sql, nparams, params, res, what, a->err, sizeof a->err);
}

int admin_exec(struct admin *a, const char *sql, int nparams, const char *const *params,
               PGresult **res, const char *what)
{
	int rc = admin_try(a, sql, nparams, params, res, what);

	if (rc < 0)
		admin_print_error(a);
	return rc;
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

	if (admin_exec(a, numeric ? "SELECT id, name FROM nodes WHERE id = $1::integer"
	                          : "SELECT id, name FROM nodes WHERE name = $1",
	               1, params, &res, "looking up the node") < 0)
		return -1;
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

int admin_check_text(const char *what, const char *value, size_t max, bool empty_ok)
{
	if (!value || value[0] == '\0') {
		if (value && empty_ok)
			return 0;
		fprintf(stderr, "eidastats-admin: %s must not be empty\n", what);
		return -1;
	}
	if (strlen(value) > max) {
		fprintf(stderr, "eidastats-admin: %s is longer than %zu bytes\n", what, max);
		return -1;
	}
	for (const char *p = value; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7F) {
			fprintf(stderr, "eidastats-admin: %s contains a control character\n", what);
			return -1;
		}
	}
	return 0;
}

static void print_cell(const char *text, int width, bool last)
{
	if (last)
		printf("%s\n", text);
	else
		printf("%*s ", -width, text);
}

void admin_print_table(const PGresult *res, int ncols, const char *const *headers,
                       const int *widths)
{
	for (int c = 0; c < ncols; c++)
		print_cell(headers[c], widths[c], c == ncols - 1);
	for (int r = 0; r < PQntuples(res); r++)
		for (int c = 0; c < ncols; c++)
			print_cell(PQgetvalue(res, r, c), widths[c], c == ncols - 1);
}
