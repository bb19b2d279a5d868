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
#define AGG_TOO_LONG (-1)

/* How a trace of the current line ends: recorded under code, or refused. */
struct agg_trace {
	char code[NETX_CODE_MAX];
	int refused;
};

struct agg_batch;

/*
 * Where use_event() puts what a line gives: a table, counters, refusals, and
 * either the collection itself (warnings to the callback, days to its
 * bitmap) or a batch of the parse workers (warnings and days recorded for
 * the calling thread to replay in line order).  Each thread has its own.
 */
struct agg_acc {
	agg_t *a;                /* Direct: warnings and days go to a. */
	struct agg_batch *b;     /* Batched: warnings and days are recorded in b. */
	netx_t *netx;
	stats_t *st;
	agg_counts_t *c;
	uint64_t *refused;       /* AGG_TMP_CODES counters. */
	uint64_t *abs_bytes;     /* Sum of |bytes| recorded (saturating). */
	const char *path;
	struct agg_trace *tr;    /* Per-trace outcome of the current line (reused). */
	size_t cap_tr;
	char msg[AGG_MSG_MAX];
};

struct agg {
	agg_opts_t o;
	stats_t *st;
	req_parser_t *rp;
	agg_counts_t c;
	uint64_t *days;         /* Bitmap of the days that recorded something (lazy). */
	uint32_t day_min, day_max;
	uint64_t refused[AGG_TMP_CODES];
	uint64_t abs_bytes;     /* Sum of |bytes| in the table: bounds every row's sum. */
	struct agg_acc d;       /* The calling thread's accumulator (into st). */
	int error;              /* First error of agg_file(); the collection is then unusable. */
};

agg_t *agg_new(const agg_opts_t *opts)
{
	agg_t *a = es_calloc(1, sizeof *a);
	a->o = *opts;
	a->st = stats_new(opts->granularity, opts->max_stats);
	a->rp = req_parser_new();
	a->d.a = a;
	a->d.netx = opts->netx;
	a->d.st = a->st;
	a->d.c = &a->c;
	a->d.refused = a->refused;
	a->d.abs_bytes = &a->abs_bytes;
	return a;
}

