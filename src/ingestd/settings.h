/*
 * settings.h - the settings of eidastats-ingestd: built-in defaults, then the
 * YAML file of --config, then the command line, each overriding the one
 * before.  The YAML file is one flat mapping whose keys are the long option
 * names with '_' for '-' (db, listen, prefix, workers, max_body,
 * max_decompressed, max_stats, timeout, max_connections); unknown keys and
 * bad values are errors naming the file, line and key.
 *
 * Ownership: an ingest_config owns its strings; ingest_config_fini() frees them.
 */
#ifndef ES_INGEST_SETTINGS_H
#define ES_INGEST_SETTINGS_H

#include <stdarg.h>
#include <stddef.h>

#define INGEST_DEFAULT_LISTEN "127.0.0.1:8080"
#define INGEST_DEFAULT_PREFIX "/eidaws/statistics/1"
#define INGEST_DEFAULT_WORKERS 8
#define INGEST_MAX_WORKERS 256
#define INGEST_DEFAULT_TIMEOUT 600
#define INGEST_DEFAULT_MAX_CONNECTIONS 512

struct ingest_config {
	char *db;                   /* libpq conninfo (keywords or URI); required. */
	char *listen;               /* ADDR:PORT; [v6]:PORT; port 0 picks a free port. */
	char *prefix;               /* URL prefix of the routes, without a trailing '/'. */
	unsigned workers;           /* HTTP worker threads = database connections. */
	size_t max_body;            /* Request body as received (compressed). */
	size_t max_decompressed;    /* Body after gzip decoding. */
	size_t max_stats;           /* Statistics per payload. */
	unsigned timeout;           /* Seconds a client connection may stay idle. */
	unsigned max_connections;   /* Concurrent client connections. */
};

void ingest_config_init(struct ingest_config *c);
void ingest_config_fini(struct ingest_config *c);

/* Sets one key (YAML spelling) from its text; 0 or ES_ECONFIG with err set. */
int ingest_config_set(struct ingest_config *c, const char *key, const char *value,
                      char *err, size_t errlen);
/* Reads a YAML file into c; 0, -errno (cannot read) or ES_ECONFIG, with err set. */
int ingest_config_load(struct ingest_config *c, const char *path, char *err, size_t errlen);
/* Checks that the settings make a runnable service (db given, prefix well formed). */
int ingest_config_check(const struct ingest_config *c, char *err, size_t errlen);

/* Parses "65536", "64KiB", "64MiB", "1GiB" (K/M/G alone mean the same powers of 1024). */
int ingest_parse_size(const char *text, size_t *out);

/* Writes one line "eidastats-ingestd: ..." to stderr (one write, safe from any thread). */
void ingest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
