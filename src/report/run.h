/*
 * run.h - what eidastats-report makes: the files of a period in the report
 * directory (layout in doc/eidastats-report.8), the choice of --auto, and
 * DIR/index.html.
 *
 * A period's set: DIR/PERIOD/report.json + CSV tables (federation), for each
 * node DIR/PERIOD/nodes/NODE.json + CSV, for each network with a contact and
 * statistics in the period DIR/PERIOD/networks/NODE/NET.json + CSV, and the
 * HTML twin of each JSON file.  Every file is replaced atomically
 * (fsx_replace); the federation's report.json is written last, so its stamp
 * (gather.h) vouches for the whole set.
 *
 * Libraries never print: progress and "would make" lines go to the caller's
 * say callback.  Ownership: nothing kept between calls.  One thread.
 */
#ifndef ES_REPORT_RUN_H
#define ES_REPORT_RUN_H

#include <stddef.h>
#include <time.h>

#include "gather.h"
#include "period.h"

/* Largest report file written or read back (report.json of a large federation). */
#define RPT_MAX_TEXT (256u << 20)

struct rpt_opts {
	const char *out;        /* The report directory (created when missing). */
	int dry_run;            /* Say what would be made; write nothing. */
	time_t now;             /* "now" for generated_at and complete periods. */
	void (*say)(void *ctx, const char *line);
	void *ctx;
};

struct rpt_stats {
	unsigned periods;       /* Periods made (or that would be). */
	unsigned files;         /* Files written. */
};

/*
 * Makes one period: node NULL: the whole set; node alone: that node's
 * report; node and network: that network's report.  The node and network
 * must exist (rpt_db_check_*).  0 or a negative code with err set.
 */
int rpt_make(struct rpt_db *db, const struct rpt_opts *o, const struct rpt_period *p,
             const char *node, const char *network, struct rpt_stats *st, char *err, size_t errlen);

/*
 * --auto: every complete month and year with statistics whose DIR/PERIOD/
 * report.json is missing or carries another stamp than the database's is
 * made (whole set), then DIR/index.html when something was made or it is
 * missing.  Nothing is written when every period is current.
 */
int rpt_auto(struct rpt_db *db, const struct rpt_opts *o, struct rpt_stats *st,
             char *err, size_t errlen);

/* Writes DIR/index.html listing every period of DIR (newest first). */
int rpt_index(const struct rpt_opts *o, struct rpt_stats *st, char *err, size_t errlen);

/* The stamp recorded in DIR/PERIOD/report.json: 0, -ENOENT when absent, ES_EFORMAT when unreadable. */
int rpt_read_stamp(const char *dir, const struct rpt_period *p, char stamp[RPT_STAMP]);

#endif
