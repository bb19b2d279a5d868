/*
 * emit.h - the texts of a report: report.json (the schema of
 * doc/eidastats-report.8) and its CSV tables, the index JSON given to the
 * HTML renderer, and the file names of nodes and networks.
 *
 * Pure functions: no I/O, any thread.  Texts are written into a jsonw_t
 * (jsonw.h, used as a growable buffer with a hard limit); its sticky error
 * says when something did not fit or was not UTF-8.
 */
#ifndef ES_REPORT_EMIT_H
#define ES_REPORT_EMIT_H

#include <stddef.h>

#include "gather.h"
#include "jsonw.h"

/* report.json of r; generated_at is "YYYY-MM-DDTHH:MM:SSZ". */
void rpt_emit_json(jsonw_t *w, const struct rpt_report *r, const char *generated_at);

/* The CSV tables (header line, one line per row, RFC 4180 quoting, "\n" ends each line). */
enum rpt_csv { RPT_CSV_NODES, RPT_CSV_NETWORKS, RPT_CSV_COUNTRIES, RPT_CSV_TREND,
               RPT_CSV_STATIONS, RPT_CSV_COVERAGE };
void rpt_emit_csv(jsonw_t *w, const struct rpt_report *r, enum rpt_csv which);

/* One CSV field, quoted when it holds ',', '"', CR or LF. */
void rpt_csv_field(jsonw_t *w, const char *s);

#endif
