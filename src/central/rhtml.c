/* rhtml.c - the HTML of the automatic reports (rhtml.h). */
#include "config.h"

#include "rhtml.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal.h"
#include "error.h"
#include "mem.h"
#include "svg.h"

/* Integers above 2^53 are not exact as the doubles cJSON holds them. */
#define MAX_EXACT 9007199254740992.0
#define MAX_TREND 120
#define MAX_ROWS 100000
#define TOP_N 15

struct figs {
	double reqs, ok, failed, bytes, clients;
};

/* A row of networks (a = node, b = network), countries (a = country) or stations (a = network, b = station). */
struct row {
	const char *a, *b;
	struct figs f;
	int restricted;
};

struct noderow {
	const char *node;
	struct figs f;
	double expected, covered;
	const cJSON *missing;       /* Array of dates, validated. */
	size_t nmissing;
	const char *last;           /* Last submission or NULL. */
};

struct newnet {
	const char *network;
	int restricted, policy_defined;
};

enum scope { SC_FED, SC_NODE, SC_NET };

struct rep {
	enum scope scope;
	int year_kind;
	const char *period, *start, *end, *node, *network, *generated_at;
	const char *src_db, *src_stamp;
	double src_payloads;
	int has_payloads;
	struct figs tot, prev, yb;
	const char *prev_period, *yb_period;   /* NULL: absent. */
	size_t ntrend;
	const char *trend_month[MAX_TREND];
	struct figs trend[MAX_TREND];
	struct noderow *nodes;
	size_t nnodes;
	struct row *nets, *countries, *stations;
	size_t nnets, ncountries, nstations;
	struct newnet *newnets;
	size_t nnewnets;
	int sy, sm, sd;
	long ndays;
	uint8_t covered[366];
};

struct ctx {
	char *err;
	size_t errcap;
	int rc;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c->rc)
		return c->rc;
	c->rc = rc;
	if (c->errcap) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errcap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Days since 0001-01-01 of a valid date (proleptic Gregorian). */
static long day_number(int y, int m, int d)
{
	long n = 365L * (y - 1) + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;

	for (int i = 1; i < m; i++)
		n += cal_days_in_month(y, i);
	return n + d - 1;
}

/* ---- Reading the JSON: every getter names the key in its error. ---- */

static const cJSON *member(struct ctx *c, const cJSON *o, const char *path, const char *key,
                           int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if ((!v || cJSON_IsNull(v)) && required) {
		fail(c, ES_EFORMAT, "%s%s%s: missing", path, *path ? "." : "", key);
		return NULL;
	}
	return cJSON_IsNull(v) ? NULL : v;
}

static int get_num(struct ctx *c, const cJSON *o, const char *path, const char *key,
                   double *out, int required)
{
	const cJSON *v = member(c, o, path, key, required);

	*out = 0;
	if (!v)
		return c->rc;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble))
		return fail(c, ES_EFORMAT, "%s%s%s: not a non-negative integer", path,
		            *path ? "." : "", key);
	if (v->valuedouble > MAX_EXACT)
		return fail(c, ES_ELIMIT, "%s%s%s: larger than 2^53", path, *path ? "." : "", key);
	*out = v->valuedouble;
	return 0;
}

static int get_str(struct ctx *c, const cJSON *o, const char *path, const char *key,
                   const char **out, int required)
{
	const cJSON *v = member(c, o, path, key, required);

	*out = NULL;
	if (!v)
		return c->rc;
	if (!cJSON_IsString(v))
		return fail(c, ES_EFORMAT, "%s%s%s: not a string", path, *path ? "." : "", key);
	*out = v->valuestring;
	return 0;
}

