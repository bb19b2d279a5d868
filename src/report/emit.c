/*
 * emit.c - report.json and the CSV tables (emit.h).
 */
#include "emit.h"

#include <stdio.h>
#include <string.h>

static void key(jsonw_t *w, const char *k)
{
	jsonw_lit(w, "\"");
	jsonw_lit(w, k);
	jsonw_lit(w, "\": ");
}

static void str_or_null(jsonw_t *w, const char *s)
{
	if (s)
		jsonw_str(w, s, strlen(s));
	else
		jsonw_lit(w, "null");
}

static void figs(jsonw_t *w, const struct rpt_fig *f, int failed)
{
	key(w, "nb_reqs");
	jsonw_i64(w, f->reqs);
	jsonw_lit(w, ", ");
	key(w, "nb_successful_reqs");
	jsonw_i64(w, f->succ);
	if (failed) {
		jsonw_lit(w, ", ");
		key(w, "nb_failed_reqs");
		jsonw_i64(w, f->failed);
	}
	jsonw_lit(w, ", ");
	key(w, "bytes");
	jsonw_i64(w, f->bytes);
	jsonw_lit(w, ", ");
	key(w, "clients");
	jsonw_u64(w, f->clients);
}

static void totals(jsonw_t *w, const struct rpt_fig *f)
{
	jsonw_lit(w, "{");
	figs(w, f, 1);
	jsonw_lit(w, "}");
}

static void neighbour(jsonw_t *w, const char *name, int has, const struct rpt_period *p,
                      const struct rpt_fig *f)
{
	char pn[RPT_PERIOD_NAME];

	jsonw_lit(w, ",\n \"");
	jsonw_lit(w, name);
	jsonw_lit(w, "\": ");
	if (!has) {
		jsonw_lit(w, "null");
		return;
	}
	rpt_period_name(p, pn);
	jsonw_lit(w, "{\"period\": \"");
	jsonw_lit(w, pn);
	jsonw_lit(w, "\", \"totals\": ");
	totals(w, f);
	jsonw_lit(w, "}");
}

static void node_row(jsonw_t *w, const struct rpt_report *r, const struct rpt_row *x)
{
	int days = rpt_period_days(&r->period), first = 1;
	char day[RPT_DAY_TEXT];

	jsonw_lit(w, "{");
	key(w, "node");
	str_or_null(w, x->a);
	jsonw_lit(w, ", ");
	figs(w, &x->f, 1);
	jsonw_lit(w, ", ");
	key(w, "days_expected");
	jsonw_i64(w, days);
	jsonw_lit(w, ", ");
	key(w, "days_covered");
	jsonw_i64(w, x->days_covered);
	jsonw_lit(w, ", ");
	key(w, "missing_days");
	jsonw_lit(w, "[");
	for (int d = 0; d < days; d++) {
		if (x->covered && x->covered[d])
			continue;
		rpt_period_day(&r->period, d, day);
		jsonw_lit(w, first ? "\"" : ", \"");
		jsonw_lit(w, day);
		jsonw_lit(w, "\"");
		first = 0;
	}
	jsonw_lit(w, "], ");
	key(w, "last_submission");
	str_or_null(w, x->last_submission);
	jsonw_lit(w, "}");
}

static void array_open(jsonw_t *w, const char *name)
{
	jsonw_lit(w, ",\n \"");
	jsonw_lit(w, name);
	jsonw_lit(w, "\": [");
}

static void sep(jsonw_t *w, size_t i)
{
	jsonw_lit(w, i ? ",\n  " : "\n  ");
}

