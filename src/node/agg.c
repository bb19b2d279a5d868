#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "error.h"
#include "hll.h"
#include "jsonw.h"
#include "mem.h"
#include "payload.h"
#include "reader.h"
#include "request.h"
#include "stats.h"
#include "wpool.h"

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
	req_trace_t *ptr;       /* Traces of a record being applied (reused). */
	size_t cap_ptr;
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
	free(a->ptr);
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

/* ---- Parsing on several threads ----
 *
 * Lines are copied into batches of at most AGG_BATCH_TEXT bytes and
 * AGG_BATCH_LINES lines; parse workers turn each line into a compact record
 * (struct agg_pev: the event with its strings copied into the batch), and
 * the calling thread applies the records to the table in line order with
 * use_event(), exactly as the sequential path does: table order, HLL
 * representations and warnings are those of one thread.  A fixed ring of
 * batches bounds memory; a line longer than a batch drains the ring and is
 * parsed in the calling thread.
 */
#define AGG_BATCH_TEXT ((size_t)1 << 20)
#define AGG_BATCH_LINES 8192u
/* Input below this many decompressed bytes is parsed without threads. */
#define AGG_PAR_MIN ((uint64_t)4 << 20)
#define AGG_TOO_LONG (-1)

/* A parsed line; strings are offsets into the batch's bytes, NUL-terminated there. */
struct agg_pev {
	int verdict;               /* enum req_verdict, or AGG_TOO_LONG. */
	int year, month, day;
	int ok, country_missing, country_null;
	enum req_client client_state;
	const char *client_why;    /* A string constant of request.c. */
	int64_t client_raw;
	uint32_t msg, country;     /* Offsets into bytes. */
	uint32_t country_len;
	uint32_t trace0, ntraces;  /* Index into traces. */
};

struct agg_ptrace {
	uint32_t net, sta, loc, cha, start;  /* Offsets into bytes. */
	uint32_t net_len, sta_len, loc_len, cha_len, start_len;
	int64_t bytes;
};

struct agg_batch {
	char *text;                /* The lines, back to back (AGG_BATCH_TEXT). */
	size_t text_len;
	uint32_t *off, *len;       /* Per line (AGG_BATCH_LINES); len UINT32_MAX: too long. */
	size_t nlines;
	uint64_t lineno0;          /* Line number of the first line. */
	struct agg_pev *pev;       /* AGG_BATCH_LINES, filled by the worker. */
	struct agg_ptrace *tr;
	size_t ntr, cap_tr;
	char *bytes;
	size_t nbytes, cap_bytes;
};

struct agg_pool {
	wpool_t *wp;
	req_parser_t *rp[WPOOL_MAX_THREADS];  /* One per worker. */
	unsigned nthreads;
	int allow_bom;
	size_t nring;
	struct agg_batch *ring;    /* The wpool's slots. */
};

/* Counts and reports a line that gives no event: verdict is a req_parse()
 * verdict other than REQ_OK, or AGG_TOO_LONG (msg unused then).  The one
 * place both the threaded and the direct path account for bad lines. */
static void skip_bad(agg_t *a, const char *path, uint64_t lineno, int verdict, const char *msg,
                     size_t max_line)
{
	switch (verdict) {
	case AGG_TOO_LONG:
		snprintf(a->msg, sizeof a->msg, "Line %llu is longer than %zu bytes. Ignoring",
		         (unsigned long long)lineno, max_line);
		skip_line(a, path, lineno, &a->c.json_errors, a->msg);
		break;
	case REQ_JSON:
		skip_line(a, path, lineno, &a->c.json_errors, msg);
		break;
	case REQ_DATE:
		skip_line(a, path, lineno, &a->c.bad_dates, msg);
		break;
	default:
		skip_line(a, path, lineno, &a->c.invalid, msg);
		break;
	}
}

static uint32_t batch_bytes(struct agg_batch *b, const char *s, size_t len)
{
	if (b->cap_bytes - b->nbytes < len + 1) {
		size_t cap = b->cap_bytes ? b->cap_bytes : (size_t)1 << 16;
		while (cap - b->nbytes < len + 1)
			cap *= 2;
		b->bytes = es_realloc(b->bytes, cap);
		b->cap_bytes = cap;
	}
	uint32_t at = (uint32_t)b->nbytes;
	if (len)
		memcpy(b->bytes + at, s, len);
	b->bytes[at + len] = '\0';
	b->nbytes += len + 1;
	return at;
}

