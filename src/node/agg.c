#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "error.h"
#include "hll.h"
#include "jsonw.h"
#include "mem.h"
#include "payload.h"
#include "reader.h"
#include "request.h"
#include "stats.h"

/* Day numbers 0 (0001-01-01) to 3652058 (9999-12-31): a bitmap of 457 KB covers them all. */
#define AGG_DAYS 3652059u
#define AGG_PROGRESS_STEP (64u << 10)
/* Temporary codes are ^[0-9XYZ][0-9A-Z]$: 13 x 36 of them, so refusals fit a fixed table. */
#define AGG_TMP_CODES (13 * 36)
#define AGG_MSG_MAX 512

/* How a trace of the current line ends: recorded under code, or refused. */
struct agg_trace {
	char code[NETX_CODE_MAX];
	int refused;
};

struct agg {
	agg_opts_t o;
	stats_t *st;
	req_parser_t *rp;
	agg_counts_t c;
	uint64_t *days;         /* Bitmap of the days that recorded something (lazy). */
	uint32_t day_min, day_max;
	uint64_t refused[AGG_TMP_CODES];
	struct agg_trace *tr;   /* Per-trace outcome of the current line (reused). */
	size_t cap_tr;
	int error;              /* First error of agg_file(); the collection is then unusable. */
	char msg[AGG_MSG_MAX];
};

agg_t *agg_new(const agg_opts_t *opts)
{
	agg_t *a = es_calloc(1, sizeof *a);
	a->o = *opts;
	a->st = stats_new(opts->granularity, opts->max_stats);
	a->rp = req_parser_new();
	return a;
}

void agg_free(agg_t *a)
{
	if (!a)
		return;
	stats_free(a->st);
	req_parser_free(a->rp);
	free(a->days);
	free(a->tr);
	free(a);
}

/* Days since 0001-01-01 in the proleptic Gregorian calendar. */
static uint32_t day_number(int y, int m, int d)
{
	/* Shift the year to start in March so February's length only matters at the end. */
	y -= m <= 2;
	int era = y / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (uint32_t)(era * 146097 + doe - 306);
}

static uint32_t day_date(uint32_t n)
{
	/* Inverse of day_number(), returning YYYYMMDD. */
	uint32_t z = n + 306;
	uint32_t era = z / 146097;
	uint32_t doe = z - era * 146097;
	uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint32_t y = yoe + era * 400;
	uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint32_t mp = (5 * doy + 2) / 153;
	uint32_t d = doy - (153 * mp + 2) / 5 + 1;
	uint32_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	return STATS_DATE(y, m, d);
}

static void mark_day(agg_t *a, int y, int m, int d)
{
	uint32_t n = day_number(y, m, d);
	if (!a->days) {
		a->days = es_calloc((AGG_DAYS + 63) / 64, sizeof *a->days);
		a->day_min = a->day_max = n;
	}
	a->days[n / 64] |= 1ull << (n % 64);
	if (n < a->day_min)
		a->day_min = n;
	if (n > a->day_max)
		a->day_max = n;
}

static int tmp_index(const char *code)
{
	int hi = code[0] >= '0' && code[0] <= '9' ? code[0] - '0' : 10 + (code[0] - 'X');
	int lo = code[1] >= '0' && code[1] <= '9' ? code[1] - '0' : 10 + (code[1] - 'A');
	return hi * 36 + lo;
}

static void warn(agg_t *a, const char *file, uint64_t lineno, const char *msg)
{
	if (a->o.warn)
		a->o.warn(a->o.ctx, file, lineno, msg);
}

static void skip_line(agg_t *a, const char *file, uint64_t lineno, uint64_t *counter,
                      const char *msg)
{
	(*counter)++;
	a->c.malformed++;
	warn(a, file, lineno, msg);
}

static stats_key_t make_key(uint32_t date, const req_event_t *ev)
{
	stats_key_t k = {
		.date = date,
		.country = ev->country.s,
		.country_len = ev->country.len,
	};
	return k;
}

