/*
 * qrender.h - the answer of a query (doc/query-api.md §5-§6): folds the rows
 * of restricted networks into "Other" rows per (date, country) bucket and
 * renders CSV or JSON, streamed.
 *
 * The renderer is a producer: the caller gives it a row iterator (for
 * example over a libpq single-row-mode result or a cursor) and pulls the
 * answer with q_render_read() into a buffer of its own, chunk by chunk, as a
 * libmicrohttpd content-reader callback does.  It holds at most the rows of
 * one date's Other buckets and one row's text (with q_render_sort_dates(),
 * one date's rows), so a channel-level answer of any length is never whole
 * in memory.
 *
 * Rows are those of the SQL of q_sql_build() (query.h), in its order (date
 * first): the renderer relies on that order to emit a date's Other rows right
 * after that date's regular rows.
 *
 * Ownership: q_render_new() copies nothing from the query, the policy or the
 * groups, which must outlive the renderer; q_render_free() frees the
 * renderer.  One renderer, one thread at a time.
 */
#ifndef ES_QRENDER_H
#define ES_QRENDER_H

#include <stddef.h>
#include <sys/types.h>

#include "query.h"

/*
 * One result row: Q_SQL_COLS text values (NULL = SQL NULL), valid until the
 * next call of the iterator.  clients_len 0: col[10] is the clients' hll as
 * text ("\x..."); otherwise col[10] holds the hll's clients_len bytes as
 * PostgreSQL sends them in binary format (query.h; no hex to decode).
 * col[10] NULL and col[12] set: the row's distinct clients (query.h's
 * column 12) without its set, which the row then must not need (folding).
 */
struct q_row {
	const char *col[Q_SQL_COLS];
	size_t clients_len;
};

/* Fills *row with the next row; returns 1, 0 at the end, or a negative code (query.h's SQL failed). */
typedef int (*q_row_next_fn)(void *ctx, struct q_row *row);

struct q_render;

/*
 * groups: the caller's memberof entries (restricted endpoint), used for the
 * folding; NULL/0 for public.  Returns 0 or -ENOMEM.
 */
int q_render_new(struct q_render **out, const struct query *q, const struct q_policy *p,
                 char *const *groups, size_t ngroups, q_row_next_fn next, void *ctx);
/*
 * The rows come ordered by date only (q_sql.date_order, query.h): the
 * renderer then holds one date's rows at a time (at most 256 MiB with their
 * text; beyond, q_render_read() fails with ES_ELIMIT) and orders them as the
 * SQL would have.  Call before the first q_render_read().
 */
void q_render_sort_dates(struct q_render *r);
/*
 * A packs query (q_sql.packs, query.h): reads every row through the iterator
 * now (the packs of the range, at most PACK_LIMIT bytes: ES_ELIMIT beyond)
 * and notes the (node, network) pairs the renderer folds.  Call before the
 * first q_render_read(); the caller then runs q_sql_build_folds() for
 * q_render_fold_keys() (unless NULL) and hands each of its rows to
 * q_render_fold_add().  Returns 0 or a negative code (the
 * iterator's, ES_EFORMAT for a bad pack, -ENOMEM).
 */
int q_render_pack_load(struct q_render *r);
/* What q_render_pack_load() found folded (the renderer's), or NULL: nothing. */
const struct q_fold_keys *q_render_fold_keys(const struct q_render *r);
/*
 * One row of q_sql_build_folds()'s SQL (col[0] month, col[1] country, col[2]
 * clients as col[10] of struct q_row: clients_len bytes, or hex text when 0,
 * col[3] its kind), in any order.  Returns 0, ES_EFORMAT (bad set),
 * ES_ELIMIT or -ENOMEM.
 */
int q_render_fold_add(struct q_render *r, const struct q_row *row);
/*
 * Writes up to cap bytes of the answer to buf.  Returns the number written
 * (> 0), 0 at the end of the answer, or a negative code: the iterator's, or
 * ES_EFORMAT for a row that cannot be read (bad number or HLL).  Bytes
 * ready before a failure are returned first and the error at the next call;
 * after an error every call returns it and the answer cannot be completed
 * (the HTTP layer ends the connection, or, when nothing was sent yet,
 * answers 500 Q_MSG_SQL).
 */
ssize_t q_render_read(struct q_render *r, char *buf, size_t cap);
/* "text/csv; charset=UTF-8" or "application/json". */
const char *q_render_content_type(const struct q_render *r);
/* Rows written so far (regular and Other). */
size_t q_render_rows(const struct q_render *r);
void q_render_free(struct q_render *r);

#endif