/* Parses every line of b into records (worker threads, or the caller). */
static void batch_parse(struct agg_batch *b, req_parser_t *rp, int allow_bom)
{
	b->ntr = 0;
	b->nbytes = 0;
	for (size_t i = 0; i < b->nlines; i++) {
		struct agg_pev *pe = &b->pev[i];
		memset(pe, 0, sizeof *pe);
		if (b->len[i] == UINT32_MAX) {
			pe->verdict = AGG_TOO_LONG;
			continue;
		}
		const req_event_t *ev;
		pe->verdict = (int)req_parse(rp, b->text + b->off[i], b->len[i], b->lineno0 + i,
		                             allow_bom, &ev);
		pe->msg = batch_bytes(b, ev->msg, strlen(ev->msg));
		if (pe->verdict != REQ_OK)
			continue;
		pe->year = ev->year;
		pe->month = ev->month;
		pe->day = ev->day;
		pe->ok = ev->ok;
		pe->country_missing = ev->country_missing;
		pe->country_null = ev->country.s == NULL;
		pe->country = batch_bytes(b, ev->country.s ? ev->country.s : "", ev->country.len);
		pe->country_len = (uint32_t)ev->country.len;
		pe->client_state = ev->client_state;
		pe->client_why = ev->client_why;
		pe->client_raw = ev->client_raw;
		pe->trace0 = (uint32_t)b->ntr;
		pe->ntraces = (uint32_t)ev->ntraces;
		if (b->cap_tr - b->ntr < ev->ntraces) {
			size_t cap = b->cap_tr ? b->cap_tr : 1024;
			while (cap - b->ntr < ev->ntraces)
				cap *= 2;
			b->tr = es_reallocarray(b->tr, cap, sizeof *b->tr);
			b->cap_tr = cap;
		}
		for (size_t k = 0; k < ev->ntraces; k++) {
			const req_trace_t *t = &ev->traces[k];
			struct agg_ptrace *o = &b->tr[b->ntr++];
			o->net = batch_bytes(b, t->net.s, t->net.len);
			o->sta = batch_bytes(b, t->sta.s, t->sta.len);
			o->loc = batch_bytes(b, t->loc.s, t->loc.len);
			o->cha = batch_bytes(b, t->cha.s, t->cha.len);
			o->start = batch_bytes(b, t->start.s, t->start.len);
			o->net_len = (uint32_t)t->net.len;
			o->sta_len = (uint32_t)t->sta.len;
			o->loc_len = (uint32_t)t->loc.len;
			o->cha_len = (uint32_t)t->cha.len;
			o->start_len = (uint32_t)t->start.len;
			o->bytes = t->bytes;
		}
	}
}

static req_str_t batch_str(const struct agg_batch *b, uint32_t off, uint32_t len)
{
	req_str_t s = { b->bytes + off, len };
	return s;
}

