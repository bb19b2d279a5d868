#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <unistd.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eas.h"
#include "error.h"
#include "mem.h"
#include "submit.h"
#include "yamlx.h"

#include "settings.h"

void ingest_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof line, "eidastats-ingestd: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	fputs(line, stderr);
}

void ingest_config_init(struct ingest_config *c)
{
	memset(c, 0, sizeof *c);
	c->listen = es_strdup(INGEST_DEFAULT_LISTEN);
	c->prefix = es_strdup(INGEST_DEFAULT_PREFIX);
	c->workers = INGEST_DEFAULT_WORKERS;
	c->max_body = SUBMIT_DEFAULT_MAX_BODY;
	c->max_decompressed = SUBMIT_DEFAULT_MAX_DECOMPRESSED;
	c->max_stats = SUBMIT_DEFAULT_MAX_STATS;
	c->max_in_flight = INGEST_DEFAULT_MAX_IN_FLIGHT;
	c->timeout = INGEST_DEFAULT_TIMEOUT;
	c->max_connections = INGEST_DEFAULT_MAX_CONNECTIONS;
	c->access_log = true;
	const char *rt = getenv("RUNTIME_DIRECTORY");
	/* systemd may list several directories separated by ':'; the first is ours. */
	c->runtime_dir = rt && rt[0] == '/' ? es_strndup(rt, strcspn(rt, ":"))
	                                    : es_strdup(INGEST_DEFAULT_RUNTIME_DIR);
	c->max_token = EAS_MAX_TOKEN_DEFAULT;
	c->query_timeout = INGEST_DEFAULT_QUERY_TIMEOUT;
	peer_list_parse(&c->metrics_allow, PEER_LOOPBACK, NULL, 0);
	c->header_timeout = INGEST_DEFAULT_HEADER_TIMEOUT;
	c->max_connections_per_ip = INGEST_DEFAULT_MAX_CONNECTIONS_PER_IP;
	c->max_queries_per_client = INGEST_DEFAULT_MAX_QUERIES_PER_CLIENT;
	c->cache_max_age = INGEST_DEFAULT_CACHE_MAX_AGE;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void ingest_config_fini(struct ingest_config *c)
{
	free(c->db);
	free(c->read_db);
	free(c->listen);
	free(c->prefix);
	free(c->eas_keyring);
	free(c->runtime_dir);
	free(c->report_dir);
	free(c->trusted_proxies);
	eas_verifier_free(c->eas);
	if (c->eas_home)
		nftw(c->eas_home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(c->eas_home);
	memset(c, 0, sizeof *c);
}

int ingest_config_open_keyring(struct ingest_config *c, unsigned generation, char *err,
                               size_t errlen)
{
	char home[4096], why[512];
	int rc;

	if (!c->eas_keyring)
		return 0;
	if (mkdir(c->runtime_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "runtime_dir %s: %s", c->runtime_dir, strerror(errno));
		return rc;
	}
	snprintf(home, sizeof home, "%s/gnupg-%ld-%u", c->runtime_dir, (long)getpid(), generation);
	/* A home left by an earlier process with the same pid would keep its keys. */
	nftw(home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	c->eas_home = es_strdup(home);
	rc = eas_verifier_new(&c->eas, c->eas_keyring, home, why, sizeof why);
	if (rc < 0) {
		snprintf(err, errlen, "eas_keyring %s: %s", c->eas_keyring, why);
		return rc;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? es_strdup(s) : NULL;
}

void ingest_config_copy(struct ingest_config *dst, const struct ingest_config *src)
{
	*dst = *src;
	dst->db = dup_or_null(src->db);
	dst->read_db = dup_or_null(src->read_db);
	dst->listen = dup_or_null(src->listen);
	dst->prefix = dup_or_null(src->prefix);
	dst->eas_keyring = dup_or_null(src->eas_keyring);
	dst->runtime_dir = dup_or_null(src->runtime_dir);
	dst->report_dir = dup_or_null(src->report_dir);
	dst->trusted_proxies = dup_or_null(src->trusted_proxies);
	dst->eas = NULL;
	dst->eas_home = NULL;
}

int ingest_parse_size(const char *text, size_t *out)
{
	uint64_t v;
	int rc = yamlx_parse_size(text, INGEST_MAX_SIZE, &v);

	if (rc == 0)
		*out = (size_t)v;
	return rc;
}

static int parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!text || text[0] < '0' || text[0] > '9')
		return ES_EFORMAT;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return ES_EFORMAT;
	*out = (unsigned)v;
	return 0;
}

enum key_id {
	KEY_DB, KEY_READ_DB, KEY_LISTEN, KEY_PREFIX, KEY_WORKERS, KEY_MAX_BODY,
	KEY_MAX_DECOMPRESSED, KEY_MAX_STATS, KEY_MAX_IN_FLIGHT, KEY_TIMEOUT, KEY_MAX_CONNECTIONS,
	KEY_ACCESS_LOG, KEY_EAS_KEYRING, KEY_RUNTIME_DIR, KEY_MAX_TOKEN, KEY_QUERY_TIMEOUT,
	KEY_REPORT_DIR, KEY_METRICS_ALLOW,
	KEY_HEADER_TIMEOUT, KEY_MAX_CONNECTIONS_PER_IP, KEY_MAX_QUERIES_PER_CLIENT, KEY_TRUSTED_PROXIES,
	KEY_CACHE_MAX_AGE, KEY_COUNT
};

static const struct yamlx_key keys[KEY_COUNT] = {
	[KEY_DB] = { "db", 0 },
	[KEY_READ_DB] = { "read_db", 0 },
	[KEY_LISTEN] = { "listen", 0 },
	[KEY_PREFIX] = { "prefix", 0 },
	[KEY_WORKERS] = { "workers", 0 },
	[KEY_MAX_BODY] = { "max_body", 0 },
	[KEY_MAX_DECOMPRESSED] = { "max_decompressed", 0 },
	[KEY_MAX_STATS] = { "max_stats", 0 },
	[KEY_MAX_IN_FLIGHT] = { "max_in_flight", 0 },
	[KEY_TIMEOUT] = { "timeout", 0 },
	[KEY_MAX_CONNECTIONS] = { "max_connections", 0 },
	[KEY_ACCESS_LOG] = { "access_log", 0 },
	[KEY_EAS_KEYRING] = { "eas_keyring", 0 },
	[KEY_RUNTIME_DIR] = { "runtime_dir", 0 },
	[KEY_MAX_TOKEN] = { "max_token", 0 },
	[KEY_QUERY_TIMEOUT] = { "query_timeout", 0 },
	[KEY_REPORT_DIR] = { "report_dir", 0 },
	[KEY_METRICS_ALLOW] = { "metrics_allow", 0 },
	[KEY_HEADER_TIMEOUT] = { "header_timeout", 0 },
	[KEY_MAX_CONNECTIONS_PER_IP] = { "max_connections_per_ip", 0 },
	[KEY_MAX_QUERIES_PER_CLIENT] = { "max_queries_per_client", 0 },
	[KEY_TRUSTED_PROXIES] = { "trusted_proxies", 0 },
	[KEY_CACHE_MAX_AGE] = { "cache_max_age", 0 },
};

/* Sets key k; the reason (without the key) in why on ES_ECONFIG. */
static int set_key(struct ingest_config *c, size_t k, const char *value, char *why, size_t wlen)
{
	size_t size = 0;
	long secs;
	int rc;

	switch ((enum key_id)k) {
	case KEY_DB:
	case KEY_READ_DB:
		if (value[0] == '\0') {
			snprintf(why, wlen, "empty");
			return ES_ECONFIG;
		}
		free(k == KEY_DB ? c->db : c->read_db);
		*(k == KEY_DB ? &c->db : &c->read_db) = es_strdup(value);
		return 0;
	case KEY_LISTEN:
		if (value[0] == '\0' || !strrchr(value, ':')) {
			snprintf(why, wlen, "not ADDR:PORT");
			return ES_ECONFIG;
		}
		free(c->listen);
		c->listen = es_strdup(value);
		return 0;
	case KEY_PREFIX: {
		size_t n = strlen(value);
		while (n > 0 && value[n - 1] == '/')
			n--;
		if (value[0] != '/' && n > 0) {
			snprintf(why, wlen, "must start with '/'");
			return ES_ECONFIG;
		}
		free(c->prefix);
		c->prefix = es_strndup(value, n);
		return 0;
	}
	case KEY_WORKERS:
		if (parse_uint(value, 1, INGEST_MAX_WORKERS, &c->workers) < 0) {
			snprintf(why, wlen, "not a number from 1 to %d", INGEST_MAX_WORKERS);
			return ES_ECONFIG;
		}
		return 0;
	case KEY_TIMEOUT:
	case KEY_QUERY_TIMEOUT:
	case KEY_HEADER_TIMEOUT:
		rc = yamlx_parse_duration(value, INGEST_MAX_TIMEOUT, &secs);
		if (rc < 0 || secs == 0) {
			snprintf(why, wlen, "not a number of seconds from 1 to %d (or a duration such as "
			         "10m, at most 1d)", INGEST_MAX_TIMEOUT);
			return ES_ECONFIG;
		}
		*(k == KEY_TIMEOUT ? &c->timeout : k == KEY_HEADER_TIMEOUT ? &c->header_timeout
		  : &c->query_timeout) = (unsigned)secs;
		return 0;
	case KEY_CACHE_MAX_AGE:
		if (yamlx_parse_duration(value, INGEST_MAX_TIMEOUT * 365L, &secs) < 0) {
			snprintf(why, wlen, "not a number of seconds from 0 to %ld (or a duration such as "
			         "1h)", INGEST_MAX_TIMEOUT * 365L);
			return ES_ECONFIG;
		}
		c->cache_max_age = (unsigned)secs;
		return 0;
	case KEY_MAX_CONNECTIONS_PER_IP:
		if (parse_uint(value, 0, 65536, &c->max_connections_per_ip) < 0) {
			snprintf(why, wlen, "not a number from 0 (no limit) to 65536");
			return ES_ECONFIG;
		}
		return 0;
	case KEY_MAX_QUERIES_PER_CLIENT:
		if (parse_uint(value, 1, INGEST_MAX_QUERIES_PER_CLIENT, &c->max_queries_per_client) < 0) {
			snprintf(why, wlen, "not a number from 1 to %d", INGEST_MAX_QUERIES_PER_CLIENT);
			return ES_ECONFIG;
		}
		return 0;
	case KEY_TRUSTED_PROXIES: {
		struct peer_list l;
		if (peer_list_parse(&l, value, why, wlen) < 0)
			return ES_ECONFIG;
		c->proxies = l;
		free(c->trusted_proxies);
		c->trusted_proxies = es_strdup(value);
		return 0;
	}
	case KEY_EAS_KEYRING:
	case KEY_RUNTIME_DIR:
		if (value[0] != '/' && !(k == KEY_EAS_KEYRING && value[0] == '\0')) {
			snprintf(why, wlen, "not an absolute directory path");
			return ES_ECONFIG;
		}
		free(k == KEY_EAS_KEYRING ? c->eas_keyring : c->runtime_dir);
		/* An empty eas_keyring turns restricted queries off. */
		*(k == KEY_EAS_KEYRING ? &c->eas_keyring : &c->runtime_dir) =
			value[0] ? es_strdup(value) : NULL;
		return 0;
	case KEY_MAX_CONNECTIONS:
		if (parse_uint(value, 1, 65536, &c->max_connections) < 0) {
			snprintf(why, wlen, "not a number from 1 to 65536");
			return ES_ECONFIG;
		}
		return 0;
	case KEY_MAX_BODY:
	case KEY_MAX_DECOMPRESSED:
	case KEY_MAX_IN_FLIGHT:
	case KEY_MAX_TOKEN:
		rc = ingest_parse_size(value, &size);
		if (rc == ES_ELIMIT) {
			snprintf(why, wlen, "more than 1TiB");
			return ES_ECONFIG;
		}
		if (rc < 0 || size == 0) {
			snprintf(why, wlen, "not a size such as 64MiB");
			return ES_ECONFIG;
		}
		*(k == KEY_MAX_BODY ? &c->max_body
		  : k == KEY_MAX_DECOMPRESSED ? &c->max_decompressed
		  : k == KEY_MAX_TOKEN ? &c->max_token : &c->max_in_flight) = size;
		return 0;
	case KEY_MAX_STATS: {
		unsigned n;
		if (parse_uint(value, 1, UINT_MAX, &n) < 0) {
			snprintf(why, wlen, "not a positive number");
			return ES_ECONFIG;
		}
		c->max_stats = n;
		return 0;
	}
	case KEY_ACCESS_LOG:
	{
		int on;
		if (yamlx_parse_bool(value, &on) < 0) {
			snprintf(why, wlen, "not a boolean (true or false)");
			return ES_ECONFIG;
		}
		c->access_log = on != 0;
		return 0;
	}
	case KEY_REPORT_DIR:
		if (value[0] != '/' && value[0] != '\0') {
			snprintf(why, wlen, "not an absolute directory path");
			return ES_ECONFIG;
		}
		free(c->report_dir);
		/* Empty: reports are not served. */
		c->report_dir = value[0] ? es_strdup(value) : NULL;
		return 0;
	case KEY_METRICS_ALLOW: {
		struct peer_list a;
		if (peer_list_parse(&a, value, why, wlen) < 0)
			return ES_ECONFIG;
		c->metrics_allow = a;
		return 0;
	}
	case KEY_COUNT:
		break;
	}
	return ES_EINTERNAL;
}

int ingest_config_set(struct ingest_config *c, const char *key, const char *value,
                      char *err, size_t errlen)
{
	char why[256];

	for (size_t k = 0; k < KEY_COUNT; k++) {
		if (strcmp(keys[k].name, key) != 0)
			continue;
		if (set_key(c, k, value, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: %s", key, why);
			return ES_ECONFIG;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return ES_ECONFIG;
}

static int yaml_set(void *ctx, size_t k, const char *value, size_t len, char *why, size_t wlen)
{
	(void)len;
	return set_key(ctx, k, value, why, wlen);
}

static int load(struct ingest_config *c, const char *path, const char *data, size_t len,
                char *err, size_t errlen)
{
	unsigned long lines[KEY_COUNT];
	struct yamlx_schema s = {
		.keys = keys, .nkeys = KEY_COUNT, .set = yaml_set, .ctx = c, .key_fmt = "%s: ",
		.flags = YAMLX_FLAT, .lines = lines,
	};

	if (data)
		return yamlx_load_buffer(&s, path, data, len, err, errlen);
	return yamlx_load_file(&s, path, INGEST_MAX_FILE, err, errlen);
}

int ingest_config_load(struct ingest_config *c, const char *path, char *err, size_t errlen)
{
	return load(c, path, NULL, 0, err, errlen);
}

int ingest_config_load_buffer(struct ingest_config *c, const char *name, const char *data,
                              size_t len, char *err, size_t errlen)
{
	return load(c, name, data, len, err, errlen);
}

int ingest_config_check(const struct ingest_config *c, char *err, size_t errlen)
{
	if (!c->db) {
		snprintf(err, errlen, "no database: give --db CONNINFO or 'db:' in the configuration file");
		return ES_ECONFIG;
	}
	return 0;
}

const char *ingest_config_warning(const struct ingest_config *c, char *buf, size_t buflen)
{
	if (c->max_in_flight >= c->max_body && c->max_in_flight - c->max_body >= c->max_decompressed)
		return NULL;
	snprintf(buf, buflen, "max_in_flight (%zu bytes) is less than max_body + max_decompressed: "
	         "the largest requests will always be answered 503", c->max_in_flight);
	return buf;
}

const char *ingest_config_read_db(const struct ingest_config *c)
{
	return c->read_db ? c->read_db : c->db;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Copies one restart-only string from running into next; notes it when it differed. */
static int keep_str(char **next, const char *running, const char *name, char *note, size_t cap)
{
	if (same_str(*next, running))
		return 0;
	free(*next);
	*next = dup_or_null(running);
	snprintf(note + strlen(note), cap - strlen(note), "%s%s", note[0] ? ", " : "", name);
	return 1;
}

static int keep_uint(unsigned *next, unsigned running, const char *name, char *note, size_t cap)
{
	if (*next == running)
		return 0;
	*next = running;
	snprintf(note + strlen(note), cap - strlen(note), "%s%s", note[0] ? ", " : "", name);
	return 1;
}

int ingest_config_reload(const struct ingest_config *running, struct ingest_config *next,
                         char *note, size_t notelen)
{
	char names[256] = "";
	int n = 0;

	n += keep_str(&next->listen, running->listen, "listen", names, sizeof names);
	n += keep_str(&next->db, running->db, "db", names, sizeof names);
	/* read_db is compared as the conninfo really used. */
	if (!same_str(ingest_config_read_db(next), ingest_config_read_db(running))) {
		snprintf(names + strlen(names), sizeof names - strlen(names), "%sread_db",
		         names[0] ? ", " : "");
		n++;
	}
	free(next->read_db);
	next->read_db = dup_or_null(running->read_db);
	n += keep_uint(&next->workers, running->workers, "workers", names, sizeof names);
	n += keep_str(&next->prefix, running->prefix, "prefix", names, sizeof names);
	n += keep_uint(&next->max_connections, running->max_connections, "max_connections", names,
	               sizeof names);
	n += keep_uint(&next->header_timeout, running->header_timeout, "header_timeout", names,
	               sizeof names);
	n += keep_uint(&next->max_connections_per_ip, running->max_connections_per_ip,
	               "max_connections_per_ip", names, sizeof names);
	if (n)
		snprintf(note, notelen, "%s changed: restart the service to apply %s", names,
		         n > 1 ? "them" : "it");
	else if (notelen)
		note[0] = '\0';
	return n;
}

struct snapshot {
	struct ingest_config cfg;   /* First: a snapshot is found from its cfg. */
	unsigned refs;              /* Holders, plus one while it is the current one. */
};

struct ingest_live {
	pthread_mutex_t lock;
	struct snapshot *current;
};

static struct snapshot *snapshot_take(struct ingest_config *c)
{
	struct snapshot *s = es_calloc(1, sizeof *s);

	s->cfg = *c;
	memset(c, 0, sizeof *c);
	s->refs = 1;
	return s;
}

static void snapshot_unref(struct snapshot *s)
{
	/* Called with the lock held. */
	if (--s->refs == 0) {
		ingest_config_fini(&s->cfg);
		free(s);
	}
}

struct ingest_live *ingest_live_new(struct ingest_config *c)
{
	struct ingest_live *l = es_calloc(1, sizeof *l);

	pthread_mutex_init(&l->lock, NULL);
	l->current = snapshot_take(c);
	return l;
}

void ingest_live_free(struct ingest_live *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	snapshot_unref(l->current);
	pthread_mutex_unlock(&l->lock);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

const struct ingest_config *ingest_live_acquire(struct ingest_live *l)
{
	struct snapshot *s;

	pthread_mutex_lock(&l->lock);
	s = l->current;
	s->refs++;
	pthread_mutex_unlock(&l->lock);
	return &s->cfg;
}

void ingest_live_release(struct ingest_live *l, const struct ingest_config *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&l->lock);
	snapshot_unref((struct snapshot *)(void *)c);
	pthread_mutex_unlock(&l->lock);
}

void ingest_live_replace(struct ingest_live *l, struct ingest_config *c)
{
	struct snapshot *s = snapshot_take(c);

	pthread_mutex_lock(&l->lock);
	snapshot_unref(l->current);
	l->current = s;
	pthread_mutex_unlock(&l->lock);
}
