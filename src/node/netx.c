#include "config.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cal.h"
#include "curlx.h"
#include "error.h"
#include "mem.h"
#include "fsx.h"
#include "log.h"
#include "netx.h"

/* Hard limits on what is read: a registry file and one web service answer. */
#define NETX_FILE_MAX (64l << 20)
#define NETX_ANSWER_MAX (1l << 20)
#define NETX_CACHE_MAX (1l << 20)
/* Deployments kept per code; the busiest real codes have a handful. */
#define NETX_DEPS_MAX 1000
/* After the service failed for a code, it is not asked again for this long. */
#define NETX_RETRY_S 60
/* Temporary codes: first character [0-9XYZ] (13), second [0-9A-Z] (36). */
#define NETX_SLOTS (13 * 36)
#define NETX_OPEN_END INT32_MAX

enum netx_source { NETX_NONE = 0, NETX_FROM_FILE, NETX_FROM_SERVICE };

struct netx_dep {
	int32_t start, end;  /* Dates as YYYYMMDD numbers; end NETX_OPEN_END when null. */
	char year[4];        /* First four characters of start_date, as written. */
};

struct netx_entry {
	enum netx_source source;
	int ndeps;               /* 0 with a source: the code is unknown (a definite answer). */
	struct netx_dep *deps;
	time_t fetched;          /* When the service gave this answer. */
	time_t retry_after;      /* The service failed; do not ask before this (monotonic s). */
	int cache_checked;       /* The disk cache was looked at once already. */
};

struct netx {
	pthread_mutex_t mu;
	char *file, *url, *cache_dir;
	long ttl, timeout;
	const struct es_log *log;
	struct netx_entry slots[NETX_SLOTS];
};

int netx_is_temporary(const char *code, size_t len)
{
	if (len != 2)
		return 0;
	char a = code[0], b = code[1];
	return ((a >= '0' && a <= '9') || a == 'X' || a == 'Y' || a == 'Z') &&
	       ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z'));
}

/* Slot of a temporary code (netx_is_temporary() must hold). */
static int netx_slot(const char *code)
{
	int a = code[0] <= '9' ? code[0] - '0' : 10 + code[0] - 'X';
	int b = code[1] <= '9' ? code[1] - '0' : 10 + code[1] - 'A';
	return a * 36 + b;
}

static int netx_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Parses s as Python's strptime(s, "%Y-%m-%d") does: four-digit year, month
 * 1-12 in one or two digits, day in one or two digits or a space and a digit,
 * the regex alternatives tried in Python's order, nothing left over, and the
 * date must exist (year 0 does not).  Gives YYYYMMDD.
 */
static int netx_parse_ymd(const char *s, size_t n, int32_t *out)
{
	size_t i = 0;
	if (n < 4 || !netx_digit(s[0]) || !netx_digit(s[1]) || !netx_digit(s[2]) || !netx_digit(s[3]))
		return ES_EREFUSED;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	i = 4;
	if (i >= n || s[i] != '-')
		return ES_EREFUSED;
	i++;
	int m;
	if (i + 1 < n && s[i] == '1' && s[i + 1] >= '0' && s[i + 1] <= '2') {
		m = 10 + s[i + 1] - '0';
		i += 2;
	} else if (i + 1 < n && s[i] == '0' && s[i + 1] >= '1' && s[i + 1] <= '9') {
		m = s[i + 1] - '0';
		i += 2;
	} else if (i < n && s[i] >= '1' && s[i] <= '9') {
		m = s[i] - '0';
		i++;
	} else {
		return ES_EREFUSED;
	}
	if (i >= n || s[i] != '-')
		return ES_EREFUSED;
	i++;
	int d;
	if (i + 1 < n && s[i] == '3' && (s[i + 1] == '0' || s[i + 1] == '1')) {
		d = 30 + s[i + 1] - '0';
		i += 2;
	} else if (i + 1 < n && (s[i] == '1' || s[i] == '2') && netx_digit(s[i + 1])) {
		d = (s[i] - '0') * 10 + s[i + 1] - '0';
		i += 2;
	} else if (i + 1 < n && s[i] == '0' && s[i + 1] >= '1' && s[i + 1] <= '9') {
		d = s[i + 1] - '0';
		i += 2;
	} else if (i < n && s[i] >= '1' && s[i] <= '9') {
		d = s[i] - '0';
		i++;
	} else if (i + 1 < n && s[i] == ' ' && s[i + 1] >= '1' && s[i + 1] <= '9') {
		d = s[i + 1] - '0';
		i += 2;
	} else {
		return ES_EREFUSED;
	}
	if (i != n || y == 0 || d > cal_days_in_month(y, m))
		return ES_EREFUSED;
	*out = y * 10000 + m * 100 + d;
	return 0;
}