void rpt_emit_json(jsonw_t *w, const struct rpt_report *r, const char *generated_at)
{
	static const char *const scopes[] = { "federation", "node", "network" };
	char pn[RPT_PERIOD_NAME], day[RPT_DAY_TEXT];

	rpt_period_name(&r->period, pn);
	jsonw_lit(w, "{\"schema\": 1, \"scope\": \"");
	jsonw_lit(w, scopes[r->scope]);
	jsonw_lit(w, "\", \"period\": \"");
	jsonw_lit(w, pn);
	jsonw_lit(w, "\", \"kind\": \"");
	jsonw_lit(w, rpt_period_kind(&r->period));
	jsonw_lit(w, "\",\n \"start\": \"");
	rpt_period_day(&r->period, 0, day);
	jsonw_lit(w, day);
	jsonw_lit(w, "\", \"end\": \"");
	rpt_period_day(&r->period, rpt_period_days(&r->period) - 1, day);
	jsonw_lit(w, day);
	jsonw_lit(w, "\"");
	if (r->node) {
		jsonw_lit(w, ", \"node\": ");
		str_or_null(w, r->node);
	}
	if (r->network) {
		jsonw_lit(w, ", \"network\": ");
		str_or_null(w, r->network);
	}
	jsonw_lit(w, ",\n \"generated_at\": \"");
	jsonw_lit(w, generated_at);
	jsonw_lit(w, "\",\n \"source\": {\"database\": ");
	str_or_null(w, r->database);
	jsonw_lit(w, ", \"stamp\": \"");
	jsonw_lit(w, r->stamp);
	jsonw_lit(w, "\", \"payloads\": ");
	jsonw_i64(w, r->payloads);
	jsonw_lit(w, "},\n \"totals\": ");
	totals(w, &r->totals);
	jsonw_lit(w, ",\n \"nodes_reporting\": ");
	jsonw_i64(w, r->nodes_reporting);
	neighbour(w, "previous", r->has_prev, &r->prev, &r->prev_totals);
	neighbour(w, "year_before", r->has_year_before, &r->year_before, &r->year_before_totals);
	array_open(w, "trend");
	for (int i = 0; i < RPT_TREND; i++) {
		char m[RPT_PERIOD_NAME];

		rpt_month_name(r->trend_first + i, m);
		sep(w, (size_t)i);
		jsonw_lit(w, "{\"month\": \"");
		jsonw_lit(w, m);
		jsonw_lit(w, "\", ");
		figs(w, &r->trend[i], 0);
		jsonw_lit(w, "}");
	}
	jsonw_lit(w, "]");
	array_open(w, "nodes");
	for (size_t i = 0; i < r->nodes.n; i++) {
		sep(w, i);
		node_row(w, r, &r->nodes.v[i]);
	}
	jsonw_lit(w, "]");
	array_open(w, "networks");
	for (size_t i = 0; i < r->networks.n; i++) {
		const struct rpt_row *x = &r->networks.v[i];

		sep(w, i);
		jsonw_lit(w, "{");
		key(w, "node");
		str_or_null(w, x->a);
		jsonw_lit(w, ", ");
		key(w, "network");
		str_or_null(w, x->b);
		jsonw_lit(w, ", ");
		figs(w, &x->f, 0);
		jsonw_lit(w, x->restricted ? ", \"restricted\": true}" : ", \"restricted\": false}");
	}
	jsonw_lit(w, "]");
	array_open(w, "countries");
	for (size_t i = 0; i < r->countries.n; i++) {
		sep(w, i);
		jsonw_lit(w, "{");
		key(w, "country");
		str_or_null(w, r->countries.v[i].a);
		jsonw_lit(w, ", ");
		figs(w, &r->countries.v[i].f, 0);
		jsonw_lit(w, "}");
	}
	jsonw_lit(w, "]");
	if (r->scope != RPT_FEDERATION) {
		array_open(w, "stations");
		for (size_t i = 0; i < r->stations.n; i++) {
			sep(w, i);
			jsonw_lit(w, "{");
			key(w, "network");
			str_or_null(w, r->stations.v[i].a);
			jsonw_lit(w, ", ");
			key(w, "station");
			str_or_null(w, r->stations.v[i].b);
			jsonw_lit(w, ", ");
			figs(w, &r->stations.v[i].f, 0);
			jsonw_lit(w, "}");
		}
		jsonw_lit(w, "]");
		array_open(w, "new_networks");
		for (size_t i = 0; i < r->new_networks.n; i++) {
			const struct rpt_row *x = &r->new_networks.v[i];

			sep(w, i);
			jsonw_lit(w, "{");
			key(w, "network");
			str_or_null(w, x->a);
			jsonw_lit(w, x->restricted ? ", \"restricted\": true" : ", \"restricted\": false");
			jsonw_lit(w, x->policy_defined ? ", \"policy_defined\": true}"
			                               : ", \"policy_defined\": false}");
		}
		jsonw_lit(w, "]");
	}
	jsonw_lit(w, "\n}\n");
}

