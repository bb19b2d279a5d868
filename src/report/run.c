/*
 * run.c - the files of a period, --auto and the index (run.h).
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "emit.h"
#include "error.h"
#include "fsx.h"
#include "jsonw.h"
#include "rhtml.h"

#define FILE_MODE 0644
#define DIR_MODE 0755

static void say(const struct rpt_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct rpt_opts *o, const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;

	if (!o->say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	o->say(o->ctx, line);
}

static int path_of(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int path_of(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? ES_ELIMIT : 0;
}

/* mkdir -p of a directory path (its parents too). */
static int mkdirs(const char *path, char *err, size_t errlen)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof p) {
		snprintf(err, errlen, "bad directory name");
		return ES_ELIMIT;
	}
	memcpy(p, path, n + 1);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, DIR_MODE) < 0 && errno != EEXIST) {
			int e = errno;

			snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(e));
			return -e;
		}
		*s = c;
		if (!c)
			break;
	}
	{
		struct stat sb;

		if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s is not a directory", path);
			return -ENOTDIR;
		}
	}
	return 0;
}

static int put(const char *path, jsonw_t *w, struct rpt_stats *st, char *err, size_t errlen)
{
	int rc = jsonw_error(w);

	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot be made: %s", path, es_strerror(rc));
		return rc;
	}
	if ((rc = fsx_replace_buf(path, FILE_MODE, w->buf ? w->buf : "", w->len)) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, es_strerror(rc));
		return rc;
	}
	st->files++;
	return 0;
}

typedef int (*html_fn)(const char *json, size_t len, char **out, size_t *out_len, char *err,
                       size_t errcap);

/* Writes path with the HTML that fn (rhtml.h) makes of the JSON text in w. */
static int put_html(const char *path, jsonw_t *w, html_fn fn, struct rpt_stats *st, char *err,
                    size_t errlen)
{
	char why[512];
	char *html = NULL;
	size_t len = 0;
	int rc = jsonw_error(w);

	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot be made: %s", path, es_strerror(rc));
		return rc;
	}
	if ((rc = fn(w->buf ? w->buf : "", w->len, &html, &len, why, sizeof why)) < 0) {
		snprintf(err, errlen, "%s: the HTML renderer refused the report: %s", path, why);
		return rc;
	}
	rc = fsx_replace_buf(path, FILE_MODE, html, len);
	free(html);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, es_strerror(rc));
		return rc;
	}
	st->files++;
	return 0;
}