/* The date of a trace: a bare four-digit year (Jan 1) or %Y-%m-%d. */
static int netx_parse_trace_date(const char *s, size_t n, int32_t *out)
{
	if (n > 10)
		n = 10;
	if (n == 4 && netx_digit(s[0]) && netx_digit(s[1]) && netx_digit(s[2]) && netx_digit(s[3])) {
		int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		if (y == 0)
			return ES_EREFUSED;
		*out = y * 10000 + 101;
		return 0;
	}
	return netx_parse_ymd(s, n, out);
}

static void netx_entry_clear(struct netx_entry *e)
{
	free(e->deps);
	memset(e, 0, sizeof *e);
}

/*
 * Reads one deployment object of the FDSN shape.  Returns 1 and fills *dep
 * (with *code pointing into the object) for a temporary code, 0 for any other
 * code, ES_EFORMAT for a malformed object.
 */
static int netx_parse_dep(const cJSON *o, const char **code, struct netx_dep *dep, const char **why)
{
	if (!cJSON_IsObject(o))
		return *why = "a deployment is not an object", ES_EFORMAT;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "fdsn_code");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "start_date");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "end_date");
	if (!cJSON_IsString(c))
		return *why = "fdsn_code missing or not a string", ES_EFORMAT;
	if (!cJSON_IsString(s))
		return *why = "start_date missing or not a string", ES_EFORMAT;
	if (e && !cJSON_IsNull(e) && !cJSON_IsString(e))
		return *why = "end_date is neither a string nor null", ES_EFORMAT;
	if (!netx_is_temporary(c->valuestring, strlen(c->valuestring)))
		return 0;
	if (netx_parse_ymd(s->valuestring, strlen(s->valuestring), &dep->start) < 0)
		return *why = "start_date is not a YYYY-MM-DD date", ES_EFORMAT;
	dep->end = NETX_OPEN_END;
	if (cJSON_IsString(e) && netx_parse_ymd(e->valuestring, strlen(e->valuestring), &dep->end) < 0)
		return *why = "end_date is not a YYYY-MM-DD date", ES_EFORMAT;
	memcpy(dep->year, s->valuestring, 4);
	*code = c->valuestring;
	return 1;
}

static void netx_entry_add(struct netx_entry *e, const struct netx_dep *dep)
{
	e->deps = es_reallocarray(e->deps, (size_t)e->ndeps + 1, sizeof *dep);
	e->deps[e->ndeps++] = *dep;
}

/* Reads at most limit bytes of a file into a NUL-terminated buffer. */
static int netx_slurp(const char *path, long limit, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? -EISDIR : -errno;
		close(fd);
		return e;
	}
	size_t cap = 65536, n = 0;
	char *buf = es_malloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= (size_t)limit) {
				free(buf);
				close(fd);
				return ES_ELIMIT;
			}
			cap *= 2;
			buf = es_realloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

static int netx_load_file(netx_t *nx, const char *path)
{
	char *text;
	size_t len;
	int rc = netx_slurp(path, NETX_FILE_MAX, &text, &len);
	if (rc < 0) {
		es_log_msg(nx->log, LOG_ERR, "network registry %s: %s", path, es_strerror(rc));
		return rc;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	const char *why = NULL;
	const cJSON *list = root ? cJSON_GetObjectItemCaseSensitive(root, "networks") : NULL;
	if (!root)
		why = "not valid JSON";
	else if (!cJSON_IsArray(list))
		why = "no \"networks\" array";
	int i = 0;
	const cJSON *o;
	if (!why) {
		cJSON_ArrayForEach(o, list) {
			const char *code;
			struct netx_dep dep;
			i++;
			rc = netx_parse_dep(o, &code, &dep, &why);
			if (rc < 0)
				break;
			if (rc == 0)
				continue;
			struct netx_entry *e = &nx->slots[netx_slot(code)];
			if (e->ndeps >= NETX_DEPS_MAX) {
				why = "too many deployments of one code";
				break;
			}
			e->source = NETX_FROM_FILE;
			netx_entry_add(e, &dep);
		}
	}
	cJSON_Delete(root);
	if (why) {
		if (i > 0)
			es_log_msg(nx->log, LOG_ERR, "network registry %s: deployment %d: %s", path, i, why);
		else
			es_log_msg(nx->log, LOG_ERR, "network registry %s: %s", path, why);
		return ES_EFORMAT;
	}
	return 0;
}

/*
 * Fills e from a registry answer for code: the deployments of that code in
 * the order given; an empty list is a definite "unknown code".
 */
static int netx_entry_from_json(struct netx_entry *e, const char *code, const cJSON *root)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "networks");
	if (!cJSON_IsArray(list))
		return ES_EFORMAT;
	struct netx_entry n = { .source = NETX_FROM_SERVICE };
	const cJSON *o;
	cJSON_ArrayForEach(o, list) {
		const char *c, *why;
		struct netx_dep dep;
		int rc = netx_parse_dep(o, &c, &dep, &why);
		if (rc < 0 || n.ndeps >= NETX_DEPS_MAX) {
			free(n.deps);
			return ES_EFORMAT;
		}
		if (rc == 1 && strcmp(c, code) == 0)
			netx_entry_add(&n, &dep);
	}
	netx_entry_clear(e);
	*e = n;
	return 0;
}