void rpt_csv_field(jsonw_t *w, const char *s)
{
	if (!s)
		return;
	if (!s[strcspn(s, ",\"\r\n")]) {
		jsonw_lit(w, s);
		return;
	}
	jsonw_lit(w, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			jsonw_lit(w, "\"\"");
		else
			jsonw_raw(w, p, 1);
	}
	jsonw_lit(w, "\"");
}

static void csv_figs(jsonw_t *w, const struct rpt_fig *f, int failed)
{
	jsonw_lit(w, ",");
	jsonw_i64(w, f->reqs);
	jsonw_lit(w, ",");
	jsonw_i64(w, f->succ);
	if (failed) {
		jsonw_lit(w, ",");
		jsonw_i64(w, f->failed);
	}
	jsonw_lit(w, ",");
	jsonw_i64(w, f->bytes);
	jsonw_lit(w, ",");
	jsonw_u64(w, f->clients);
}

void rpt_emit_csv(jsonw_t *w, const struct rpt_report *r, enum rpt_csv which)
{
	int days = rpt_period_days(&r->period);
	char day[RPT_DAY_TEXT];

	switch (which) {
	case RPT_CSV_NODES:
		jsonw_lit(w, "node,nb_reqs,nb_successful_reqs,nb_failed_reqs,bytes,clients,"
		          "days_expected,days_covered,missing_days,last_submission\n");
		for (size_t i = 0; i < r->nodes.n; i++) {
			const struct rpt_row *x = &r->nodes.v[i];
			int first = 1;

			rpt_csv_field(w, x->a);
			csv_figs(w, &x->f, 1);
			jsonw_lit(w, ",");
			jsonw_i64(w, days);
			jsonw_lit(w, ",");
			jsonw_i64(w, x->days_covered);
			jsonw_lit(w, ",");
			for (int d = 0; d < days; d++) {
				if (x->covered && x->covered[d])
					continue;
				rpt_period_day(&r->period, d, day);
				if (!first)
					jsonw_lit(w, " ");
				jsonw_lit(w, day);
				first = 0;
			}
			jsonw_lit(w, ",");
			rpt_csv_field(w, x->last_submission);
			jsonw_lit(w, "\n");
		}
		break;
	case RPT_CSV_NETWORKS:
		jsonw_lit(w, "node,network,nb_reqs,nb_successful_reqs,bytes,clients,restricted\n");
		for (size_t i = 0; i < r->networks.n; i++) {
			const struct rpt_row *x = &r->networks.v[i];

			rpt_csv_field(w, x->a);
			jsonw_lit(w, ",");
			rpt_csv_field(w, x->b);
			csv_figs(w, &x->f, 0);
			jsonw_lit(w, x->restricted ? ",true\n" : ",false\n");
		}
		break;
	case RPT_CSV_COUNTRIES:
		jsonw_lit(w, "country,nb_reqs,nb_successful_reqs,bytes,clients\n");
		for (size_t i = 0; i < r->countries.n; i++) {
			rpt_csv_field(w, r->countries.v[i].a);
			csv_figs(w, &r->countries.v[i].f, 0);
			jsonw_lit(w, "\n");
		}
		break;
	case RPT_CSV_TREND:
		jsonw_lit(w, "month,nb_reqs,nb_successful_reqs,bytes,clients\n");
		for (int i = 0; i < RPT_TREND; i++) {
			char m[RPT_PERIOD_NAME];

			rpt_month_name(r->trend_first + i, m);
			jsonw_lit(w, m);
			csv_figs(w, &r->trend[i], 0);
			jsonw_lit(w, "\n");
		}
		break;
	case RPT_CSV_STATIONS:
		jsonw_lit(w, "network,station,nb_reqs,nb_successful_reqs,bytes,clients\n");
		for (size_t i = 0; i < r->stations.n; i++) {
			rpt_csv_field(w, r->stations.v[i].a);
			jsonw_lit(w, ",");
			rpt_csv_field(w, r->stations.v[i].b);
			csv_figs(w, &r->stations.v[i].f, 0);
			jsonw_lit(w, "\n");
		}
		break;
	case RPT_CSV_COVERAGE:
		jsonw_lit(w, "day,covered\n");
		if (r->nodes.n == 1)
			for (int d = 0; d < days; d++) {
				rpt_period_day(&r->period, d, day);
				jsonw_lit(w, day);
				jsonw_lit(w, r->nodes.v[0].covered && r->nodes.v[0].covered[d] ? ",true\n"
				                                                               : ",false\n");
			}
		break;
	}
}