/* Handles one parsed line; returns 0 or an error that ends the file. */
static int use_event(agg_t *a, const char *file, uint64_t lineno, const req_event_t *ev)
{
	uint32_t date = STATS_DATE(ev->year, ev->month, ev->day);
	size_t recorded = 0;
	if (ev->ok) {
		if (ev->ntraces > a->cap_tr) {
			free(a->tr);
			a->cap_tr = ev->ntraces * 2;
			a->tr = es_calloc(a->cap_tr, sizeof *a->tr);
		}
		for (size_t i = 0; i < ev->ntraces; i++) {
			const req_trace_t *t = &ev->traces[i];
			struct agg_trace *o = &a->tr[i];
			o->refused = 0;
			if (!netx_is_temporary(t->net.s, t->net.len)) {
				recorded++;
				continue;
			}
			int rc = netx_extend(a->o.netx, t->net.s, t->net.len, t->start.s, t->start.len,
			                     o->code);
			if (rc == ES_EREFUSED) {
				o->refused = 1;
				continue;
			}
			if (rc)
				return rc;
			recorded++;
		}
	} else {
		recorded = 1;
	}
	/* userID is read only when something is recorded, as upstream does. */
	if (recorded && ev->client_state != REQ_CLIENT_OK) {
		snprintf(a->msg, sizeof a->msg, "Line %llu: %s (upstream crashes). Ignoring this line",
		         (unsigned long long)lineno, ev->client_why);
		skip_line(a, file, lineno, &a->c.invalid, a->msg);
		return 0;
	}
	if (ev->country_missing) {
		a->c.missing_country++;
		warn(a, file, lineno, ev->msg);
	}
	stats_key_t k = make_key(date, ev);
	if (!ev->ok) {
		k.net = "";
		k.sta = "";
		k.loc = "--";
		k.cha = "";
		k.loc_len = 2;
		int rc = stats_add(a->st, &k, 0, 0, ev->client_raw);
		if (rc)
			return rc;
		a->c.failures++;
		mark_day(a, ev->year, ev->month, ev->day);
		return 0;
	}
	for (size_t i = 0; i < ev->ntraces; i++) {
		const req_trace_t *t = &ev->traces[i];
		const struct agg_trace *o = &a->tr[i];
		if (o->refused) {
			a->c.refused_traces++;
			a->refused[tmp_index(t->net.s)]++;
			size_t pos = (size_t)snprintf(a->msg, sizeof a->msg, "Network %s could not be extended at ",
			                              t->net.s);
			snprintf(a->msg + pos, sizeof a->msg - pos, "%.*s. Ignoring this line",
			         (int)t->start.len, t->start.s);
			warn(a, file, lineno, a->msg);
			continue;
		}
		if (netx_is_temporary(t->net.s, t->net.len)) {
			k.net = o->code;
			k.net_len = strlen(o->code);
		} else {
			k.net = t->net.s;
			k.net_len = t->net.len;
		}
		k.sta = t->sta.s;
		k.sta_len = t->sta.len;
		k.loc = t->loc.s;
		k.loc_len = t->loc.len;
		k.cha = t->cha.s;
		k.cha_len = t->cha.len;
		int rc = stats_add(a->st, &k, t->bytes, 1, ev->client_raw);
		if (rc)
			return rc;
		a->c.successes++;
	}
	if (recorded)
		mark_day(a, ev->year, ev->month, ev->day);
	return 0;
}

static void progress(agg_t *a, const char *file, reader_t *r, uint64_t lines)
{
	if (a->o.progress)
		a->o.progress(a->o.ctx, file, reader_bytes_in(r), reader_file_size(r), lines);
}

int agg_file(agg_t *a, const char *path, int fd, uint8_t digest[32])
{
	if (a->error)
		return a->error;
	reader_t *r;
	reader_opts_t ro = { .max_line = a->o.max_line, .threads = a->o.reader_threads };
	int rc = reader_open(&r, path, fd, &ro);
	if (rc)
		return rc;
	size_t max_line = a->o.max_line ? a->o.max_line : READER_DEFAULT_MAX_LINE;
	/* Upstream hands lines of bzip2 files to json as bytes, which accepts a BOM; text lines not. */
	int allow_bom = reader_kind(r) != READER_PLAIN;
	uint64_t lineno = 0, next_report = AGG_PROGRESS_STEP;
	const char *line;
	size_t len;
	int too_long;
	while ((rc = reader_next(r, &line, &len, &too_long)) == 1) {
		lineno++;
		a->c.lines++;
		if (too_long) {
			snprintf(a->msg, sizeof a->msg, "Line %llu is longer than %zu bytes. Ignoring",
			         (unsigned long long)lineno, max_line);
			skip_line(a, path, lineno, &a->c.json_errors, a->msg);
		} else {
			const req_event_t *ev;
			rc = 0;
			switch (req_parse(a->rp, line, len, lineno, allow_bom, &ev)) {
			case REQ_OK:
				rc = use_event(a, path, lineno, ev);
				break;
			case REQ_JSON:
				skip_line(a, path, lineno, &a->c.json_errors, ev->msg);
				break;
			case REQ_DATE:
				skip_line(a, path, lineno, &a->c.bad_dates, ev->msg);
				break;
			case REQ_INVALID:
				skip_line(a, path, lineno, &a->c.invalid, ev->msg);
				break;
			}
			if (rc)
				break;
		}
		if (a->o.progress && reader_bytes_in(r) >= next_report) {
			progress(a, path, r, lineno);
			next_report = reader_bytes_in(r) + AGG_PROGRESS_STEP;
		}
	}
	if (rc == 0) {
		progress(a, path, r, lineno);
		if (digest)
			rc = reader_digest(r, digest);
	}
	a->c.bytes_in += reader_bytes_in(r);
	a->c.bytes_out += reader_bytes_out(r);
	reader_close(r);
	if (rc < 0)
		a->error = rc;
	return rc < 0 ? rc : 0;
}