static void netx_cache_path(const netx_t *nx, const char *code, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%.2s.json", nx->cache_dir, code);
}

/* Loads the cached answer for code into e; -ENOENT when there is none usable. */
static int netx_cache_load(netx_t *nx, const char *code, struct netx_entry *e)
{
	char path[PATH_MAX];
	netx_cache_path(nx, code, path, sizeof path);
	char *text;
	size_t len;
	int rc = netx_slurp(path, NETX_CACHE_MAX, &text, &len);
	if (rc < 0)
		return rc;
	cJSON *root = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *f = root ? cJSON_GetObjectItemCaseSensitive(root, "fetched") : NULL;
	struct netx_entry n = { 0 };
	rc = -ENOENT;
	/* A damaged cache file is as good as none: the service is asked again. */
	if (cJSON_IsNumber(f) && netx_entry_from_json(&n, code, root) == 0) {
		n.fetched = (time_t)f->valuedouble;
		netx_entry_clear(e);
		*e = n;
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

/* Writes e as code's cache file: temporary file, fsync, rename, fsync of the directory. */
static int netx_cache_store(netx_t *nx, const char *code, const struct netx_entry *e)
{
	char path[PATH_MAX];
	netx_cache_path(nx, code, path, sizeof path);
	size_t cap = 128 + (size_t)e->ndeps * 96, n = 0;
	char *buf = es_malloc(cap);
	n += (size_t)snprintf(buf + n, cap - n, "{\"fdsn_code\": \"%.2s\", \"fetched\": %lld, \"networks\": [",
	                      code, (long long)e->fetched);
	for (int i = 0; i < e->ndeps; i++) {
		const struct netx_dep *d = &e->deps[i];
		n += (size_t)snprintf(buf + n, cap - n, "%s{\"fdsn_code\": \"%.2s\", \"start_date\": \"%.4s-%02d-%02d\", ",
		                      i ? ", " : "", code, d->year, d->start / 100 % 100, d->start % 100);
		if (d->end == NETX_OPEN_END)
			n += (size_t)snprintf(buf + n, cap - n, "\"end_date\": null}");
		else
			n += (size_t)snprintf(buf + n, cap - n, "\"end_date\": \"%04d-%02d-%02d\"}",
			                      d->end / 10000, d->end / 100 % 100, d->end % 100);
	}
	n += (size_t)snprintf(buf + n, cap - n, "]}\n");

	int rc = fsx_replace_buf(path, 0644, buf, n);
	free(buf);
	return rc;
}

struct netx_body {
	char *data;
	size_t len;
	int too_big;
};

static size_t netx_body_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct netx_body *b = ctx;
	size_t n = size * nmemb;
	if (b->len + n > (size_t)NETX_ANSWER_MAX) {
		b->too_big = 1;
		return 0;
	}
	b->data = es_realloc(b->data, b->len + n + 1);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

/*
 * Asks the registry service about code.  Returns 0 with e filled (possibly
 * with no deployment: unknown code), or ES_EUNAVAIL for anything that is not
 * a definite answer.
 */
static int netx_query(netx_t *nx, const char *code, struct netx_entry *e)
{
	char url[4096];
	int len = snprintf(url, sizeof url, "%s%cfdsn_code=%.2s", nx->url,
	                   strchr(nx->url, '?') ? '&' : '?', code);
	if (len < 0 || (size_t)len >= sizeof url)
		return ES_EUNAVAIL;
	CURL *c = curlx_easy_new();
	if (!c)
		return ES_EUNAVAIL;
	struct netx_body body = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, netx_body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, nx->timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, nx->timeout < 10 ? nx->timeout : 10L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);

	int rc = ES_EUNAVAIL;
	if (cc != CURLE_OK) {
		es_log_msg(nx->log, LOG_WARNING, "network registry %s: %s", url,
		        body.too_big ? "answer too large" : errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else if (status == 204) {
		netx_entry_clear(e);
		e->source = NETX_FROM_SERVICE;
		rc = 0;
	} else if (status == 200) {
		cJSON *root = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
		if (root && netx_entry_from_json(e, code, root) == 0)
			rc = 0;
		else
			es_log_msg(nx->log, LOG_WARNING, "network registry %s: malformed answer", url);
		cJSON_Delete(root);
	} else {
		es_log_msg(nx->log, LOG_WARNING, "network registry %s: HTTP status %ld", url, status);
	}
	free(body.data);
	return rc;
}

/* First deployment in list order whose [start, end] holds date. */
static int netx_match(const struct netx_entry *e, const char *code, int32_t date, char out[NETX_CODE_MAX])
{
	for (int i = 0; i < e->ndeps; i++) {
		const struct netx_dep *d = &e->deps[i];
		if (d->start <= date && date <= d->end) {
			out[0] = code[0];
			out[1] = code[1];
			memcpy(out + 2, d->year, 4);
			out[6] = 0;
			return 0;
		}
	}
	return ES_EREFUSED;
}

/* Seconds of the monotonic clock: the retry pause must not stretch to a day
 * when the wall clock is set back. */
static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (time_t)ts.tv_sec;
}

/* Brings the entry of code up to date as far as the sources allow (mutex held). */
static int netx_resolve(netx_t *nx, const char *code, struct netx_entry *e)
{
	time_t now = time(NULL), mono = mono_now();
	if (e->source == NETX_FROM_FILE)
		return 0;
	if (e->source == NETX_NONE && nx->cache_dir && !e->cache_checked) {
		netx_cache_load(nx, code, e);
		e->cache_checked = 1;
	}
	if (e->source == NETX_FROM_SERVICE && now - e->fetched < nx->ttl)
		return 0;
	if (!nx->url) {
		/* Without a service, what the file and cache say is all there is. */
		if (e->source != NETX_NONE)
			return 0;
		return nx->file ? ES_EREFUSED : ES_EUNAVAIL;
	}
	if (mono >= e->retry_after) {
		struct netx_entry fresh = { 0 };
		if (netx_query(nx, code, &fresh) == 0) {
			fresh.fetched = now;
			netx_entry_clear(e);
			*e = fresh;
			if (nx->cache_dir) {
				int rc = netx_cache_store(nx, code, e);
				if (rc < 0)
					es_log_msg(nx->log, LOG_WARNING, "network cache %s: %s", nx->cache_dir,
					        es_strerror(rc));
			}
			return 0;
		}
		netx_entry_clear(&fresh);
		e->retry_after = mono + NETX_RETRY_S;
	}
	/* Unreachable: an expired answer is better than none. */
	return e->source != NETX_NONE ? 0 : ES_EUNAVAIL;
}

int netx_extend(netx_t *nx, const char *code, size_t len, const char *date, size_t date_len,
                char out[NETX_CODE_MAX])
{
	if (!netx_is_temporary(code, len)) {
		if (len >= NETX_CODE_MAX)
			return ES_ELIMIT;
		memcpy(out, code, len);
		out[len] = 0;
		return 0;
	}
	int32_t d;
	if (netx_parse_trace_date(date, date_len, &d) < 0)
		return ES_EREFUSED;
	char c[3] = { code[0], code[1], 0 };
	pthread_mutex_lock(&nx->mu);
	struct netx_entry *e = &nx->slots[netx_slot(c)];
	int rc = netx_resolve(nx, c, e);
	if (rc == 0)
		rc = netx_match(e, c, d, out);
	pthread_mutex_unlock(&nx->mu);
	return rc;
}

int netx_init(netx_t **out, const netx_opts_t *opts)
{
	*out = NULL;
	netx_t *nx = es_calloc(1, sizeof *nx);
	pthread_mutex_init(&nx->mu, NULL);
	nx->ttl = opts->cache_ttl > 0 ? opts->cache_ttl : 86400;
	nx->timeout = opts->timeout > 0 ? opts->timeout : 30;
	nx->log = opts->log;
	nx->file = opts->file ? es_strdup(opts->file) : NULL;
	nx->url = opts->url ? es_strdup(opts->url) : NULL;
	nx->cache_dir = opts->cache_dir ? es_strdup(opts->cache_dir) : NULL;
	if (nx->cache_dir && mkdir(nx->cache_dir, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;
		es_log_msg(nx->log, LOG_WARNING, "network cache %s: %s", nx->cache_dir, es_strerror(rc));
		netx_fini(nx);
		return rc;
	}
	if (nx->file) {
		int rc = netx_load_file(nx, nx->file);
		if (rc < 0) {
			netx_fini(nx);
			return rc;
		}
	}
	*out = nx;
	return 0;
}

void netx_fini(netx_t *nx)
{
	if (!nx)
		return;
	for (int i = 0; i < NETX_SLOTS; i++)
		free(nx->slots[i].deps);
	pthread_mutex_destroy(&nx->mu);
	free(nx->file);
	free(nx->url);
	free(nx->cache_dir);
	free(nx);
}