static int get_bool(struct ctx *c, const cJSON *o, const char *path, const char *key, int *out)
{
	const cJSON *v = member(c, o, path, key, 0);

	*out = 0;
	if (!v)
		return c->rc;
	if (!cJSON_IsBool(v))
		return fail(c, ES_EFORMAT, "%s.%s: not true or false", path, key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static const cJSON *get_obj(struct ctx *c, const cJSON *o, const char *path, const char *key,
                            int required)
{
	const cJSON *v = member(c, o, path, key, required);

	if (v && !cJSON_IsObject(v)) {
		fail(c, ES_EFORMAT, "%s%s%s: not an object", path, *path ? "." : "", key);
		return NULL;
	}
	return v;
}

/* The array at key (NULL when absent and optional) with its length in *n, at most MAX_ROWS. */
static const cJSON *get_arr(struct ctx *c, const cJSON *o, const char *key, int required,
                            size_t *n)
{
	const cJSON *v = member(c, o, "", key, required);
	int k;

	*n = 0;
	if (!v)
		return NULL;
	if (!cJSON_IsArray(v)) {
		fail(c, ES_EFORMAT, "%s: not an array", key);
		return NULL;
	}
	k = cJSON_GetArraySize(v);
	if (k > MAX_ROWS) {
		fail(c, ES_ELIMIT, "%s: more than %d entries", key, MAX_ROWS);
		return NULL;
	}
	*n = (size_t)k;
	return v;
}

/*
 * The four figures every row has, and nb_failed_reqs: as given when present
 * (the central service keeps a payload's nb_requests as sent, so the three
 * counts need not add up), else nb_reqs - nb_successful_reqs, at least 0.
 */
static int get_figs(struct ctx *c, const cJSON *o, const char *path, struct figs *f)
{
	if (!cJSON_IsObject(o))
		return fail(c, ES_EFORMAT, "%s: not an object", path);
	get_num(c, o, path, "nb_reqs", &f->reqs, 1);
	get_num(c, o, path, "nb_successful_reqs", &f->ok, 1);
	get_num(c, o, path, "bytes", &f->bytes, 1);
	get_num(c, o, path, "clients", &f->clients, 1);
	if (c->rc)
		return c->rc;
	if (cJSON_GetObjectItemCaseSensitive(o, "nb_failed_reqs"))
		return get_num(c, o, path, "nb_failed_reqs", &f->failed, 0);
	f->failed = f->ok < f->reqs ? f->reqs - f->ok : 0;
	return 0;
}

static int parse_date(struct ctx *c, const char *s, const char *what, int *y, int *m, int *d)
{
	if (cal_parse_ymd(s, strlen(s), y, m, d))
		return fail(c, ES_EFORMAT, "%s: not a date YYYY-MM-DD", what);
	return 0;
}

/* "2025-01" (month) or "2025" (year). */
static int period_ok(const char *p, int year_kind)
{
	size_t n = strlen(p);

	for (size_t i = 0; i < n; i++)
		if (!(i == 4 ? p[i] == '-' : p[i] >= '0' && p[i] <= '9'))
			return 0;
	if (year_kind)
		return n == 4;
	return n == 7 && (p[5] - '0') * 10 + (p[6] - '0') >= 1 &&
	       (p[5] - '0') * 10 + (p[6] - '0') <= 12;
}

static int get_period_figs(struct ctx *c, const cJSON *root, const char *key,
                           const char **period, struct figs *f)
{
	const cJSON *o = get_obj(c, root, "", key, 0);
	char path[64];

	*period = NULL;
	if (!o)
		return c->rc;
	snprintf(path, sizeof(path), "%s.totals", key);
	if (get_str(c, o, key, "period", period, 1))
		return c->rc;
	return get_figs(c, get_obj(c, o, key, "totals", 1), path, f);
}

static int parse_rows(struct ctx *c, const cJSON *root, const char *key, const char *ka,
                      const char *kb, int with_restricted, struct row **out, size_t *nout)
{
	size_t n;
	const cJSON *arr = get_arr(c, root, key, 0, &n), *e;
	size_t i = 0;
	char path[64];

	*out = NULL;
	*nout = 0;
	if (!arr)
		return c->rc;
	*out = es_calloc(n ? n : 1, sizeof(**out));
	cJSON_ArrayForEach(e, arr) {
		struct row *r = &(*out)[i];

		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if (get_figs(c, e, path, &r->f))
			return c->rc;
		/* A country may be unknown (null); names of nodes, networks and stations may not. */
		get_str(c, e, path, ka, &r->a, kb != NULL);
		if (!r->a)
			r->a = "";
		if (kb)
			get_str(c, e, path, kb, &r->b, 1);
		if (with_restricted)
			get_bool(c, e, path, "restricted", &r->restricted);
		if (c->rc)
			return c->rc;
		i++;
	}
	*nout = n;
	return 0;
}

static int parse_nodes(struct ctx *c, const cJSON *root, struct rep *r)
{
	size_t n;
	const cJSON *arr = get_arr(c, root, "nodes", 1, &n), *e;
	size_t i = 0;
	char path[64];

	if (!arr)
		return c->rc;
	r->nodes = es_calloc(n ? n : 1, sizeof(*r->nodes));
	cJSON_ArrayForEach(e, arr) {
		struct noderow *nr = &r->nodes[i];
		const cJSON *md, *day;
		size_t k = 0;

		snprintf(path, sizeof(path), "nodes[%zu]", i);
		if (get_figs(c, e, path, &nr->f))
			return c->rc;
		get_str(c, e, path, "node", &nr->node, 1);
		get_num(c, e, path, "days_expected", &nr->expected, 0);
		get_num(c, e, path, "days_covered", &nr->covered, 0);
		get_str(c, e, path, "last_submission", &nr->last, 0);
		md = member(c, e, path, "missing_days", 1);
		if (c->rc)
			return c->rc;
		if (!cJSON_IsArray(md))
			return fail(c, ES_EFORMAT, "%s.missing_days: not an array", path);
		cJSON_ArrayForEach(day, md) {
			int y, m, d;
			long off;

			if (!cJSON_IsString(day) ||
			    cal_parse_ymd(day->valuestring, strlen(day->valuestring), &y, &m, &d))
				return fail(c, ES_EFORMAT, "%s.missing_days[%zu]: not a date YYYY-MM-DD",
				            path, k);
			off = day_number(y, m, d) - day_number(r->sy, r->sm, r->sd);
			if (off < 0 || off >= r->ndays)
				return fail(c, ES_EFORMAT, "%s.missing_days[%zu]: %s is outside the period",
				            path, k, day->valuestring);
			k++;
		}
		nr->missing = md;
		nr->nmissing = k;
		i++;
	}
	r->nnodes = n;
	return 0;
}

static int parse_report(struct ctx *c, const cJSON *root, struct rep *r)
{
	const char *scope, *kind;
	double schema;
	int ey, em, ed;
	const cJSON *src, *arr, *e;
	size_t n, i;

	if (!cJSON_IsObject(root))
		return fail(c, ES_EFORMAT, "the report is not a JSON object");
	if (get_num(c, root, "", "schema", &schema, 1))
		return c->rc;
	if (schema != 1)
		return fail(c, ES_EFORMAT, "schema: %.0f is not 1", schema);
	if (get_str(c, root, "", "scope", &scope, 1) || get_str(c, root, "", "kind", &kind, 1) ||
	    get_str(c, root, "", "period", &r->period, 1) ||
	    get_str(c, root, "", "start", &r->start, 1) || get_str(c, root, "", "end", &r->end, 1) ||
	    get_str(c, root, "", "generated_at", &r->generated_at, 0))
		return c->rc;
	if (!strcmp(scope, "federation"))
		r->scope = SC_FED;
	else if (!strcmp(scope, "node"))
		r->scope = SC_NODE;
	else if (!strcmp(scope, "network"))
		r->scope = SC_NET;
	else
		return fail(c, ES_EFORMAT, "scope: not federation, node or network");
	if (strcmp(kind, "month") && strcmp(kind, "year"))
		return fail(c, ES_EFORMAT, "kind: not month or year");
	r->year_kind = !strcmp(kind, "year");
	if (!period_ok(r->period, r->year_kind))
		return fail(c, ES_EFORMAT, "period: not %s", r->year_kind ? "YYYY" : "YYYY-MM");
	if (parse_date(c, r->start, "start", &r->sy, &r->sm, &r->sd) ||
	    parse_date(c, r->end, "end", &ey, &em, &ed))
		return c->rc;
	r->ndays = day_number(ey, em, ed) - day_number(r->sy, r->sm, r->sd) + 1;
	if (r->ndays < 1 || r->ndays > 366)
		return fail(c, ES_EFORMAT, "start, end: not a period of 1 to 366 days");
	if (r->scope != SC_FED && get_str(c, root, "", "node", &r->node, 1))
		return c->rc;
	if (r->scope == SC_NET && get_str(c, root, "", "network", &r->network, 1))
		return c->rc;
	src = get_obj(c, root, "", "source", 0);
	if (src) {
		get_str(c, src, "source", "database", &r->src_db, 0);
		get_str(c, src, "source", "stamp", &r->src_stamp, 0);
		r->has_payloads = cJSON_GetObjectItemCaseSensitive(src, "payloads") != NULL;
		get_num(c, src, "source", "payloads", &r->src_payloads, 0);
	}
	if (c->rc || get_figs(c, get_obj(c, root, "", "totals", 1), "totals", &r->tot))
		return c->rc;
	if (get_period_figs(c, root, "previous", &r->prev_period, &r->prev) ||
	    get_period_figs(c, root, "year_before", &r->yb_period, &r->yb))
		return c->rc;
	arr = get_arr(c, root, "trend", 0, &n);
	if (c->rc)
		return c->rc;
	if (n > MAX_TREND)
		return fail(c, ES_ELIMIT, "trend: more than %d months", MAX_TREND);
	i = 0;
	cJSON_ArrayForEach(e, arr) {
		char path[32];

		snprintf(path, sizeof(path), "trend[%zu]", i);
		if (get_figs(c, e, path, &r->trend[i]) ||
		    get_str(c, e, path, "month", &r->trend_month[i], 1))
			return c->rc;
		if (!period_ok(r->trend_month[i], 0))
			return fail(c, ES_EFORMAT, "%s.month: not YYYY-MM", path);
		i++;
	}
	r->ntrend = n;
	if (parse_nodes(c, root, r) ||
	    parse_rows(c, root, "networks", "node", "network", 1, &r->nets, &r->nnets) ||
	    parse_rows(c, root, "countries", "country", NULL, 0, &r->countries, &r->ncountries) ||
	    parse_rows(c, root, "stations", "network", "station", 0, &r->stations, &r->nstations))
		return c->rc;
	arr = get_arr(c, root, "new_networks", 0, &n);
	if (c->rc)
		return c->rc;
	r->newnets = es_calloc(n ? n : 1, sizeof(*r->newnets));
	i = 0;
	cJSON_ArrayForEach(e, arr) {
		char path[40];

		snprintf(path, sizeof(path), "new_networks[%zu]", i);
		if (!cJSON_IsObject(e))
			return fail(c, ES_EFORMAT, "%s: not an object", path);
		if (get_str(c, e, path, "network", &r->newnets[i].network, 1) ||
		    get_bool(c, e, path, "restricted", &r->newnets[i].restricted) ||
		    get_bool(c, e, path, "policy_defined", &r->newnets[i].policy_defined))
			return c->rc;
		i++;
	}
	r->nnewnets = n;
	/* Coverage of the report's own node (node and network scope). */
	memset(r->covered, 1, sizeof(r->covered));
	return 0;
}

static void rep_free(struct rep *r)
{
	free(r->nodes);
	free(r->nets);
	free(r->countries);
	free(r->stations);
	free(r->newnets);
}

/* ---- Writing HTML ---- */

static const char css[] =
	":root{--fg:#1b1f24;--mut:#57606a;--bg:#fff;--line:#d0d7de;--acc:#0072b2;"
	"--warn:#b35900;--bad:#c62828;--ok:#1a7f37}"
	"*{box-sizing:border-box}"
	"body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"color:var(--fg);background:var(--bg)}"
	"main{max-width:980px;margin:0 auto;padding:16px}"
	"h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.25em;margin:1.6em 0 .5em;"
	"border-bottom:1px solid var(--line);padding-bottom:.2em}h3{font-size:1.05em}"
	".kicker{color:var(--mut);margin:0;text-transform:uppercase;font-size:.8em;"
	"letter-spacing:.05em}.sub{color:var(--mut);margin:0}"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px}"
	".card{border:1px solid var(--line);border-radius:6px;padding:10px}"
	".card .k{color:var(--mut);font-size:.85em}.card .v{font-size:1.6em;font-weight:600}"
	".card .x{color:var(--mut);font-size:.8em}.card .d{font-size:.85em;margin-top:4px}"
	".up{color:var(--ok)}.down{color:var(--bad)}.na{color:var(--mut)}"
	".tw{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0}"
	"table{border-collapse:collapse;min-width:100%;font-size:.92em}"
	"th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;"
	"white-space:nowrap}th{background:#f6f8fa}td.n,th.n{text-align:right;"
	"font-variant-numeric:tabular-nums}"
	"tr.gap td{background:#fff4e5}tr.dead td{background:#fdecea}tr.other td{font-style:italic}"
	"tr.year td{font-weight:600;background:#f6f8fa}"
	".badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:.8em;"
	"font-weight:600;color:#fff;background:var(--warn)}.badge.bad{background:var(--bad)}"
	".badge.ok{background:var(--ok)}.badge.pub{background:var(--bad)}"
	".alert{border-left:5px solid var(--bad);background:#fdecea;padding:8px 12px;"
	"margin:12px 0}.alert.warn{border-color:var(--warn);background:#fff4e5}"
	"svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0}"
	"svg .ct{font-weight:600;font-size:14px}svg text{font-size:11px;fill:#1b1f24}"
	"svg .tick{fill:#57606a}svg .axis{font-size:12px;fill:#57606a}"
	"svg .grid{stroke:#e5e8eb}svg .axisl{stroke:#57606a}svg .bar{fill:#0072b2}"
	"svg .bar.warn{fill:#d55e00}svg .frame{fill:#f6f8fa;stroke:#d0d7de}"
	"svg .day.ok{fill:#0072b2}svg .day.miss rect{fill:#fff;stroke:#c62828}"
	"svg .day.miss path{stroke:#c62828;stroke-width:2}svg .empty{fill:#57606a}"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:8px}"
	"footer{margin-top:2.5em;border-top:1px solid var(--line);padding-top:.6em;"
	"color:var(--mut);font-size:.85em}"
	"a{color:var(--acc)}nav{font-size:.9em;margin-bottom:.4em}"
	"@media (max-width:600px){main{padding:10px}h1{font-size:1.35em}"
	".card .v{font-size:1.3em}}"
	"@media print{body{font-size:11pt}main{max-width:none;padding:0}"
	".tw{overflow:visible}th,td{white-space:normal}section{break-inside:avoid-page}"
	"svg.chart{break-inside:avoid}a{color:inherit;text-decoration:none}nav{display:none}"
	".alert,.badge,tr.gap td,tr.dead td{-webkit-print-color-adjust:exact;"
	"print-color-adjust:exact}}";

