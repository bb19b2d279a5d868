/*
 * admin.h - eidastats-admin: the central database's schema migrations, its
 * nodes and their tokens (the counterpart of upstream's eida_statsman).
 *
 * main.c parses the command line into a struct admin and calls one command
 * function; each returns the process exit status (ADMIN_OK, ADMIN_FAIL,
 * ADMIN_USAGE) after printing what went wrong on stderr.  Results meant for
 * scripts (a new token, a new node's id, listings) go to stdout; progress
 * and questions go to stderr.
 *
 * Sessions, statements, error texts and transactions go through the one
 * PostgreSQL layer (src/central/pgx.h); this program adds the printing.
 *
 * Ownership: struct admin borrows argv's strings; admin_fini() closes the
 * database connection that admin_connect() opened.
 */
#ifndef ES_ADMIN_H
#define ES_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

enum { ADMIN_OK = 0, ADMIN_FAIL = 1, ADMIN_USAGE = 2 };

struct admin {
	const char *db;        /* --db or $DBURI */
	const char *sql_dir;   /* --sql-dir, $EIDASTATS_SQL_DIR or PKGDATADIR/sql */
	const char *name;      /* --name */
	const char *contact;   /* --contact */
	const char *node;      /* --node (id or name) */
	const char *expires;   /* --expires YYYY-MM-DD */
	const char *policy;    /* --policy open|restricted (node add) */
	bool yes;              /* --yes: no confirmation questions */
	char **args;           /* Words after the command (ids, names). */
	int nargs;
	PGconn *pg;
	char err[1024];        /* The last failure's text (admin_try). */
};

/* Opens a.db (once); prints the reason and returns -1 on failure. */
int admin_connect(struct admin *a);
void admin_fini(struct admin *a);
/* Asks question on stderr and reads the answer from stdin; true only for y/yes (or --yes). */
bool admin_confirm(const struct admin *a, const char *question);
/*
 * Runs sql with nparams text parameters on the open session (pgx_exec).
 * 0 with *res (when res is not NULL; the caller PQclear()s it), or a pgx
 * code with the reason in a->err ("what: message [SQLSTATE ...]").
 * admin_try() prints nothing; admin_exec() prints a->err on stderr.
 */
int admin_try(struct admin *a, const char *sql, int nparams, const char *const *params,
              PGresult **res, const char *what);
int admin_exec(struct admin *a, const char *sql, int nparams, const char *const *params,
               PGresult **res, const char *what);
/* Prints "eidastats-admin: " + a->err on stderr. */
void admin_print_error(const struct admin *a);
/*
 * Checks an operator's text: not longer than max bytes, no control
 * character, not empty unless empty_ok.  0, or -1 after printing why,
 * naming the value as what ("--name", "GROUP").
 */
int admin_check_text(const char *what, const char *value, size_t max, bool empty_ok);
/*
 * A node policy word: "open" (false) or "restricted" (true) into *restricted.
 * 0, or -1 after printing why.
 */
int admin_node_policy(const char *word, bool *restricted);
/*
 * Prints a listing on stdout: a line of the ncols headers, then the first
 * ncols columns of each row of res, one space apart.  widths[i] > 0 pads
 * column i on the right to that width, < 0 on the left (numbers); the last
 * column is not padded.
 */
void admin_print_table(const PGresult *res, int ncols, const char *const *headers,
                       const int *widths);
/* Finds a node by id (all digits) or name; 0, or -1 after printing why. */
int admin_find_node(struct admin *a, const char *ref, int *id, char *name, size_t namecap);

int admin_db_init(struct admin *a);
int admin_db_status(struct admin *a);
int admin_node_add(struct admin *a);
int admin_node_list(struct admin *a);
int admin_node_update(struct admin *a);
int admin_node_del(struct admin *a);
int admin_token_add(struct admin *a);
int admin_token_list(struct admin *a);
int admin_token_del(struct admin *a);
int admin_node_set_policy(struct admin *a);
int admin_node_set_group(struct admin *a);
int admin_network_list(struct admin *a);
int admin_network_set_policy(struct admin *a);
int admin_network_set_group(struct admin *a);
int admin_network_set_contact(struct admin *a);
int admin_rollup_verify(struct admin *a);
int admin_rollup_rebuild(struct admin *a);

#endif
