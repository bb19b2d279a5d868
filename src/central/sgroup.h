/*
 * sgroup.h - a payload's rows as the query rollup groups them: by (month,
 * network, country), counters summed and client sets united, and the distinct
 * days of the rows.
 *
 * The ingest transaction hands these groups to eidastats_rollup_add()
 * (sql/011) instead of letting PostgreSQL group the rows again: the service
 * holds the rows already, and one union per row in C costs a fraction of
 * hll_union_agg() over the COPY table.  The union is hll_union()'s
 * (doc/hll-format.md §6): the registers, and EXPLICIT values, equal what
 * hll_union_agg() computes; the rollup stores the set as PostgreSQL encodes
 * it, because eidastats_rollup_add() passes every group through
 * hll_union_agg() (doc/hll-format.md §9 on encodings).
 *
 * Ownership: a sgroup_set owns its groups (and their sets) and its days;
 * sgroup_fini() frees them.  It keeps no pointer into the payload.  Pure
 * logic: any thread, one thread per object.
 */
#ifndef ES_SGROUP_H
#define ES_SGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "hll.h"
#include "submit.h"

struct sgroup {
	char month[11];                               /* YYYY-MM-01 */
	char network[4 * SUBMIT_NETWORK_MAX + 1];
	char country[3];
	int64_t bytes;                                /* Sums over the group's rows. */
	int64_t nb_reqs;
	int64_t nb_successful;
	int64_t nb_failed;
	hll_t clients;                                /* Union over the group's rows. */
};

struct sgroup_set {
	struct sgroup *groups;                        /* Sorted by (month, network, country), bytes. */
	size_t n;
	char (*days)[11];                             /* The rows' distinct dates, ascending. */
	size_t ndays;
};

void sgroup_init(struct sgroup_set *s);
/* Frees what s owns and leaves it initialised (empty). */
void sgroup_fini(struct sgroup_set *s);

/*
 * Groups p's rows (sorted by key, as submit_parse() leaves them) into s,
 * which must be initialised and empty.  Returns 0, or -ERANGE when a
 * group's sum exceeds 2^63-1 (PostgreSQL's bigint, as sum()::bigint
 * refuses it); s is then left empty.
 */
int sgroup_build(struct sgroup_set *s, const struct submit_payload *p);

#endif