static void head(jsonw_t *w, const char *title)
{
	jsonw_lit(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	          "<meta name=\"generator\" content=\"eidastats\"><title>");
	svg_esc(w, title);
	jsonw_lit(w, "</title><style>");
	jsonw_lit(w, css);
	jsonw_lit(w, "</style></head>\n<body><main>\n");
}

static const char *const month_name[] = { "January", "February", "March", "April", "May",
	"June", "July", "August", "September", "October", "November", "December" };

/* "January 2025" or "2025" for a valid period. */
static void period_title(char *buf, size_t cap, const char *period)
{
	if (strlen(period) == 7)
		snprintf(buf, cap, "%s %.4s", month_name[(period[5] - '0') * 10 + period[6] - '0' - 1],
		         period);
	else
		snprintf(buf, cap, "%s", period);
}

static void td_int(jsonw_t *w, double v)
{
	char b[40];

	svg_printf(w, "<td class=\"n\">%s</td>", svg_fmt_int(b, sizeof(b), v));
}

static void td_bytes(jsonw_t *w, double v)
{
	char b[40], h[32];

	svg_printf(w, "<td class=\"n\" title=\"%s bytes\">%s</td>", svg_fmt_int(b, sizeof(b), v),
	           svg_fmt_value(h, sizeof(h), v, SVG_BYTES));
}

