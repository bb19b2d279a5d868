#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "gz.h"
#include "jsonw.h"
#include "mem.h"
#include "fsx.h"
#include "payload.h"

uint64_t payload_score(uint64_t lines, uint64_t nstats)
{
	uint64_t q = lines / nstats, r = lines % nstats;
	/* Compare r with nstats - r rather than 2r with nstats so nothing overflows. */
	if (r > nstats - r || (r == nstats - r && (q & 1)))
		q++;
	return q;
}

void payload_date_text(uint32_t date, char out[11])
{
	unsigned y = (date / 10000) % 10000, m = (date / 100) % 100, d = date % 100;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

static void put_key(jsonw_t *w, const char *key)
{
	jsonw_raw(w, "\"", 1);
	jsonw_lit(w, key);
	jsonw_raw(w, "\": ", 3);
}

/* A key after the first of its object: Python's ", " separator, then the key. */
static void next_key(jsonw_t *w, const char *key)
{
	jsonw_raw(w, ", ", 2);
	put_key(w, key);
}

/* Text is cut into pieces of about this size when streaming. */
#define PAYLOAD_PIECE ((size_t)1 << 20)

/* Everything before the first row: 0 or jsonw's error. */
static int payload_head(const payload_meta_t *meta, jsonw_t *w)
{
	char when[32];
	struct tm tm;
	time_t t = meta->generated_at;
	if (!gmtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return ES_EINTERNAL;
	jsonw_raw(w, "{", 1);
	put_key(w, "generated_at");
	jsonw_str(w, when, strlen(when));
	next_key(w, "version");
	jsonw_str(w, meta->version, strlen(meta->version));
	next_key(w, "days_coverage");
	jsonw_raw(w, "[", 1);
	for (size_t i = 0; i < meta->ndays; i++) {
		char d[11];
		payload_date_text(meta->days[i], d);
		if (i)
			jsonw_raw(w, ", ", 2);
		jsonw_str(w, d, 10);
	}
	jsonw_raw(w, "]", 1);
	next_key(w, "aggregation_score");
	jsonw_u64(w, meta->aggregation_score);
	next_key(w, "stats");
	jsonw_raw(w, "[", 1);
	return jsonw_error(w);
}

/* A plain string of at most this length is copied as it is (no escaping). */
#define PAYLOAD_FAST_STR 256
/* A row's text gathered before one jsonw call: keys and numbers, five plain
 * strings and the hex of the HLL. */
#define PAYLOAD_ROW_MAX (512 + 5 * (PAYLOAD_FAST_STR + 2) + HLL_HEX_MAX)

struct rowbuf {
	jsonw_t *w;
	char *o;                      /* End of the text gathered in b. */
	char b[PAYLOAD_ROW_MAX];
};

static void put_mem(struct rowbuf *rb, const char *s, size_t len)
{
	memcpy(rb->o, s, len);
	rb->o += len;
}

#define PUT_LIT(rb, lit) put_mem(rb, lit, sizeof lit - 1)

/* Hands the gathered text to jsonw. */
static void rb_flush(struct rowbuf *rb)
{
	jsonw_raw(rb->w, rb->b, (size_t)(rb->o - rb->b));
	rb->o = rb->b;
}

/* s as a JSON string: printable ASCII without " or \ is copied; anything
 * else (and a long string) goes through jsonw_str(). */
static void put_str(struct rowbuf *rb, const char *s, size_t len)
{
	size_t i = 0;
	if (len <= PAYLOAD_FAST_STR)
		while (i < len && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F &&
		       s[i] != '"' && s[i] != '\\')
			i++;
	if (i == len && len <= PAYLOAD_FAST_STR) {
		*rb->o++ = '"';
		put_mem(rb, s, len);
		*rb->o++ = '"';
		return;
	}
	rb_flush(rb);
	jsonw_str(rb->w, s, len);
}

static void put_u64(struct rowbuf *rb, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_mem(rb, p, (size_t)(tmp + sizeof tmp - p));
}

/* Appends row i of st, with the ", " before it after the first row; the
 * text of a row of plain strings reaches jsonw in one call. */
static void payload_row(const stats_t *st, size_t i, jsonw_t *w)
{
	stats_row_t r;
	struct rowbuf rb;
	char d[11];
	stats_get(st, i, &r);
	rb.w = w;
	rb.o = rb.b;
	if (i)
		PUT_LIT(&rb, ", ");
	PUT_LIT(&rb, "{\"month\": \"");
	payload_date_text(r.date, d);
	put_mem(&rb, d, 10);
	PUT_LIT(&rb, "\", \"network\": ");
	put_str(&rb, r.net, r.net_len);
	PUT_LIT(&rb, ", \"station\": ");
	put_str(&rb, r.sta, r.sta_len);
	PUT_LIT(&rb, ", \"location\": ");
	put_str(&rb, r.loc, r.loc_len);
	PUT_LIT(&rb, ", \"channel\": ");
	put_str(&rb, r.cha, r.cha_len);
	PUT_LIT(&rb, ", \"country\": ");
	if (r.country)
		put_str(&rb, r.country, r.country_len);
	else
		PUT_LIT(&rb, "null");
	PUT_LIT(&rb, ", \"bytes\": ");
	if (r.bytes < 0)
		*rb.o++ = '-';
	/* Negating through uint64_t is defined for INT64_MIN too. */
	put_u64(&rb, r.bytes < 0 ? 0 - (uint64_t)r.bytes : (uint64_t)r.bytes);
	PUT_LIT(&rb, ", \"nb_requests\": ");
	put_u64(&rb, r.nb_requests);
	PUT_LIT(&rb, ", \"nb_successful_requests\": ");
	put_u64(&rb, r.nb_successful);
	PUT_LIT(&rb, ", \"nb_unsuccessful_requests\": ");
	put_u64(&rb, r.nb_unsuccessful);
	PUT_LIT(&rb, ", \"clients\": \"\\");
	/* hll_to_hex() writes "\x..."; after the backslash above, the JSON text's "\\x...". */
	rb.o += hll_to_hex(r.clients, rb.o);
	PUT_LIT(&rb, "\"}");
	rb_flush(&rb);
}

static void payload_tail(jsonw_t *w)
{
	jsonw_raw(w, "]}", 2);
}

int payload_json(const stats_t *st, const payload_meta_t *meta, char **json, size_t *len)
{
	*json = NULL;
	*len = 0;
	size_t n = stats_count(st);
	if (n == 0)
		return ES_ENOSTATS;
	jsonw_t w;
	jsonw_init(&w, PAYLOAD_MAX_TEXT);
	int rc = payload_head(meta, &w);
	for (size_t i = 0; i < n && !jsonw_error(&w); i++)
		payload_row(st, i, &w);
	payload_tail(&w);
	if (rc == 0)
		rc = jsonw_error(&w);
	if (rc) {
		jsonw_fini(&w);
		return rc;
	}
	*json = jsonw_take(&w, len);
	return 0;
}

/* Python's gzip names the member after the file without ".gz"; malloc()ed. */
static char *member_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base);
	return es_strndup(base, blen >= 3 && strcmp(base + blen - 3, ".gz") == 0 ? blen - 3 : blen);
}