/* Applies the records of b in line order; 0 or an error that ends the file. */
static int batch_apply(agg_t *a, const struct agg_batch *b, const char *path, size_t max_line)
{
	for (size_t i = 0; i < b->nlines; i++) {
		const struct agg_pev *pe = &b->pev[i];
		uint64_t lineno = b->lineno0 + i;
		const char *msg = b->bytes + pe->msg;
		if (pe->verdict != REQ_OK) {
			skip_bad(a, path, lineno, pe->verdict, msg, max_line);
			continue;
		}
		{
			if (pe->ntraces > a->cap_ptr) {
				free(a->ptr);
				a->cap_ptr = (size_t)pe->ntraces * 2;
				a->ptr = es_calloc(a->cap_ptr, sizeof *a->ptr);
			}
			for (uint32_t k = 0; k < pe->ntraces; k++) {
				const struct agg_ptrace *o = &b->tr[pe->trace0 + k];
				req_trace_t *t = &a->ptr[k];
				t->net = batch_str(b, o->net, o->net_len);
				t->sta = batch_str(b, o->sta, o->sta_len);
				t->loc = batch_str(b, o->loc, o->loc_len);
				t->cha = batch_str(b, o->cha, o->cha_len);
				t->start = batch_str(b, o->start, o->start_len);
				t->bytes = o->bytes;
			}
			req_event_t ev = {
				.year = pe->year, .month = pe->month, .day = pe->day,
				.country = batch_str(b, pe->country, pe->country_len),
				.country_missing = pe->country_missing,
				.ok = pe->ok,
				.client_state = pe->client_state,
				.client_raw = pe->client_raw,
				.ntraces = pe->ntraces,
				.traces = a->ptr,
				.msg = msg,
				.client_why = pe->client_why,
			};
			if (pe->country_null)
				ev.country.s = NULL;
			int rc = use_event(a, path, lineno, &ev);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void pool_parse(void *ctx, unsigned worker, size_t slot)
{
	struct agg_pool *p = ctx;
	batch_parse(&p->ring[slot], p->rp[worker], p->allow_bom);
}

static void pool_free(struct agg_pool *p)
{
	if (!p)
		return;
	wpool_free(p->wp);
	for (unsigned i = 0; i < p->nthreads; i++)
		req_parser_free(p->rp[i]);
	for (size_t i = 0; i < p->nring; i++) {
		struct agg_batch *b = &p->ring[i];
		free(b->text);
		free(b->off);
		free(b->len);
		free(b->pev);
		free(b->tr);
		free(b->bytes);
	}
	free(p->ring);
	free(p);
}

/* Starts nthreads parse workers; 0 or -errno (nothing left running). */
static int pool_new(struct agg_pool **out, unsigned nthreads, int allow_bom)
{
	struct agg_pool *p = es_calloc(1, sizeof *p);
	*out = NULL;
	p->nthreads = nthreads;
	p->allow_bom = allow_bom;
	/* Each worker parses one batch while the next waits for it; one more is being filled. */
	p->nring = 2 * (size_t)nthreads + 1;
	p->ring = es_calloc(p->nring, sizeof *p->ring);
	for (size_t i = 0; i < p->nring; i++) {
		struct agg_batch *b = &p->ring[i];
		b->text = es_malloc(AGG_BATCH_TEXT);
		b->off = es_malloc(AGG_BATCH_LINES * sizeof *b->off);
		b->len = es_malloc(AGG_BATCH_LINES * sizeof *b->len);
		b->pev = es_malloc(AGG_BATCH_LINES * sizeof *b->pev);
	}
	for (unsigned i = 0; i < nthreads; i++)
		p->rp[i] = req_parser_new();
	int rc = wpool_new(&p->wp, nthreads, p->nring, pool_parse, p);
	if (rc) {
		pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* The batch being filled. */
static struct agg_batch *pool_filling(struct agg_pool *p)
{
	return &p->ring[wpool_filling(p->wp)];
}

/* Waits for the oldest batch in flight and applies it; 0 or use_event()'s error. */
static int pool_apply_one(agg_t *a, struct agg_pool *p, const char *path, size_t max_line)
{
	return batch_apply(a, &p->ring[wpool_collect(p->wp)], path, max_line);
}

/* Hands the batch being filled (if it has lines) to the workers, first making
 * room in the ring by applying the oldest batch. */
static int pool_submit(agg_t *a, struct agg_pool *p, const char *path, size_t max_line)
{
	if (pool_filling(p)->nlines == 0)
		return 0;
	wpool_submit(p->wp);
	int rc = 0;
	if (wpool_full(p->wp))
		rc = pool_apply_one(a, p, path, max_line);
	struct agg_batch *nb = pool_filling(p);
	nb->nlines = 0;
	nb->text_len = 0;
	return rc;
}

/* Submits the batch being filled and applies everything in flight. */
static int pool_drain(agg_t *a, struct agg_pool *p, const char *path, size_t max_line)
{
	int rc = pool_submit(a, p, path, max_line);
	while (rc == 0 && wpool_pending(p->wp) > 0)
		rc = pool_apply_one(a, p, path, max_line);
	return rc;
}

/* Adds a line to the batch being filled, submitting it first when full.  A
 * line longer than a batch is not added: returns 1 after draining the ring,
 * for the caller to parse it in its own thread. */
static int pool_add(agg_t *a, struct agg_pool *p, const char *path, size_t max_line,
                    const char *line, size_t len, int too_long, uint64_t lineno)
{
	struct agg_batch *b = pool_filling(p);
	if (len > AGG_BATCH_TEXT) {
		int rc = pool_drain(a, p, path, max_line);
		return rc ? rc : 1;
	}
	if (b->nlines == AGG_BATCH_LINES || AGG_BATCH_TEXT - b->text_len < len) {
		int rc = pool_submit(a, p, path, max_line);
		if (rc)
			return rc;
		b = pool_filling(p);
	}
	if (b->nlines == 0)
		b->lineno0 = lineno;
	b->off[b->nlines] = (uint32_t)b->text_len;
	b->len[b->nlines] = too_long ? UINT32_MAX : (uint32_t)len;
	b->nlines++;
	if (!too_long) {
		memcpy(b->text + b->text_len, line, len);
		b->text_len += len;
	}
	return 0;
}

static void progress(agg_t *a, const char *file, reader_t *r, uint64_t lines)
{
	if (a->o.progress)
		a->o.progress(a->o.ctx, file, reader_bytes_in(r), reader_file_size(r), lines);
}

/* One line in the calling thread: parse and apply. */
static int line_direct(agg_t *a, const char *path, uint64_t lineno, const char *line, size_t len,
                       int too_long, int allow_bom, size_t max_line)
{
	if (too_long) {
		skip_bad(a, path, lineno, AGG_TOO_LONG, NULL, max_line);
		return 0;
	}
	const req_event_t *ev;
	int v = (int)req_parse(a->rp, line, len, lineno, allow_bom, &ev);
	if (v == REQ_OK)
		return use_event(a, path, lineno, ev);
	skip_bad(a, path, lineno, v, ev->msg, max_line);
	return 0;
}

/* Threads of the budget (agg_opts_t.reader_threads, 0 → the online CPUs). */
static unsigned cpu_budget(const agg_t *a)
{
	unsigned n = a->o.reader_threads;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c < 1 ? 1 : (unsigned)c;
	}
	return n > WPOOL_MAX_THREADS ? WPOOL_MAX_THREADS : n;
}

/* Parse workers for this file: bzip2 input already has its decoders on the
 * CPUs of the budget, so only plain and gzip text is parsed in parallel. */
static unsigned parse_threads(const agg_t *a, const reader_t *r)
{
	if (reader_kind(r) == READER_BZIP2)
		return 0;
	unsigned n = cpu_budget(a);
	return n > 1 ? n : 0;
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
	unsigned nthreads = parse_threads(a, r);
	struct agg_pool *pool = NULL;
	uint64_t lineno = 0, next_report = AGG_PROGRESS_STEP;
	const char *line;
	size_t len;
	int too_long, urc = 0;
	while ((rc = reader_next(r, &line, &len, &too_long)) == 1) {
		lineno++;
		a->c.lines++;
		if (!pool && nthreads && reader_bytes_out(r) >= AGG_PAR_MIN) {
			/* Without threads (pthread_create failed) the file is read sequentially. */
			if (pool_new(&pool, nthreads, allow_bom) != 0)
				nthreads = 0;
		}
		urc = 1;
		if (pool)
			urc = pool_add(a, pool, path, max_line, line, len, too_long, lineno);
		if (urc == 1)
			urc = line_direct(a, path, lineno, line, len, too_long, allow_bom, max_line);
		if (urc)
			break;
		if (a->o.progress && reader_bytes_in(r) >= next_report) {
			progress(a, path, r, lineno);
			next_report = reader_bytes_in(r) + AGG_PROGRESS_STEP;
		}
	}
	if (urc)
		rc = urc;
	else if (pool)
		/* Lines read before a reader error are used first, as sequentially. */
		urc = pool_drain(a, pool, path, max_line);
	pool_free(pool);
	if (urc)
		rc = urc;
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
		rc = payload_write_gz_stats(path, a->st, &meta, cpu_budget(a));
	free(days);
	return rc;
}