/* The five figure cells of a table row. */
static void td_figs(jsonw_t *w, const struct figs *f)
{
	td_int(w, f->reqs);
	td_int(w, f->ok);
	td_int(w, f->failed);
	td_bytes(w, f->bytes);
	td_int(w, f->clients);
}

/*
 * One line of a card: "vs 2024-12: +12.3 %", "-4.0 %", or "n/a" when there is
 * no base or a base of zero; absent names what was absent.
 */
static void change(jsonw_t *w, double now, double base, const char *bperiod, const char *absent)
{
	jsonw_lit(w, "<div>vs ");
	if (!bperiod) {
		svg_printf(w, "%s: <span class=\"na\">n/a</span></div>", absent);
		return;
	}
	svg_esc(w, bperiod);
	if (!(base > 0)) {
		jsonw_lit(w, ": <span class=\"na\">n/a</span></div>");
	} else {
		double pct = 100.0 * (now - base) / base;

		svg_printf(w, ": <span class=\"%s\">%s%.1f %%</span></div>", pct >= 0 ? "up" : "down",
		           pct >= 0 ? "+" : "-", fabs(pct));
	}
}

static void card(jsonw_t *w, const struct rep *r, const char *label, enum svg_unit unit,
                 size_t off)
{
	double now = *(const double *)((const char *)&r->tot + off);
	char h[32], b[40];

	svg_printf(w, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">%s</div>"
	           "<div class=\"x\">%s%s</div><div class=\"d\">", label,
	           svg_fmt_value(h, sizeof(h), now, unit), svg_fmt_int(b, sizeof(b), now),
	           unit == SVG_BYTES ? " bytes" : "");
	change(w, now, r->prev_period ? *(const double *)((const char *)&r->prev + off) : 0,
	       r->prev_period, "previous period");
	change(w, now, r->yb_period ? *(const double *)((const char *)&r->yb + off) : 0,
	       r->yb_period, "a year before");
	jsonw_lit(w, "</div></div>");
}

static void headline(jsonw_t *w, const struct rep *r)
{
	jsonw_lit(w, "<section id=\"headline\"><h2>Headline figures</h2><div class=\"cards\">");
	card(w, r, "Requests", SVG_COUNT, offsetof(struct figs, reqs));
	card(w, r, "Successful requests", SVG_COUNT, offsetof(struct figs, ok));
	card(w, r, "Failed requests", SVG_COUNT, offsetof(struct figs, failed));
	card(w, r, "Data delivered", SVG_BYTES, offsetof(struct figs, bytes));
	card(w, r, "Distinct clients", SVG_COUNT, offsetof(struct figs, clients));
	jsonw_lit(w, "</div></section>\n");
}

static void share(jsonw_t *w, const struct figs *f)
{
	struct svg_part parts[2] = { { "Successful", f->ok }, { "Failed", f->failed } };
	char a[40], b[40];

	jsonw_lit(w, "<section id=\"success\"><h2>Success share</h2>");
	svg_share(w, "Successful and failed requests",
	          "Share of the period's requests that succeeded and that failed", parts, 2);
	if (f->ok + f->failed > 0)
		svg_printf(w, "<p>%.1f %% of the requests succeeded: %s successful, %s failed.</p>",
		           100.0 * f->ok / (f->ok + f->failed), svg_fmt_int(a, sizeof(a), f->ok),
		           svg_fmt_int(b, sizeof(b), f->failed));
	else
		jsonw_lit(w, "<p>No requests in this period.</p>");
	jsonw_lit(w, "</section>\n");
}

static void trend(jsonw_t *w, const struct rep *r)
{
	double reqs[MAX_TREND], ok[MAX_TREND], bytes[MAX_TREND], cl[MAX_TREND];
	struct svg_series s2[2] = { { "all requests", reqs }, { "successful", ok } };
	struct svg_series sb = { "bytes", bytes }, sc = { "clients", cl };
	char desc[160];

	if (r->ntrend == 0)
		return;
	for (size_t i = 0; i < r->ntrend; i++) {
		reqs[i] = r->trend[i].reqs;
		ok[i] = r->trend[i].ok;
		bytes[i] = r->trend[i].bytes;
		cl[i] = r->trend[i].clients;
	}
	snprintf(desc, sizeof(desc), "Monthly figures from %s to %s", r->trend_month[0],
	         r->trend_month[r->ntrend - 1]);
	svg_printf(w, "<section id=\"trend\"><h2>Trend over %zu months</h2><div class=\"charts\">",
	           r->ntrend);
	svg_line(w, "Requests per month", desc, "Requests", SVG_COUNT, r->trend_month, r->ntrend,
	         s2, 2);
	svg_line(w, "Data delivered per month", desc, "Bytes", SVG_BYTES, r->trend_month,
	         r->ntrend, &sb, 1);
	svg_line(w, "Distinct clients per month", desc, "Clients", SVG_COUNT, r->trend_month,
	         r->ntrend, &sc, 1);
	jsonw_lit(w, "</div></section>\n");
}

/* One run of missing days: "2025-01-07" or "2025-01-09 to 2025-01-12", after a comma if not the first. */
static void put_run(jsonw_t *w, const char *first, const char *last, int any)
{
	jsonw_lit(w, any ? ", " : "");
	svg_esc(w, first);
	if (last != first) {
		jsonw_lit(w, " to ");
		svg_esc(w, last);
	}
}

/* Writes "2025-01-07, 2025-01-09 to 2025-01-12" for the missing days of a node. */
static void missing_list(jsonw_t *w, const struct noderow *n)
{
	const cJSON *d;
	long prev = -2;
	const char *first = NULL, *last = NULL;
	int any = 0;

	/* The days are validated dates; runs of consecutive days print as ranges. */
	cJSON_ArrayForEach(d, n->missing) {
		int y, m, dd;
		long k;

		cal_parse_ymd(d->valuestring, strlen(d->valuestring), &y, &m, &dd);
		k = day_number(y, m, dd);
		if (first && k == prev + 1) {
			last = d->valuestring;
			prev = k;
			continue;
		}
		if (first)
			put_run(w, first, last, any++);
		first = last = d->valuestring;
		prev = k;
	}
	if (first)
		put_run(w, first, last, any);
}