/* The streamed text's pieces: piece k is rows cut[k]..cut[k+1]-1, the first
 * with the head, the last with the tail. */
struct payload_cut {
	const stats_t *st;
	const payload_meta_t *meta;
	size_t *cut;
	size_t npieces;
};

static int payload_make(void *ctx, size_t piece, jsonw_t *w)
{
	const struct payload_cut *c = ctx;
	if (piece == 0) {
		int rc = payload_head(c->meta, w);
		if (rc)
			return rc;
	}
	for (size_t i = c->cut[piece]; i < c->cut[piece + 1] && !jsonw_error(w); i++)
		payload_row(c->st, i, w);
	if (piece + 1 == c->npieces)
		payload_tail(w);
	return jsonw_error(w);
}

/* About the text length of row r: what decides where pieces are cut. */
static size_t row_estimate(const stats_row_t *r)
{
	return 240 + r->net_len + r->sta_len + r->loc_len + r->cha_len + r->country_len +
	       2 * hll_size(r->clients);
}

/* Cuts the rows into pieces of about piece bytes of text (malloc()ed in c->cut). */
static void payload_cuts(struct payload_cut *c, size_t piece)
{
	size_t n = stats_count(c->st), cap = 16, acc = 0;
	c->cut = es_malloc(cap * sizeof *c->cut);
	c->cut[0] = 0;
	c->npieces = 0;
	for (size_t i = 0; i < n; i++) {
		stats_row_t r;
		stats_get(c->st, i, &r);
		acc += row_estimate(&r);
		if (acc >= piece || i + 1 == n) {
			if (c->npieces + 2 > cap)
				c->cut = es_realloc(c->cut, (cap *= 2) * sizeof *c->cut);
			c->cut[++c->npieces] = i + 1;
			acc = 0;
		}
	}
}

struct gz_job {
	const char *name;
	const char *json;          /* Whole text, or NULL to stream st/meta. */
	size_t len;
	const stats_t *st;
	const payload_meta_t *meta;
	unsigned threads;
	size_t piece;
};

static int gz_fill(int fd, void *ctx)
{
	const struct gz_job *j = ctx;
	/* Level 6, not upstream's 9: on a 65 MB payload level 9 took 3.8 s against
	 * 0.7 s for a file only 10% smaller, and the JSON inside is what must match. */
	gz_opts_t o = { .level = PAYLOAD_GZ_LEVEL, .name = j->name, .mtime = (uint32_t)time(NULL),
	                .os_unknown = 1, .threads = j->threads };
	gz_t *g;
	int rc = gz_new(&g, &o, gz_fd_sink, &fd);
	if (rc)
		return rc;
	if (j->json) {
		rc = gz_write(g, j->json, j->len);
	} else {
		struct payload_cut c = { j->st, j->meta, NULL, 0 };
		payload_cuts(&c, j->piece);
		rc = gz_write_made(g, c.npieces, payload_make, &c, PAYLOAD_MAX_TEXT);
		/* The pieces in flight read c: finish before freeing it. */
		if (rc == 0)
			rc = gz_finish(g);
		gz_free(g);
		free(c.cut);
		return rc;
	}
	if (rc == 0)
		rc = gz_finish(g);
	gz_free(g);
	return rc;
}

int payload_write_gz(const char *path, const char *json, size_t len)
{
	char *name = member_name(path);
	struct gz_job job = { name, json, len, NULL, NULL, 0, 0 };
	int rc = fsx_replace(path, 0644, gz_fill, &job);
	free(name);
	return rc;
}

int payload_write_gz_stats(const char *path, const stats_t *st, const payload_meta_t *meta,
                           unsigned threads)
{
	return payload_write_gz_pieces(path, st, meta, threads, PAYLOAD_PIECE);
}

int payload_write_gz_pieces(const char *path, const stats_t *st, const payload_meta_t *meta,
                            unsigned threads, size_t piece)
{
	if (stats_count(st) == 0)
		return ES_ENOSTATS;
	char *name = member_name(path);
	struct gz_job job = { name, NULL, 0, st, meta, threads, piece ? piece : PAYLOAD_PIECE };
	int rc = fsx_replace(path, 0644, gz_fill, &job);
	free(name);
	return rc;
}