void agg_free(agg_t *a)
{
	if (!a)
		return;
	stats_free(a->st);
	req_parser_free(a->rp);
	free(a->days);
	free(a->d.tr);
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

static void mark_day_number(agg_t *a, uint32_t n)
{
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

/* ---- Parsing on several threads ----
 *
 * Lines are copied into batches of at most AGG_BATCH_TEXT bytes and
 * AGG_BATCH_LINES lines.  A parse worker parses each line of a batch and
 * folds it with use_event() into the batch's own small table (rows in the
 * batch's first-occurrence order), recording its warnings and days; the
 * calling thread merges the batch tables into the collection's in batch
 * order.  Row order is then first occurrence over the whole file, counters
 * are sums, and an HLL depends only on the set of values added to it
 * (hll.h: hll_union() of two sets equals adding the values one by one), so
 * the payload, counts and warnings are those of one thread.  A batch the
 * worker could not fold (an error such as an unreachable registry, a batch
 * table over its limit), or whose merge might reach a limit of the
 * collection, is parsed again by the calling thread line by line, which
 * fails at exactly the line one thread would.  A fixed ring of batches
 * bounds memory; a line longer than a batch drains the ring and is parsed
 * in the calling thread.
 */
#define AGG_BATCH_TEXT ((size_t)1 << 20)
#define AGG_BATCH_LINES 8192u
/* Rows of a batch table (about 1.3 MB of rows and index): beyond them the batch is
 * parsed again by the calling thread.  A real batch of 1 MiB holds a few thousand. */
#define AGG_BATCH_ROWS ((size_t)1 << 14)
/* Input below this many decompressed bytes is parsed without threads. */
#define AGG_PAR_MIN ((uint64_t)4 << 20)

/* A warning of a batch, replayed by the calling thread. */
struct agg_note {
	uint64_t lineno;
	uint32_t msg;              /* Offset into notes_text. */
};

struct agg_batch {
	char *text;                /* The lines, back to back (AGG_BATCH_TEXT). */
	size_t text_len;
	uint32_t *off, *len;       /* Per line (AGG_BATCH_LINES); len UINT32_MAX: too long. */
	size_t nlines;
	uint64_t lineno0;          /* Line number of the first line. */
	/* Filled by the worker: */
	int folded;                /* 1: st and the rest hold the batch; 0: parse it again. */
	stats_t *st;               /* At most AGG_BATCH_ROWS rows. */
	agg_counts_t c;
	uint64_t refused[AGG_TMP_CODES];
	uint64_t abs_bytes;
	uint32_t *days;            /* Day numbers marked, consecutive repeats dropped (AGG_BATCH_LINES). */
	size_t ndays;
	struct agg_note *notes;
	size_t nnotes, cap_notes;
	char *notes_text;
	size_t notes_len, cap_notes_text;
};

static void batch_note(struct agg_batch *b, uint64_t lineno, const char *msg)
{
	size_t len = strlen(msg) + 1;
	if (b->cap_notes_text - b->notes_len < len) {
		size_t cap = b->cap_notes_text ? b->cap_notes_text : (size_t)1 << 14;
		while (cap - b->notes_len < len)
			cap *= 2;
		b->notes_text = es_realloc(b->notes_text, cap);
		b->cap_notes_text = cap;
	}
	if (b->nnotes == b->cap_notes) {
		b->cap_notes = b->cap_notes ? 2 * b->cap_notes : 256;
		b->notes = es_reallocarray(b->notes, b->cap_notes, sizeof *b->notes);
	}
	b->notes[b->nnotes].lineno = lineno;
	b->notes[b->nnotes].msg = (uint32_t)b->notes_len;
	b->nnotes++;
	memcpy(b->notes_text + b->notes_len, msg, len);
	b->notes_len += len;
}

static void warn(struct agg_acc *x, uint64_t lineno, const char *msg)
{
	if (x->b)
		batch_note(x->b, lineno, msg);
	else if (x->a->o.warn)
		x->a->o.warn(x->a->o.ctx, x->path, lineno, msg);
}

static void mark_day(struct agg_acc *x, int y, int m, int d)
{
	uint32_t n = day_number(y, m, d);
	struct agg_batch *b = x->b;
	if (!b)
		mark_day_number(x->a, n);
	else if (b->ndays == 0 || b->days[b->ndays - 1] != n)
		b->days[b->ndays++] = n;
}

static void skip_line(struct agg_acc *x, uint64_t lineno, uint64_t *counter, const char *msg)
{
	(*counter)++;
	x->c->malformed++;
	warn(x, lineno, msg);
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

static void add_abs(uint64_t *sum, int64_t bytes)
{
	uint64_t v = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
	if (__builtin_add_overflow(*sum, v, sum))
		*sum = UINT64_MAX;
}

/* Handles one parsed line; returns 0 or an error that ends the file. */
static int use_event(struct agg_acc *x, uint64_t lineno, const req_event_t *ev)
{
	uint32_t date = STATS_DATE(ev->year, ev->month, ev->day);
	size_t recorded = 0;
	if (ev->ok) {
		if (ev->ntraces > x->cap_tr) {
			free(x->tr);
			x->cap_tr = ev->ntraces * 2;
			x->tr = es_calloc(x->cap_tr, sizeof *x->tr);
		}
		for (size_t i = 0; i < ev->ntraces; i++) {
			const req_trace_t *t = &ev->traces[i];
			struct agg_trace *o = &x->tr[i];
			o->refused = 0;
			if (!netx_is_temporary(t->net.s, t->net.len)) {
				recorded++;
				continue;
			}
			int rc = netx_extend(x->netx, t->net.s, t->net.len, t->start.s, t->start.len,
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
		snprintf(x->msg, sizeof x->msg, "Line %llu: %s (upstream crashes). Ignoring this line",
		         (unsigned long long)lineno, ev->client_why);
		skip_line(x, lineno, &x->c->invalid, x->msg);
		return 0;
	}
	if (ev->country_missing) {
		x->c->missing_country++;
		warn(x, lineno, ev->msg);
	}
	stats_key_t k = make_key(date, ev);
	if (!ev->ok) {
		k.net = "";
		k.sta = "";
		k.loc = "--";
		k.cha = "";
		k.loc_len = 2;
		int rc = stats_add(x->st, &k, 0, 0, ev->client_raw);
		if (rc)
			return rc;
		x->c->failures++;
		mark_day(x, ev->year, ev->month, ev->day);
		return 0;
	}
	for (size_t i = 0; i < ev->ntraces; i++) {
		const req_trace_t *t = &ev->traces[i];
		const struct agg_trace *o = &x->tr[i];
		if (o->refused) {
			x->c->refused_traces++;
			x->refused[tmp_index(t->net.s)]++;
			size_t pos = (size_t)snprintf(x->msg, sizeof x->msg, "Network %s could not be extended at ",
			                              t->net.s);
			snprintf(x->msg + pos, sizeof x->msg - pos, "%.*s. Ignoring this line",
			         (int)t->start.len, t->start.s);
			warn(x, lineno, x->msg);
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
		int rc = stats_add(x->st, &k, t->bytes, 1, ev->client_raw);
		if (rc)
			return rc;
		add_abs(x->abs_bytes, t->bytes);
		x->c->successes++;
	}
	if (recorded)
		mark_day(x, ev->year, ev->month, ev->day);
	return 0;
}

struct agg_pool {
	wpool_t *wp;
	req_parser_t *rp[WPOOL_MAX_THREADS];  /* One per worker. */
	struct agg_acc acc[WPOOL_MAX_THREADS];
	unsigned nthreads;
	int allow_bom;
	size_t max_line;
	size_t nring;
	struct agg_batch *ring;    /* The wpool's slots. */
};

/* Counts and reports a line that gives no event: verdict is a req_parse()
 * verdict other than REQ_OK, or AGG_TOO_LONG (msg unused then).  The one
 * place both the threaded and the direct path account for bad lines. */
static void skip_bad(struct agg_acc *x, uint64_t lineno, int verdict, const char *msg,
                     size_t max_line)
{
	switch (verdict) {
	case AGG_TOO_LONG:
		snprintf(x->msg, sizeof x->msg, "Line %llu is longer than %zu bytes. Ignoring",
		         (unsigned long long)lineno, max_line);
		skip_line(x, lineno, &x->c->json_errors, x->msg);
		break;
	case REQ_JSON:
		skip_line(x, lineno, &x->c->json_errors, msg);
		break;
	case REQ_DATE:
		skip_line(x, lineno, &x->c->bad_dates, msg);
		break;
	default:
		skip_line(x, lineno, &x->c->invalid, msg);
		break;
	}
}

/* One line: parse and use it; 0 or an error that ends the file. */
static int one_line(struct agg_acc *x, req_parser_t *rp, uint64_t lineno, const char *line,
                    size_t len, int too_long, int allow_bom, size_t max_line)
{
	if (too_long) {
		skip_bad(x, lineno, AGG_TOO_LONG, NULL, max_line);
		return 0;
	}
	const req_event_t *ev;
	int v = (int)req_parse(rp, line, len, lineno, allow_bom, &ev);
	if (v == REQ_OK)
		return use_event(x, lineno, ev);
	skip_bad(x, lineno, v, ev->msg, max_line);
	return 0;
}

/* Parses and folds every line of b into its own table (a worker thread). */
static void batch_fold(struct agg_pool *p, struct agg_acc *x, req_parser_t *rp,
                       struct agg_batch *b)
{
	stats_clear(b->st);
	memset(&b->c, 0, sizeof b->c);
	memset(b->refused, 0, sizeof b->refused);
	b->abs_bytes = 0;
	b->ndays = 0;
	b->nnotes = 0;
	b->notes_len = 0;
	x->b = b;
	x->st = b->st;
	x->c = &b->c;
	x->refused = b->refused;
	x->abs_bytes = &b->abs_bytes;
	b->folded = 1;
	for (size_t i = 0; i < b->nlines; i++) {
		int too_long = b->len[i] == UINT32_MAX;
		if (one_line(x, rp, b->lineno0 + i, b->text + b->off[i], too_long ? 0 : b->len[i],
		             too_long, p->allow_bom, p->max_line) != 0) {
			b->folded = 0;
			break;
		}
	}
}

/* Whether merging b into the collection can reach no limit of its table
 * (rows, string bytes, a byte sum's range) at any point. */
static int batch_fits(const agg_t *a, const struct agg_batch *b)
{
	uint64_t abs;
	return stats_count(b->st) <= stats_max_entries(a->st) - stats_count(a->st)
	       && stats_string_bytes(b->st) <= STATS_STRINGS_MAX - stats_string_bytes(a->st)
	       && !__builtin_add_overflow(a->abs_bytes, b->abs_bytes, &abs)
	       && abs <= (uint64_t)INT64_MAX;
}

/* Applies b to the collection in line order; 0 or an error that ends the file. */
static int batch_apply(agg_t *a, struct agg_pool *p, struct agg_batch *b)
{
	if (!b->folded || !batch_fits(a, b)) {
		for (size_t i = 0; i < b->nlines; i++) {
			int too_long = b->len[i] == UINT32_MAX;
			int rc = one_line(&a->d, a->rp, b->lineno0 + i, b->text + b->off[i],
			                  too_long ? 0 : b->len[i], too_long, p->allow_bom, p->max_line);
			if (rc)
				return rc;
		}
		return 0;
	}
	int rc = stats_merge_take(a->st, b->st);
	if (rc)
		return rc;
	a->abs_bytes += b->abs_bytes;
	a->c.malformed += b->c.malformed;
	a->c.json_errors += b->c.json_errors;
	a->c.bad_dates += b->c.bad_dates;
	a->c.invalid += b->c.invalid;
	a->c.refused_traces += b->c.refused_traces;
	a->c.missing_country += b->c.missing_country;
	a->c.successes += b->c.successes;
	a->c.failures += b->c.failures;
	if (b->c.refused_traces)
		for (size_t i = 0; i < AGG_TMP_CODES; i++)
			a->refused[i] += b->refused[i];
	for (size_t i = 0; i < b->ndays; i++)
		mark_day_number(a, b->days[i]);
	for (size_t i = 0; i < b->nnotes; i++)
		warn(&a->d, b->notes[i].lineno, b->notes_text + b->notes[i].msg);
	return 0;
}

static void pool_fold(void *ctx, unsigned worker, size_t slot)
{
	struct agg_pool *p = ctx;
	batch_fold(p, &p->acc[worker], p->rp[worker], &p->ring[slot]);
}

static void pool_free(struct agg_pool *p)
{
	if (!p)
		return;
	wpool_free(p->wp);
	for (unsigned i = 0; i < p->nthreads; i++) {
		req_parser_free(p->rp[i]);
		free(p->acc[i].tr);
	}
	for (size_t i = 0; i < p->nring; i++) {
		struct agg_batch *b = &p->ring[i];
		free(b->text);
		free(b->off);
		free(b->len);
		stats_free(b->st);
		free(b->days);
		free(b->notes);
		free(b->notes_text);
	}
	free(p->ring);
	free(p);
}

/* Starts nthreads parse workers; 0 or -errno (nothing left running). */
static int pool_new(struct agg_pool **out, const agg_t *a, unsigned nthreads, int allow_bom,
                    size_t max_line)
{
	struct agg_pool *p = es_calloc(1, sizeof *p);
	*out = NULL;
	p->nthreads = nthreads;
	p->allow_bom = allow_bom;
	p->max_line = max_line;
	/* Each worker parses one batch while the next waits for it; one more is being filled. */
	p->nring = 2 * (size_t)nthreads + 1;
	p->ring = es_calloc(p->nring, sizeof *p->ring);
	for (size_t i = 0; i < p->nring; i++) {
		struct agg_batch *b = &p->ring[i];
		b->text = es_malloc(AGG_BATCH_TEXT);
		b->off = es_malloc(AGG_BATCH_LINES * sizeof *b->off);
		b->len = es_malloc(AGG_BATCH_LINES * sizeof *b->len);
		b->st = stats_new(a->o.granularity, AGG_BATCH_ROWS);
		b->days = es_malloc(AGG_BATCH_LINES * sizeof *b->days);
	}
	for (unsigned i = 0; i < nthreads; i++) {
		p->rp[i] = req_parser_new();
		p->acc[i].netx = a->o.netx;
		p->acc[i].path = a->d.path;
	}
	int rc = wpool_new(&p->wp, nthreads, p->nring, pool_fold, p);
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

/* Waits for the oldest batch in flight and applies it; 0 or an error that ends the file. */
static int pool_apply_one(agg_t *a, struct agg_pool *p)
{
	return batch_apply(a, p, &p->ring[wpool_collect(p->wp)]);
}

/* Hands the batch being filled (if it has lines) to the workers, first making
 * room in the ring by applying the oldest batch. */
static int pool_submit(agg_t *a, struct agg_pool *p)
{
	if (pool_filling(p)->nlines == 0)
		return 0;
	wpool_submit(p->wp);
	int rc = 0;
	if (wpool_full(p->wp))
		rc = pool_apply_one(a, p);
	struct agg_batch *nb = pool_filling(p);
	nb->nlines = 0;
	nb->text_len = 0;
	return rc;
}

/* Submits the batch being filled and applies everything in flight. */
static int pool_drain(agg_t *a, struct agg_pool *p)
{
	int rc = pool_submit(a, p);
	while (rc == 0 && wpool_pending(p->wp) > 0)
		rc = pool_apply_one(a, p);
	return rc;
}

/* Adds a line to the batch being filled, submitting it first when full.  A
 * line longer than a batch is not added: returns 1 after draining the ring,
 * for the caller to parse it in its own thread. */
static int pool_add(agg_t *a, struct agg_pool *p, const char *line, size_t len, int too_long,
                    uint64_t lineno)
{
	struct agg_batch *b = pool_filling(p);
	if (len > AGG_BATCH_TEXT) {
		int rc = pool_drain(a, p);
		return rc ? rc : 1;
	}
	if (b->nlines == AGG_BATCH_LINES || AGG_BATCH_TEXT - b->text_len < len) {
		int rc = pool_submit(a, p);
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
	reader_opts_t ro = { .max_line = a->o.max_line, .threads = a->o.reader_threads,
	                     .no_digest = digest == NULL };
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
	a->d.path = path;
	while ((rc = reader_next(r, &line, &len, &too_long)) == 1) {
		lineno++;
		a->c.lines++;
		if (!pool && nthreads && reader_bytes_out(r) >= AGG_PAR_MIN) {
			/* Without threads (pthread_create failed) the file is read sequentially. */
			if (pool_new(&pool, a, nthreads, allow_bom, max_line) != 0)
				nthreads = 0;
		}
		urc = 1;
		if (pool)
			urc = pool_add(a, pool, line, len, too_long, lineno);
		if (urc == 1)
			urc = one_line(&a->d, a->rp, lineno, line, len, too_long, allow_bom, max_line);
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
		urc = pool_drain(a, pool);
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
	a->d.path = NULL;
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