static int node_dead(const struct noderow *n, long ndays)
{
	return (long)n->nmissing >= ndays || (n->expected > 0 && n->covered == 0);
}

static void node_badge(jsonw_t *w, const struct noderow *n, long ndays)
{
	if (node_dead(n, ndays))
		jsonw_lit(w, "<span class=\"badge bad\">no data</span>");
	else if (n->nmissing)
		svg_printf(w, "<span class=\"badge\">missing %zu day%s</span>", n->nmissing,
		           n->nmissing == 1 ? "" : "s");
	else
		jsonw_lit(w, "<span class=\"badge ok\">complete</span>");
}

static void nodes_section(jsonw_t *w, const struct rep *r)
{
	struct svg_bar *bars = es_calloc(r->nnodes ? r->nnodes : 1, sizeof(*bars));
	char (*notes)[48] = es_calloc(r->nnodes ? r->nnodes : 1, sizeof(*notes));
	size_t bad = 0;

	for (size_t i = 0; i < r->nnodes; i++) {
		const struct noderow *n = &r->nodes[i];

		bars[i].label = n->node;
		bars[i].value = n->f.reqs;
		bars[i].flag = n->nmissing > 0;
		if (node_dead(n, r->ndays))
			snprintf(notes[i], sizeof(notes[i]), "no data");
		else if (n->nmissing)
			snprintf(notes[i], sizeof(notes[i]), "missing %zu day%s", n->nmissing,
			         n->nmissing == 1 ? "" : "s");
		bars[i].note = n->nmissing ? notes[i] : NULL;
		bad += n->nmissing > 0;
	}
	jsonw_lit(w, "<section id=\"nodes\"><h2>Nodes</h2>");
	if (bad)
		svg_printf(w, "<div class=\"alert warn\">%zu of %zu node%s did not send statistics "
		           "for every day of the period; see the coverage column.</div>", bad,
		           r->nnodes, r->nnodes == 1 ? "" : "s");
	jsonw_lit(w, "<div class=\"charts\">");
	svg_bars(w, "Requests per node", "Requests each node served in the period; nodes with "
	         "missing days are marked", "Requests", SVG_COUNT, bars, r->nnodes);
	for (size_t i = 0; i < r->nnodes; i++)
		bars[i].value = r->nodes[i].f.bytes;
	svg_bars(w, "Data delivered per node", "Bytes each node delivered in the period; nodes "
	         "with missing days are marked", "Bytes", SVG_BYTES, bars, r->nnodes);
	jsonw_lit(w, "</div>");
	jsonw_lit(w, "<div class=\"tw\"><table><thead><tr><th>Node</th><th class=\"n\">Requests"
	          "</th><th class=\"n\">Successful</th><th class=\"n\">Failed</th><th class=\"n\">"
	          "Data</th><th class=\"n\">Clients</th><th>Coverage</th><th>Last submission</th>"
	          "</tr></thead><tbody>");
	for (size_t i = 0; i < r->nnodes; i++) {
		const struct noderow *n = &r->nodes[i];

		svg_printf(w, "<tr%s><td>", node_dead(n, r->ndays) ? " class=\"dead\"" :
		           n->nmissing ? " class=\"gap\"" : "");
		svg_esc(w, n->node);
		jsonw_lit(w, "</td>");
		td_figs(w, &n->f);
		jsonw_lit(w, "<td>");
		node_badge(w, n, r->ndays);
		if (n->nmissing && !node_dead(n, r->ndays)) {
			jsonw_lit(w, " <small>");
			missing_list(w, n);
			jsonw_lit(w, "</small>");
		}
		jsonw_lit(w, "</td><td>");
		svg_esc(w, n->last ? n->last : "never");
		jsonw_lit(w, "</td></tr>");
	}
	jsonw_lit(w, "</tbody></table></div></section>\n");
	free(bars);
	free(notes);
}

static void coverage_section(jsonw_t *w, struct rep *r)
{
	const struct noderow *n = NULL;
	const cJSON *d;

	for (size_t i = 0; i < r->nnodes && !n; i++)
		if (!strcmp(r->nodes[i].node, r->node))
			n = &r->nodes[i];
	if (!n && r->nnodes)
		n = &r->nodes[0];
	jsonw_lit(w, "<section id=\"coverage\"><h2>Submission coverage</h2>");
	if (!n) {
		jsonw_lit(w, "<p>No coverage information.</p></section>\n");
		return;
	}
	memset(r->covered, 1, sizeof(r->covered));
	cJSON_ArrayForEach(d, n->missing) {
		int y, m, dd;

		cal_parse_ymd(d->valuestring, strlen(d->valuestring), &y, &m, &dd);
		r->covered[day_number(y, m, dd) - day_number(r->sy, r->sm, r->sd)] = 0;
	}
	if (node_dead(n, r->ndays))
		jsonw_lit(w, "<div class=\"alert\"><strong>No statistics arrived for this period."
		          "</strong> The node sent nothing; check its daemon and its token.</div>");
	else if (n->nmissing) {
		svg_printf(w, "<div class=\"alert warn\"><strong>Missing %zu day%s:</strong> ",
		           n->nmissing, n->nmissing == 1 ? "" : "s");
		missing_list(w, n);
		jsonw_lit(w, "</div>");
	} else
		jsonw_lit(w, "<p><span class=\"badge ok\">complete</span> Statistics arrived for "
		          "every day of the period.</p>");
	svg_coverage(w, "Days with statistics", "One cell per day of the period: filled when the "
	             "node sent statistics for it, crossed when it is missing", r->sy, r->sm,
	             r->sd, (size_t)r->ndays, r->covered);
	jsonw_lit(w, "<p>Last submission: ");
	svg_esc(w, n->last ? n->last : "never");
	jsonw_lit(w, "</p></section>\n");
}

enum key { K_REQS, K_BYTES, K_CLIENTS };

static double keyval(const struct figs *f, enum key k)
{
	return k == K_BYTES ? f->bytes : k == K_CLIENTS ? f->clients : f->reqs;
}

/* qsort has no context argument; sort an index array by a key carried with it. */
struct sidx {
	const struct row *r;
	enum key k;
};

