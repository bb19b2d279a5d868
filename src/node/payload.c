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

/* Row i by jsonw's calls one by one: for strings that need escaping or are long. */
static void payload_row_slow(const stats_row_t *r, size_t i, jsonw_t *w)
{
	char hex[HLL_HEX_MAX], d[11];
	payload_date_text(r->date, d);
	jsonw_raw(w, i ? ", {" : "{", i ? 3 : 1);
	put_key(w, "month");
	jsonw_str(w, d, 10);
	next_key(w, "network");
	jsonw_str(w, r->net, r->net_len);
	next_key(w, "station");
	jsonw_str(w, r->sta, r->sta_len);
	next_key(w, "location");
	jsonw_str(w, r->loc, r->loc_len);
	next_key(w, "channel");
	jsonw_str(w, r->cha, r->cha_len);
	next_key(w, "country");
	if (r->country)
		jsonw_str(w, r->country, r->country_len);
	else
		jsonw_raw(w, "null", 4);
	next_key(w, "bytes");
	jsonw_i64(w, r->bytes);
	next_key(w, "nb_requests");
	jsonw_u64(w, r->nb_requests);
	next_key(w, "nb_successful_requests");
	jsonw_u64(w, r->nb_successful);
	next_key(w, "nb_unsuccessful_requests");
	jsonw_u64(w, r->nb_unsuccessful);
	next_key(w, "clients");
	/* hll_to_hex() writes "\x..."; in JSON text the backslash is doubled. */
	size_t hl = hll_to_hex(r->clients, hex);
	jsonw_raw(w, "\"\\\\", 3);
	jsonw_raw(w, hex + 1, hl - 1);
	jsonw_raw(w, "\"}", 2);
}

/* Strings of the fast path: together at most this long, each printable ASCII without " or \. */
#define PAYLOAD_FAST_STR 512
/* The fast path's row: keys, strings, five numbers and the hex of the HLL. */
#define PAYLOAD_ROW_MAX (512 + PAYLOAD_FAST_STR + HLL_HEX_MAX)

static int plain(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\')
			return 0;
	}
	return 1;
}

static char *put_mem(char *o, const char *s, size_t len)
{
	memcpy(o, s, len);
	return o + len;
}

#define PUT_LIT(o, lit) put_mem(o, lit, sizeof lit - 1)

static char *put_quoted(char *o, const char *s, size_t len)
{
	*o++ = '"';
	o = put_mem(o, s, len);
	*o++ = '"';
	return o;
}

static char *put_u64(char *o, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put_mem(o, p, (size_t)(tmp + sizeof tmp - p));
}

/* Appends row i of st (with the separator before it) as payload_row_slow()
 * does, in one jsonw call when its strings need no escaping. */
static void payload_row(const stats_t *st, size_t i, jsonw_t *w)
{
	stats_row_t r;
	stats_get(st, i, &r);
	size_t cl = r.country ? r.country_len : 0;
	if (r.net_len + r.sta_len + r.loc_len + r.cha_len + cl > PAYLOAD_FAST_STR ||
	    !plain(r.net, r.net_len) || !plain(r.sta, r.sta_len) || !plain(r.loc, r.loc_len) ||
	    !plain(r.cha, r.cha_len) || (r.country && !plain(r.country, cl))) {
		payload_row_slow(&r, i, w);
		return;
	}
	char row[PAYLOAD_ROW_MAX], d[11];
	char *o = row;
	if (i)
		o = PUT_LIT(o, ", ");
	o = PUT_LIT(o, "{\"month\": \"");
	payload_date_text(r.date, d);
	o = put_mem(o, d, 10);
	o = PUT_LIT(o, "\", \"network\": ");
	o = put_quoted(o, r.net, r.net_len);
	o = PUT_LIT(o, ", \"station\": ");
	o = put_quoted(o, r.sta, r.sta_len);
	o = PUT_LIT(o, ", \"location\": ");
	o = put_quoted(o, r.loc, r.loc_len);
	o = PUT_LIT(o, ", \"channel\": ");
	o = put_quoted(o, r.cha, r.cha_len);
	o = PUT_LIT(o, ", \"country\": ");
	o = r.country ? put_quoted(o, r.country, cl) : PUT_LIT(o, "null");
	o = PUT_LIT(o, ", \"bytes\": ");
	if (r.bytes < 0)
		*o++ = '-';
	/* Negating through uint64_t is defined for INT64_MIN too. */
	o = put_u64(o, r.bytes < 0 ? 0 - (uint64_t)r.bytes : (uint64_t)r.bytes);
	o = PUT_LIT(o, ", \"nb_requests\": ");
	o = put_u64(o, r.nb_requests);
	o = PUT_LIT(o, ", \"nb_successful_requests\": ");
	o = put_u64(o, r.nb_successful);
	o = PUT_LIT(o, ", \"nb_unsuccessful_requests\": ");
	o = put_u64(o, r.nb_unsuccessful);
	o = PUT_LIT(o, ", \"clients\": \"\\");
	/* hll_to_hex() writes "\x...": after the backslash above, the JSON text's "\\x...". */
	o += hll_to_hex(r.clients, o);
	o = PUT_LIT(o, "\"}");
	jsonw_raw(w, row, (size_t)(o - row));
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