static void now_text(time_t now, char out[32])
{
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Writes one report's files: BASE.json (or report.json), its HTML twin
 * and the CSV tables, named by prefix (dir/PREFIX-x.csv, or dir/x.csv for
 * the federation).
 */
static int write_report(const struct rpt_opts *o, const struct rpt_report *r, const char *dir,
                        const char *base, struct rpt_stats *st, char *err, size_t errlen)
{
	static const struct { enum rpt_csv t; const char *name; unsigned scopes; } csvs[] = {
		{ RPT_CSV_NODES, "nodes", 1u << RPT_FEDERATION },
		{ RPT_CSV_NETWORKS, "networks", 1u << RPT_FEDERATION | 1u << RPT_NODE },
		{ RPT_CSV_COUNTRIES, "countries", 7u },
		{ RPT_CSV_TREND, "trend", 7u },
		{ RPT_CSV_STATIONS, "stations", 1u << RPT_NODE | 1u << RPT_NETWORK },
		{ RPT_CSV_COVERAGE, "coverage", 1u << RPT_NODE },
	};
	char path[PATH_MAX], gen[32];
	jsonw_t w;
	int rc = 0;

	now_text(o->now, gen);
	jsonw_init(&w, RPT_MAX_TEXT);
	for (size_t i = 0; i < sizeof csvs / sizeof csvs[0] && rc == 0; i++) {
		if (!(csvs[i].scopes & (1u << r->scope)))
			continue;
		jsonw_reset(&w);
		rpt_emit_csv(&w, r, csvs[i].t);
		if (r->scope == RPT_FEDERATION)
			rc = path_of(path, "%s/%s.csv", dir, csvs[i].name);
		else
			rc = path_of(path, "%s/%s-%s.csv", dir, base, csvs[i].name);
		if (rc < 0)
			snprintf(err, errlen, "%s: path too long", dir);
		else
			rc = put(path, &w, st, err, errlen);
	}
	if (rc == 0) {
		jsonw_reset(&w);
		rpt_emit_json(&w, r, gen);
		/* The HTML twin first: the JSON (and its stamp) vouches for what is there. */
		if ((rc = path_of(path, "%s/%s.html", dir, r->scope == RPT_FEDERATION ? "index" : base)) < 0)
			snprintf(err, errlen, "%s: path too long", dir);
		else
			rc = put_html(path, &w, rhtml_report, st, err, errlen);
	}
	if (rc == 0) {
		if ((rc = path_of(path, "%s/%s.json", dir, base)) < 0)
			snprintf(err, errlen, "%s: path too long", dir);
		else
			rc = put(path, &w, st, err, errlen);
	}
	jsonw_fini(&w);
	return rc;
}

static int one(struct rpt_db *db, const struct rpt_opts *o, const struct rpt_period *p,
               enum rpt_scope scope, const char *node, const char *net, const char *stamp,
               int64_t payloads, struct rpt_stats *st, char *err, size_t errlen)
{
	char pn[RPT_PERIOD_NAME], dir[PATH_MAX], fs[FSX_SAFE_NAME_MAX(64)];
	char nodefs[FSX_SAFE_NAME_MAX(256)];
	struct rpt_report r;
	int rc;

	rpt_period_name(p, pn);
	if ((node && strlen(node) > 255) || (net && strlen(net) > 63)) {
		snprintf(err, errlen, "name too long for a file name");
		return ES_ELIMIT;
	}
	if ((node && fsx_safe_name(node, nodefs, sizeof nodefs) < 0) ||
	    (net && fsx_safe_name(net, fs, sizeof fs) < 0)) {
		snprintf(err, errlen, "name too long for a file name");
		return ES_ELIMIT;
	}
	if (scope == RPT_FEDERATION)
		rc = path_of(dir, "%s/%s", o->out, pn);
	else if (scope == RPT_NODE)
		rc = path_of(dir, "%s/%s/nodes", o->out, pn);
	else
		rc = path_of(dir, "%s/%s/networks/%s", o->out, pn, nodefs);
	if (rc < 0) {
		snprintf(err, errlen, "%s: path too long", o->out);
		return rc;
	}
	if ((rc = mkdirs(dir, err, errlen)) < 0)
		return rc;
	rc = rpt_gather(db, scope, p, node, net, stamp, payloads, &r, err, errlen);
	if (rc == 0)
		rc = write_report(o, &r, dir, scope == RPT_FEDERATION ? "report"
		                  : scope == RPT_NODE ? nodefs : fs, st, err, errlen);
	rpt_report_free(&r);
	return rc;
}

int rpt_make(struct rpt_db *db, const struct rpt_opts *o, const struct rpt_period *p,
             const char *node, const char *network, struct rpt_stats *st, char *err, size_t errlen)
{
	char stamp[RPT_STAMP], pn[RPT_PERIOD_NAME];
	int64_t payloads = 0;
	struct rpt_table nodes = { 0 }, nets = { 0 };
	int rc;

	rpt_period_name(p, pn);
	if (o->dry_run) {
		if (network)
			say(o, "would make %s/%s: the report of network %s of node %s", o->out, pn, network, node);
		else if (node)
			say(o, "would make %s/%s: the report of node %s", o->out, pn, node);
		else
			say(o, "would make %s/%s: the federation's, every node's and the networks' reports",
			    o->out, pn);
		st->periods++;
		return 0;
	}
	if ((rc = rpt_db_stamp(db, p, stamp, &payloads, err, errlen)) < 0)
		return rc;
	if (network)
		rc = one(db, o, p, RPT_NETWORK, node, network, stamp, payloads, st, err, errlen);
	else if (node)
		rc = one(db, o, p, RPT_NODE, node, NULL, stamp, payloads, st, err, errlen);
	else {
		rc = rpt_db_nodes(db, &nodes, err, errlen);
		for (size_t i = 0; i < nodes.n && rc == 0; i++)
			rc = one(db, o, p, RPT_NODE, nodes.v[i].a, NULL, stamp, payloads, st, err, errlen);
		if (rc == 0)
			rc = rpt_db_contact_networks(db, p, &nets, err, errlen);
		for (size_t i = 0; i < nets.n && rc == 0; i++)
			rc = one(db, o, p, RPT_NETWORK, nets.v[i].a, nets.v[i].b, stamp, payloads, st,
			         err, errlen);
		/* Last: its stamp says the whole set is there. */
		if (rc == 0)
			rc = one(db, o, p, RPT_FEDERATION, NULL, NULL, stamp, payloads, st, err, errlen);
		rpt_table_free(&nodes);
		rpt_table_free(&nets);
	}
	if (rc == 0) {
		st->periods++;
		say(o, "made %s/%s", o->out, pn);
	}
	return rc;
}

/* The whole file (at most RPT_MAX_TEXT bytes), malloc()ed and NUL-terminated. */
static int slurp(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	char *buf;
	size_t n = 0;

	*out = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > RPT_MAX_TEXT) {
		close(fd);
		return ES_EFORMAT;
	}
	if (!(buf = malloc((size_t)sb.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (n < (size_t)sb.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)sb.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int read_report(const char *dir, const char *pn, cJSON **doc)
{
	char path[PATH_MAX], *text;
	size_t len = 0;
	int rc;

	*doc = NULL;
	if (path_of(path, "%s/%s/report.json", dir, pn) < 0)
		return ES_ELIMIT;
	if ((rc = slurp(path, &text, &len)) < 0)
		return rc;
	*doc = cJSON_ParseWithLength(text, len);
	free(text);
	return *doc ? 0 : ES_EFORMAT;
}

int rpt_read_stamp(const char *dir, const struct rpt_period *p, char stamp[RPT_STAMP])
{
	char pn[RPT_PERIOD_NAME];
	cJSON *doc;
	const char *s;
	int rc;

	rpt_period_name(p, pn);
	if ((rc = read_report(dir, pn, &doc)) < 0)
		return rc;
	s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(doc, "source"), "stamp"));
	rc = s && strlen(s) < RPT_STAMP ? 0 : ES_EFORMAT;
	if (rc == 0)
		snprintf(stamp, RPT_STAMP, "%s", s);
	cJSON_Delete(doc);
	return rc;
}

static int check_one(struct rpt_db *db, const struct rpt_opts *o, const struct rpt_period *p,
                     struct rpt_stats *st, char *err, size_t errlen)
{
	char have[RPT_STAMP], want[RPT_STAMP], pn[RPT_PERIOD_NAME];
	int64_t payloads;
	int rc = rpt_read_stamp(o->out, p, have), rc2;

	rpt_period_name(p, pn);
	if ((rc2 = rpt_db_stamp(db, p, want, &payloads, err, errlen)) < 0)
		return rc2;
	if (rc == 0 && strcmp(have, want) == 0)
		return 0;
	if (o->dry_run) {
		say(o, "would make %s/%s (%s)", o->out, pn, rc == -ENOENT ? "no report yet"
		    : rc == 0 ? "statistics changed since it was made" : "its report.json is unreadable");
		st->periods++;
		return 0;
	}
	return rpt_make(db, o, p, NULL, NULL, st, err, errlen);
}

int rpt_auto(struct rpt_db *db, const struct rpt_opts *o, struct rpt_stats *st,
             char *err, size_t errlen)
{
	int *months = NULL;
	size_t n = 0;
	unsigned before = st->periods;
	char path[PATH_MAX];
	int rc = rpt_db_months(db, &months, &n, err, errlen);

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct rpt_period p = { RPT_MONTH, months[i] / 12, months[i] % 12 + 1 };

		if (rpt_period_complete(&p, o->now))
			rc = check_one(db, o, &p, st, err, errlen);
		/* The year after its last month with statistics. */
		if (rc == 0 && (i + 1 == n || months[i + 1] / 12 != months[i] / 12)) {
			struct rpt_period y = { RPT_YEAR, months[i] / 12, 0 };

			if (rpt_period_complete(&y, o->now))
				rc = check_one(db, o, &y, st, err, errlen);
		}
	}
	free(months);
	if (rc < 0 || o->dry_run)
		return rc;
	if (st->periods == before && path_of(path, "%s/index.html", o->out) == 0 &&
	    access(path, F_OK) == 0)
		return 0;
	return rpt_index(o, st, err, errlen);
}

struct entry {
	char name[RPT_PERIOD_NAME];
	cJSON *doc;
};

static int cmp_entry(const void *a, const void *b)
{
	return -strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

int rpt_index(const struct rpt_opts *o, struct rpt_stats *st, char *err, size_t errlen)
{
	DIR *d = opendir(o->out);
	struct dirent *de;
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	char gen[32];
	jsonw_t w;
	int rc = 0;

	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", o->out, strerror(-rc));
		return rc;
	}
	while ((de = readdir(d))) {
		struct rpt_period p;
		cJSON *doc;

		if (rpt_period_parse(de->d_name, &p) < 0 || read_report(o->out, de->d_name, &doc) < 0)
			continue;
		if (n == cap) {
			struct entry *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*nv));

			if (!nv) {
				cJSON_Delete(doc);
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		rpt_period_name(&p, v[n].name);
		v[n++].doc = doc;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_entry);
	now_text(o->now, gen);
	jsonw_init(&w, RPT_MAX_TEXT);
	jsonw_lit(&w, "{\"schema\": 1, \"generated_at\": \"");
	jsonw_lit(&w, gen);
	jsonw_lit(&w, "\", \"periods\": [");
	for (size_t i = 0; i < n; i++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(v[i].doc, "totals");
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(v[i].doc, "nodes_reporting");
		static const char *const keys[] = { "nb_reqs", "nb_successful_reqs", "nb_failed_reqs",
		                                    "bytes", "clients" };

		jsonw_lit(&w, i ? ",\n  {\"period\": \"" : "\n  {\"period\": \"");
		jsonw_lit(&w, v[i].name);
		jsonw_lit(&w, strlen(v[i].name) == 4 ? "\", \"kind\": \"year\", \"totals\": {"
		                                     : "\", \"kind\": \"month\", \"totals\": {");
		for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(t, keys[j]);

			jsonw_lit(&w, j ? ", \"" : "\"");
			jsonw_lit(&w, keys[j]);
			jsonw_lit(&w, "\": ");
			jsonw_i64(&w, cJSON_IsNumber(x) ? (int64_t)x->valuedouble : 0);
		}
		jsonw_lit(&w, "}, \"nodes\": ");
		jsonw_i64(&w, cJSON_IsNumber(k) ? (int64_t)k->valuedouble : 0);
		jsonw_lit(&w, "}");
		cJSON_Delete(v[i].doc);
	}
	free(v);
	jsonw_lit(&w, "]}\n");
	if (rc == 0) {
		char path[PATH_MAX];

		if ((rc = path_of(path, "%s/index.html", o->out)) < 0)
			snprintf(err, errlen, "%s: path too long", o->out);
		else
			rc = put_html(path, &w, rhtml_index, st, err, errlen);
	}
	jsonw_fini(&w);
	return rc;
}