static int cmp_sidx(const void *a, const void *b)
{
	const struct sidx *x = a, *y = b;
	double vx = keyval(&x->r->f, x->k), vy = keyval(&y->r->f, y->k);
	int c;

	if (vx != vy)
		return vx > vy ? -1 : 1;
	c = strcmp(x->r->a, y->r->a);
	return c ? c : strcmp(x->r->b ? x->r->b : "", y->r->b ? y->r->b : "");
}

static struct sidx *sorted(const struct row *rows, size_t n, enum key k)
{
	struct sidx *s = es_calloc(n ? n : 1, sizeof(*s));

	for (size_t i = 0; i < n; i++) {
		s[i].r = &rows[i];
		s[i].k = k;
	}
	qsort(s, n, sizeof(*s), cmp_sidx);
	return s;
}

enum rowkind { RK_NET_FED, RK_NET_NODE, RK_COUNTRY, RK_STATION };

static int is_other(const struct row *r, enum rowkind kind)
{
	return kind == RK_NET_FED && !strcmp(r->a, "Other") && r->b && !strcmp(r->b, "Other");
}

/* The label of a row in a chart (the table has its own columns). */
static void row_label(char *buf, size_t cap, const struct row *r, enum rowkind kind)
{
	if (is_other(r, kind))
		snprintf(buf, cap, "Other (restricted)");
	else if (kind == RK_NET_FED)
		snprintf(buf, cap, "%s (%s)", r->b, r->a);
	else if (kind == RK_NET_NODE)
		snprintf(buf, cap, "%s%s", r->b, r->restricted ? " (restricted)" : "");
	else if (kind == RK_COUNTRY)
		snprintf(buf, cap, "%s", *r->a ? r->a : "unknown");
	else
		snprintf(buf, cap, "%s.%s", r->a, r->b);
}

static void chart_top(jsonw_t *w, const struct row *rows, size_t n, enum key k,
                      enum rowkind kind, const char *title, const char *desc)
{
	struct sidx *s = sorted(rows, n, k);
	size_t m = n < TOP_N ? n : TOP_N;
	struct svg_bar *bars = es_calloc(m ? m : 1, sizeof(*bars));
	char (*labels)[160] = es_calloc(m ? m : 1, sizeof(*labels));

	for (size_t i = 0; i < m; i++) {
		row_label(labels[i], sizeof(labels[i]), s[i].r, kind);
		bars[i].label = labels[i];
		bars[i].value = keyval(&s[i].r->f, k);
		bars[i].flag = is_other(s[i].r, kind) || (kind == RK_NET_NODE && s[i].r->restricted);
	}
	svg_bars(w, title, desc, k == K_BYTES ? "Bytes" : k == K_CLIENTS ? "Distinct clients" :
	         "Requests", k == K_BYTES ? SVG_BYTES : SVG_COUNT, bars, m);
	free(labels);
	free(bars);
	free(s);
}

/* A table of rows sorted by k, at most max rows (0: all). */
static void table_rows(jsonw_t *w, const struct row *rows, size_t n, enum key k,
                       enum rowkind kind, size_t max)
{
	struct sidx *s = sorted(rows, n, k);
	size_t m = max && n > max ? max : n;

	jsonw_lit(w, "<div class=\"tw\"><table><thead><tr><th>#</th>");
	if (kind == RK_NET_FED)
		jsonw_lit(w, "<th>Network</th><th>Node</th>");
	else if (kind == RK_NET_NODE)
		jsonw_lit(w, "<th>Network</th><th>Access</th>");
	else if (kind == RK_COUNTRY)
		jsonw_lit(w, "<th>Country</th>");
	else
		jsonw_lit(w, "<th>Network</th><th>Station</th>");
	jsonw_lit(w, "<th class=\"n\">Requests</th><th class=\"n\">Successful</th>"
	          "<th class=\"n\">Failed</th><th class=\"n\">Data</th><th class=\"n\">Clients</th>"
	          "</tr></thead><tbody>");
	for (size_t i = 0; i < m; i++) {
		const struct row *r = s[i].r;

		svg_printf(w, "<tr%s><td class=\"n\">%zu</td><td>", is_other(r, kind) ?
		           " class=\"other\"" : "", i + 1);
		if (is_other(r, kind))
			jsonw_lit(w, "Other</td><td>restricted networks of every node, folded");
		else if (kind == RK_NET_FED || kind == RK_STATION) {
			svg_esc(w, kind == RK_NET_FED ? r->b : r->a);
			jsonw_lit(w, "</td><td>");
			svg_esc(w, kind == RK_NET_FED ? r->a : r->b);
		} else if (kind == RK_NET_NODE) {
			svg_esc(w, r->b);
			jsonw_lit(w, r->restricted ? "</td><td><span class=\"badge\">restricted</span>" :
			          "</td><td>public");
		} else
			svg_esc(w, *r->a ? r->a : "unknown");
		jsonw_lit(w, "</td>");
		td_figs(w, &r->f);
		jsonw_lit(w, "</tr>");
	}
	jsonw_lit(w, "</tbody></table></div>");
	if (m < n)
		svg_printf(w, "<p class=\"sub\">%zu more not shown (all are in the CSV file).</p>",
		           n - m);
	free(s);
}

static void networks_section(jsonw_t *w, const struct rep *r)
{
	enum rowkind kind = r->scope == SC_FED ? RK_NET_FED : RK_NET_NODE;

	if (r->scope == SC_NET)
		return;
	jsonw_lit(w, "<section id=\"networks\"><h2>Networks</h2>");
	if (r->scope == SC_FED)
		jsonw_lit(w, "<p>Per node and network. Restricted networks are counted together in "
		          "the row &ldquo;Other&rdquo;.</p>");
	else
		jsonw_lit(w, "<p>Every network of the node, restricted ones included.</p>");
	jsonw_lit(w, "<div class=\"charts\">");
	chart_top(w, r->nets, r->nnets, K_BYTES, kind, "Top networks by data delivered",
	          "The networks whose data was downloaded most, in bytes");
	chart_top(w, r->nets, r->nnets, K_CLIENTS, kind, "Top networks by distinct clients",
	          "The networks with the most distinct clients");
	jsonw_lit(w, "</div><h3>By data delivered</h3>");
	table_rows(w, r->nets, r->nnets, K_BYTES, kind, r->scope == SC_FED ? 25 : 0);
	if (r->scope == SC_FED) {
		jsonw_lit(w, "<h3>By distinct clients</h3>");
		table_rows(w, r->nets, r->nnets, K_CLIENTS, kind, 25);
	}
	jsonw_lit(w, "</section>\n");
}

