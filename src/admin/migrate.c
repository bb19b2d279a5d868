#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pgx.h"

#include "admin.h"

/* A migration file is small SQL; anything bigger is not one of ours. */
#define MIGRATION_MAX_BYTES (1 << 20)
#define MIGRATIONS_MAX 1000

/* Serialises concurrent `db init` runs (any constant both sides agree on). */
#define MIGRATION_LOCK_KEY "4242001"

struct migration {
	int version;
	char name[256];
};

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

/* Lists DIR's files named NNN-*.sql, sorted by NNN; -1 after a message. */
static int list_migrations(const char *dir, struct migration **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct migration *list = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		fprintf(stderr, "eidastats-admin: cannot open the migrations directory %s: %s "
		        "(give --sql-dir DIR)\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 9 || len >= sizeof list[0].name || strspn(e->d_name, "0123456789") != 3 ||
		    e->d_name[3] != '-' || strcmp(e->d_name + len - 4, ".sql") != 0)
			continue;
		if (count == MIGRATIONS_MAX)
			break;
		list = es_reallocarray(list, count + 1, sizeof list[0]);
		list[count].version = atoi(e->d_name);
		snprintf(list[count].name, sizeof list[count].name, "%s", e->d_name);
		count++;
	}
	closedir(d);
	if (count == 0) {
		fprintf(stderr, "eidastats-admin: no migrations (NNN-name.sql) in %s\n", dir);
		free(list);
		return -1;
	}
	qsort(list, count, sizeof list[0], by_version);
	for (size_t i = 1; i < count; i++) {
		if (list[i].version == list[i - 1].version) {
			fprintf(stderr, "eidastats-admin: %s and %s have the same version\n",
			        list[i - 1].name, list[i].name);
			free(list);
			return -1;
		}
	}
	*out = list;
	*n = count;
	return 0;
}

static char *read_file(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	char *buf;
	size_t n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "eidastats-admin: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = es_malloc(MIGRATION_MAX_BYTES + 1);
	n = fread(buf, 1, MIGRATION_MAX_BYTES + 1, f);
	if (ferror(f) || n > MIGRATION_MAX_BYTES) {
		fprintf(stderr, "eidastats-admin: %s: %s\n", path,
		        ferror(f) ? strerror(errno) : "larger than 1 MiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Fills applied[i] for each migration from eidastats_migrations; -1 after a message. */
static int applied_versions(struct admin *a, const struct migration *list, size_t n, bool *applied)
{
	PGresult *res;

	if (admin_exec(a, "SELECT version FROM eidastats_migrations", 0, NULL, &res,
	               "reading eidastats_migrations") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		applied[i] = false;
		for (int r = 0; r < PQntuples(res); r++)
			if (atoi(PQgetvalue(res, r, 0)) == list[i].version)
				applied[i] = true;
	}
	PQclear(res);
	return 0;
}

struct apply {
	const struct migration *m;
	const char *sql;
};

/* One migration and its record, in the transaction of pgx_tx. */
static int apply_tx(PGconn *pg, void *arg, char *err, size_t errlen)
{
	const struct apply *ap = arg;
	char version[16];
	const char *params[2] = { version, ap->m->name };
	int rc;

	rc = pgx_exec(pg, ap->sql, 0, NULL, NULL, ap->m->name, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(version, sizeof version, "%d", ap->m->version);
	return pgx_exec(pg, "INSERT INTO eidastats_migrations (version, name) VALUES ($1::integer, $2)",
	                2, params, NULL, "recording the migration", err, errlen);
}

static const char create_table_sql[] =
	"CREATE TABLE IF NOT EXISTS eidastats_migrations ("
	" version integer PRIMARY KEY, name text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now())";

int admin_db_init(struct admin *a)
{
	struct migration *list;
	bool *applied = NULL;
	size_t n, done = 0;
	int rc = ADMIN_FAIL;

	if (list_migrations(a->sql_dir, &list, &n) < 0)
		return ADMIN_FAIL;
	if (admin_connect(a) < 0) {
		free(list);
		return ADMIN_FAIL;
	}
	/* A session lock: two `db init` at once apply each migration once. */
	if (admin_exec(a, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", 0, NULL, NULL,
	               "taking the migration lock") < 0 ||
	    admin_exec(a, create_table_sql, 0, NULL, NULL, "creating eidastats_migrations") < 0) {
		free(list);
		return ADMIN_FAIL;
	}
	applied = es_calloc(n, sizeof applied[0]);
	if (applied_versions(a, list, n, applied) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct apply ap = { &list[i], NULL };
		char *sql;

		if (applied[i])
			continue;
		sql = read_file(a->sql_dir, list[i].name);
		if (!sql)
			goto out;
		ap.sql = sql;
		if (pgx_tx(a->pg, apply_tx, &ap, a->err, sizeof a->err) < 0) {
			free(sql);
			admin_print_error(a);
			fprintf(stderr, "eidastats-admin: %s not applied; the schema stays at the migration before it\n",
			        list[i].name);
			goto out;
		}
		free(sql);
		printf("applied %s\n", list[i].name);
		done++;
	}
	fprintf(stderr, "eidastats-admin: schema at version %d (%zu migration%s applied now)\n",
	        list[n - 1].version, done, done == 1 ? "" : "s");
	rc = ADMIN_OK;
out:
	admin_exec(a, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", 0, NULL, NULL,
	           "releasing the migration lock");
	free(applied);
	free(list);
	return rc;
}

int admin_db_status(struct admin *a)
{
	struct migration *list;
	bool *applied;
	size_t n, pending = 0;
	PGresult *res;

	if (list_migrations(a->sql_dir, &list, &n) < 0)
		return ADMIN_FAIL;
	if (admin_connect(a) < 0) {
		free(list);
		return ADMIN_FAIL;
	}
	if (admin_exec(a, "SELECT to_regclass('eidastats_migrations') IS NOT NULL", 0, NULL, &res,
	               "reading the schema") < 0) {
		free(list);
		return ADMIN_FAIL;
	}
	bool exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	applied = es_calloc(n, sizeof applied[0]);
	if (exists && applied_versions(a, list, n, applied) < 0) {
		free(applied);
		free(list);
		return ADMIN_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%-8s %s\n", applied[i] ? "applied" : "pending", list[i].name);
		pending += !applied[i];
	}
	free(applied);
	free(list);
	/* Pending migrations are a state to report, not a failure of this command. */
	if (pending > 0)
		fprintf(stderr, "eidastats-admin: %zu pending migration%s: run `eidastats-admin db init`\n",
		        pending, pending == 1 ? "" : "s");
	return ADMIN_OK;
}