const agg_counts_t *agg_counts(const agg_t *a)
{
	return &a->c;
}

char *agg_refused_summary(const agg_t *a)
{
	jsonw_t w;
	jsonw_init(&w, 0);
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static const char firsts[] = "0123456789XYZ";
	int first = 1;
	for (int i = 0; i < AGG_TMP_CODES; i++) {
		if (!a->refused[i])
			continue;
		char item[48];
		int n = snprintf(item, sizeof item, "%s%c%c=%llu", first ? "" : ", ", firsts[i / 36],
		                 digits[i % 36], (unsigned long long)a->refused[i]);
		jsonw_raw(&w, item, (size_t)n);
		first = 0;
	}
	size_t len;
	char *s = jsonw_take(&w, &len);
	return s;
}

size_t agg_nstats(const agg_t *a)
{
	return stats_count(a->st);
}

void agg_hll_types(const agg_t *a, size_t out[5])
{
	memset(out, 0, 5 * sizeof out[0]);
	size_t n = stats_count(a->st);
	for (size_t i = 0; i < n; i++) {
		stats_row_t r;
		stats_get(a->st, i, &r);
		if (r.clients->type < 5)
			out[r.clients->type]++;
	}
}

int agg_coverage(const agg_t *a, char first[11], char last[11])
{
	if (!a->days || stats_count(a->st) == 0)
		return ES_ENOSTATS;
	payload_date_text(day_date(a->day_min), first);
	payload_date_text(day_date(a->day_max), last);
	return 0;
}

/* The payload's metadata; *days is malloc()ed for the caller to free. */
static int agg_meta(const agg_t *a, time_t generated_at, const char *version,
                    payload_meta_t *meta, uint32_t **days)
{
	*days = NULL;
	if (a->error)
		return a->error;
	size_t nstats = stats_count(a->st);
	if (nstats == 0 || !a->days)
		return ES_ENOSTATS;
	size_t cap = 64, ndays = 0;
	uint32_t *d = es_malloc(cap * sizeof *d);
	for (uint32_t w = a->day_min / 64; w <= a->day_max / 64; w++) {
		uint64_t bits = a->days[w];
		while (bits) {
			uint32_t n = w * 64 + (uint32_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (ndays == cap) {
				cap *= 2;
				d = es_reallocarray(d, cap, sizeof *d);
			}
			d[ndays++] = day_date(n);
		}
	}
	payload_meta_t m = {
		.generated_at = generated_at,
		.version = version,
		.days = d,
		.ndays = ndays,
		.aggregation_score = payload_score(a->c.lines, nstats),
	};
	*meta = m;
	*days = d;
	return 0;
}

int agg_payload(const agg_t *a, time_t generated_at, const char *version, char **json,
                size_t *len)
{
	*json = NULL;
	*len = 0;
	payload_meta_t meta;
	uint32_t *days;
	int rc = agg_meta(a, generated_at, version, &meta, &days);
	if (rc == 0)
		rc = payload_json(a->st, &meta, json, len);
	free(days);
	return rc;
}

int agg_payload_ready(const agg_t *a)
{
	if (a->error)
		return a->error;
	return stats_count(a->st) == 0 || !a->days ? ES_ENOSTATS : 0;
}

int agg_write_payload_gz(const agg_t *a, time_t generated_at, const char *version,
                         const char *path)
{
	payload_meta_t meta;
	uint32_t *days;
	int rc = agg_meta(a, generated_at, version, &meta, &days);
	if (rc == 0)
		rc = payload_write_gz_stats(path, a->st, &meta);
	free(days);
	return rc;
}