/* A section of one chart of the top rows by requests and their table (max rows, 0: all). */
static void top_section(jsonw_t *w, const char *id, const char *heading, const struct row *rows,
                        size_t n, enum rowkind kind, const char *chart, const char *desc,
                        size_t max)
{
	svg_printf(w, "<section id=\"%s\"><h2>%s</h2>", id, heading);
	chart_top(w, rows, n, K_REQS, kind, chart, desc);
	table_rows(w, rows, n, K_REQS, kind, max);
	jsonw_lit(w, "</section>\n");
}

static void newnets_section(jsonw_t *w, const struct rep *r)
{
	size_t pub = 0;

	if (r->scope != SC_NODE)
		return;
	for (size_t i = 0; i < r->nnewnets; i++)
		pub += !r->newnets[i].restricted && !r->newnets[i].policy_defined;
	jsonw_lit(w, "<section id=\"new-networks\"><h2>New networks</h2>");
	if (r->nnewnets == 0) {
		jsonw_lit(w, "<p>No network appeared for the first time in this period.</p>"
		          "</section>\n");
		return;
	}
	if (pub)
		svg_printf(w, "<div class=\"alert\"><strong>%zu new network%s %s public by default"
		           "</strong> (no access policy defined). If %s should be restricted, "
		           "define its policy.</div>", pub, pub == 1 ? "" : "s",
		           pub == 1 ? "is" : "are", pub == 1 ? "it" : "they");
	jsonw_lit(w, "<div class=\"tw\"><table><thead><tr><th>Network</th><th>Access</th>"
	          "<th>Policy</th></tr></thead><tbody>");
	for (size_t i = 0; i < r->nnewnets; i++) {
		const struct newnet *n = &r->newnets[i];
		int def = !n->restricted && !n->policy_defined;

		svg_printf(w, "<tr%s><td>", def ? " class=\"dead\"" : "");
		svg_esc(w, n->network);
		svg_printf(w, "</td><td>%s</td><td>%s</td></tr>", n->restricted ?
		           "<span class=\"badge\">restricted</span>" : "public",
		           n->policy_defined ? "defined" :
		           "<span class=\"badge pub\">public by default</span>");
	}
	jsonw_lit(w, "</tbody></table></div></section>\n");
}

static void footer(jsonw_t *w, const char *generated_at, const struct rep *r)
{
	jsonw_lit(w, "<footer><p>Made by eidastats-report");
	if (generated_at) {
		jsonw_lit(w, " at ");
		svg_esc(w, generated_at);
	}
	if (r && (r->src_db || r->src_stamp || r->has_payloads)) {
		jsonw_lit(w, " from ");
		if (r->src_db) {
			jsonw_lit(w, "the database ");
			svg_esc(w, r->src_db);
		} else
			jsonw_lit(w, "the central database");
		if (r->has_payloads)
			svg_printf(w, " (%.0f payload%s", r->src_payloads,
			           r->src_payloads == 1 ? "" : "s");
		if (r->src_stamp) {
			jsonw_lit(w, r->has_payloads ? ", data as of " : " (data as of ");
			svg_esc(w, r->src_stamp);
		}
		if (r->has_payloads || r->src_stamp)
			jsonw_lit(w, ")");
	}
	jsonw_lit(w, ".</p>");
	if (r)
		jsonw_lit(w, "<p>Clients are distinct client addresses estimated with HyperLogLog; "
		          "bytes are in binary units (1 KiB = 1024 bytes). The machine-readable "
		          "figures are in report.json and the CSV files next to this page.</p>");
	jsonw_lit(w, "</footer>\n</main></body></html>\n");
}

static void render(jsonw_t *w, struct rep *r)
{
	char ptitle[40], title[512];
	const char *kicker = r->scope == SC_FED ? "EIDA federation report" :
	                     r->scope == SC_NODE ? "EIDA node report" : "EIDA network report";

	period_title(ptitle, sizeof(ptitle), r->period);
	if (r->scope == SC_FED)
		snprintf(title, sizeof(title), "EIDA usage statistics: %s", ptitle);
	else if (r->scope == SC_NODE)
		snprintf(title, sizeof(title), "Node %.200s: %s", r->node, ptitle);
	else
		snprintf(title, sizeof(title), "Network %.100s at %.100s: %s", r->network, r->node,
		         ptitle);
	head(w, title);
	/* The federation report lies in DIR/PERIOD/, next to the list of every period. */
	if (r->scope == SC_FED)
		jsonw_lit(w, "<nav><a href=\"../index.html\">All reports</a></nav>\n");
	svg_printf(w, "<header><p class=\"kicker\">%s</p><h1>", kicker);
	svg_esc(w, title);
	jsonw_lit(w, "</h1><p class=\"sub\">");
	svg_esc(w, r->start);
	jsonw_lit(w, " to ");
	svg_esc(w, r->end);
	svg_printf(w, " &middot; %s report &middot; %ld days</p></header>\n",
	           r->year_kind ? "yearly" : "monthly", r->ndays);
	headline(w, r);
	share(w, &r->tot);
	trend(w, r);
	if (r->scope == SC_FED)
		nodes_section(w, r);
	else
		coverage_section(w, r);
	newnets_section(w, r);
	networks_section(w, r);
	if (r->scope != SC_FED)
		top_section(w, "stations", "Stations with the most requests", r->stations,
		            r->nstations, RK_STATION, "Top stations by requests",
		            "The stations with the most requests", 0);
	top_section(w, "countries", "Countries", r->countries, r->ncountries, RK_COUNTRY,
	            "Top countries by requests", "The clients' countries with the most requests",
	            30);
	footer(w, r->generated_at, r);
}

/* Parses the input, or fills err. */
static cJSON *parse_json(struct ctx *c, const char *json, size_t len)
{
	cJSON *root;
	const char *end = NULL;

	if (!json) {
		fail(c, ES_EFORMAT, "no input");
		return NULL;
	}
	if (len > RHTML_MAX_INPUT) {
		fail(c, ES_ELIMIT, "input larger than %u bytes", RHTML_MAX_INPUT);
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root) {
		fail(c, ES_EFORMAT, "not JSON (error near byte %zu)",
		     end ? (size_t)(end - json) : (size_t)0);
		return NULL;
	}
	/* Nothing but white space may follow the value. */
	for (const char *p = end; p && p < json + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			fail(c, ES_EFORMAT, "not JSON (data after the value at byte %zu)",
			     (size_t)(p - json));
			cJSON_Delete(root);
			return NULL;
		}
	return root;
}

static int finish(struct ctx *c, jsonw_t *w, char **out, size_t *out_len)
{
	int rc = c->rc ? c->rc : jsonw_error(w);

	if (rc) {
		if (!c->rc)
			fail(c, rc, "the page is larger than %u bytes", RHTML_MAX_OUTPUT);
		jsonw_fini(w);
		return rc;
	}
	*out = jsonw_take(w, out_len);
	return 0;
}

int rhtml_report(const char *json, size_t len, char **out, size_t *out_len, char *err,
                 size_t errcap)
{
	struct ctx c = { err, errcap, 0 };
	struct rep r;
	jsonw_t w;
	cJSON *root;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (errcap)
		err[0] = '\0';
	memset(&r, 0, sizeof(r));
	root = parse_json(&c, json, len);
	if (!root)
		return c.rc;
	jsonw_init(&w, RHTML_MAX_OUTPUT);
	if (parse_report(&c, root, &r) == 0)
		render(&w, &r);
	rc = finish(&c, &w, out, out_len);
	rep_free(&r);
	cJSON_Delete(root);
	return rc;
}

/* ---- The index page ---- */

struct period {
	const char *period;
	int year_kind;
	struct figs f;
	double nodes;
};

int rhtml_index(const char *json, size_t len, char **out, size_t *out_len, char *err,
                size_t errcap)
{
	struct ctx c = { err, errcap, 0 };
	struct period *p = NULL;
	const char *generated_at = NULL;
	const cJSON *arr, *e;
	size_t n = 0, i = 0, nmonths = 0;
	double schema;
	jsonw_t w;
	cJSON *root;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (errcap)
		err[0] = '\0';
	root = parse_json(&c, json, len);
	if (!root)
		return c.rc;
	jsonw_init(&w, RHTML_MAX_OUTPUT);
	if (!cJSON_IsObject(root)) {
		fail(&c, ES_EFORMAT, "the index is not a JSON object");
		goto done;
	}
	if (get_num(&c, root, "", "schema", &schema, 1))
		goto done;
	if (schema != 1) {
		fail(&c, ES_EFORMAT, "schema: %.0f is not 1", schema);
		goto done;
	}
	if (get_str(&c, root, "", "generated_at", &generated_at, 0))
		goto done;
	arr = get_arr(&c, root, "periods", 1, &n);
	if (!arr)
		goto done;
	p = es_calloc(n ? n : 1, sizeof(*p));
	cJSON_ArrayForEach(e, arr) {
		const char *kind;
		char path[40], tpath[48];

		snprintf(path, sizeof(path), "periods[%zu]", i);
		if (!cJSON_IsObject(e)) {
			fail(&c, ES_EFORMAT, "%s: not an object", path);
			goto done;
		}
		if (get_str(&c, e, path, "period", &p[i].period, 1) ||
		    get_str(&c, e, path, "kind", &kind, 1) ||
		    get_num(&c, e, path, "nodes", &p[i].nodes, 0))
			goto done;
		if (strcmp(kind, "month") && strcmp(kind, "year")) {
			fail(&c, ES_EFORMAT, "%s.kind: not month or year", path);
			goto done;
		}
		p[i].year_kind = !strcmp(kind, "year");
		if (!period_ok(p[i].period, p[i].year_kind)) {
			fail(&c, ES_EFORMAT, "%s.period: not %s", path,
			     p[i].year_kind ? "YYYY" : "YYYY-MM");
			goto done;
		}
		snprintf(tpath, sizeof(tpath), "%s.totals", path);
		if (get_figs(&c, get_obj(&c, e, path, "totals", 1), tpath, &p[i].f))
			goto done;
		nmonths += !p[i].year_kind;
		i++;
	}
	head(&w, "EIDA usage statistics: reports");
	jsonw_lit(&w, "<header><p class=\"kicker\">EIDA usage statistics</p><h1>Reports</h1>"
	          "<p class=\"sub\">Monthly and yearly reports of the federation, newest first."
	          "</p></header>\n");
	if (nmonths > 1) {
		/* The months listed, oldest first, as a trend (at most the newest 120). */
		const char *labels[MAX_TREND];
		double reqs[MAX_TREND], bytes[MAX_TREND];
		struct svg_series sr = { "requests", reqs }, sb = { "bytes", bytes };
		size_t k = 0, skip = nmonths > MAX_TREND ? nmonths - MAX_TREND : 0;

		for (size_t j = n; j-- > 0;) {
			if (p[j].year_kind)
				continue;
			if (skip) {
				skip--;
				continue;
			}
			labels[k] = p[j].period;
			reqs[k] = p[j].f.reqs;
			bytes[k] = p[j].f.bytes;
			k++;
		}
		jsonw_lit(&w, "<section id=\"trend\"><h2>Months at a glance</h2><div class=\"charts\">");
		svg_line(&w, "Requests per month", "Requests of every month with a report",
		         "Requests", SVG_COUNT, labels, k, &sr, 1);
		svg_line(&w, "Data delivered per month", "Bytes of every month with a report",
		         "Bytes", SVG_BYTES, labels, k, &sb, 1);
		jsonw_lit(&w, "</div></section>\n");
	}
	jsonw_lit(&w, "<section id=\"periods\"><h2>Periods</h2>");
	if (n == 0)
		jsonw_lit(&w, "<p>No report yet.</p>");
	else {
		jsonw_lit(&w, "<div class=\"tw\"><table><thead><tr><th>Period</th><th>Kind</th>"
		          "<th class=\"n\">Requests</th><th class=\"n\">Successful</th>"
		          "<th class=\"n\">Failed</th><th class=\"n\">Data</th>"
		          "<th class=\"n\">Clients</th><th class=\"n\">Nodes</th></tr></thead><tbody>");
		for (i = 0; i < n; i++) {
			char t[40];

			period_title(t, sizeof(t), p[i].period);
			/* The period is validated (digits and '-'), so it is safe in the href. */
			svg_printf(&w, "<tr%s><td><a href=\"%s/index.html\">%s</a></td><td>%s</td>",
			           p[i].year_kind ? " class=\"year\"" : "", p[i].period, t,
			           p[i].year_kind ? "year" : "month");
			td_figs(&w, &p[i].f);
			td_int(&w, p[i].nodes);
			jsonw_lit(&w, "</tr>");
		}
		jsonw_lit(&w, "</tbody></table></div>");
	}
	jsonw_lit(&w, "</section>\n");
	footer(&w, generated_at, NULL);
done:
	rc = finish(&c, &w, out, out_len);
	free(p);
	cJSON_Delete(root);
	return rc;
}
