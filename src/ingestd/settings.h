/*
 * settings.h - the settings of eidastats-ingestd: built-in defaults, then the
 * YAML file of --config, then the command line, each overriding the one
 * before.  The YAML file is one flat mapping whose keys are the long option
 * names with '_' for '-' (db, read_db, listen, prefix, workers, max_body,
 * max_decompressed, max_stats, max_in_flight, timeout, max_connections,
 * access_log, eas_keyring, runtime_dir, max_token, query_timeout,
 * report_dir, metrics_allow, header_timeout, max_connections_per_ip, max_queries_per_client,
 * trusted_proxies, cache_max_age), read by the one strict loader of
 * yamlx.h: unknown keys, keys given twice and bad values are errors
 * "FILE:LINE: KEY: reason".
 *
 * Protection against hostile clients (README "Limits and hostile clients"):
 * a connection must bring its request headers within header_timeout
 * seconds of silence (then timeout applies until its answer, then
 * header_timeout again while it waits for the next request); one peer
 * address holds at most max_connections_per_ip connections; one client
 * (peer.h: the peer, or the address a trusted proxy forwarded) runs at
 * most max_queries_per_client queries of the query API at once (429 with
 * Retry-After beyond).
 *
 * Reload (SIGHUP): a new ingest_config is built the same way;
 * ingest_config_reload() keeps the settings that need a restart from the
 * running one and says which of them changed.  The running settings are
 * shared with the HTTP worker threads through an ingest_live: an immutable
 * snapshot that a reload replaces; a request holds the snapshot it started
 * with until it ends.
 *
 * Ownership: an ingest_config owns its strings; ingest_config_fini() frees
 * them.  An ingest_live owns its snapshots.  ingest_config_* functions keep
 * no state (any thread, one ingest_config per thread); ingest_live_* are
 * thread-safe.
 */
#ifndef ES_INGEST_SETTINGS_H
#define ES_INGEST_SETTINGS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "peer.h"

#define INGEST_DEFAULT_LISTEN "127.0.0.1:8080"
#define INGEST_DEFAULT_PREFIX "/eidaws/statistics/1"
#define INGEST_DEFAULT_WORKERS 8
#define INGEST_MAX_WORKERS 256
#define INGEST_DEFAULT_TIMEOUT 600
#define INGEST_MAX_TIMEOUT 86400
#define INGEST_DEFAULT_MAX_CONNECTIONS 512
/* Seconds of silence allowed before a request's headers are complete. */
#define INGEST_DEFAULT_HEADER_TIMEOUT 10
/* Connections one peer address may hold (0: no limit; behind a proxy, raise it). */
#define INGEST_DEFAULT_MAX_CONNECTIONS_PER_IP 64
/* Queries of the query API one client may run at once. */
#define INGEST_DEFAULT_MAX_QUERIES_PER_CLIENT 4
#define INGEST_MAX_QUERIES_PER_CLIENT 65536
/* Seconds a public answer whose months are all past may be cached;
 * an open-ended or current-month one gets INGEST_CACHE_OPEN_AGE. */
#define INGEST_DEFAULT_CACHE_MAX_AGE 3600
#define INGEST_CACHE_OPEN_AGE 60
/* Seconds a 429 asks the client to wait. */
#define INGEST_RETRY_AFTER_429 1
/* Bodies held at once across all workers; one largest gzip request (64 MiB
 * received + 1 GiB decoded) fits with room for others. */
#define INGEST_DEFAULT_MAX_IN_FLIGHT ((size_t)2 << 30)
/* Upper bound of every size setting. */
#define INGEST_MAX_SIZE ((size_t)1 << 40)
#define INGEST_MAX_FILE (1024 * 1024)
/* Seconds a query of the query API may run (statement_timeout). */
#define INGEST_DEFAULT_QUERY_TIMEOUT 60
/* Where the private GnuPG homes go when neither runtime_dir nor $RUNTIME_DIRECTORY says. */
#define INGEST_DEFAULT_RUNTIME_DIR "/run/eidastats-ingestd"

struct eas_verifier;

struct ingest_config {
	char *db;                   /* libpq conninfo (keywords or URI); required.  Restart. */
	char *read_db;              /* conninfo of the read (query) pool; NULL: db.  Restart. */
	char *listen;               /* ADDR:PORT; [v6]:PORT; port 0 picks a free port.  Restart. */
	char *prefix;               /* URL prefix of the routes, without a trailing '/'.  Restart. */
	unsigned workers;           /* HTTP worker threads = connections per pool.  Restart. */
	size_t max_body;            /* Request body as received (compressed). */
	size_t max_decompressed;    /* Body after gzip decoding. */
	size_t max_stats;           /* Statistics per payload. */
	size_t max_in_flight;       /* Request bodies (received + decoded) held across workers. */
	unsigned timeout;           /* Seconds a client connection may stay idle. */
	unsigned max_connections;   /* Concurrent client connections.  Restart. */
	bool access_log;            /* One log line per request (default true). */
	char *eas_keyring;          /* EAS public keys: a GnuPG home or a directory of key
	                             * files; NULL: restricted queries are off. */
	char *runtime_dir;          /* Private GnuPG homes go under it (default
	                             * $RUNTIME_DIRECTORY, else INGEST_DEFAULT_RUNTIME_DIR). */
	size_t max_token;           /* Largest token body of /dataselect/restricted (413 above). */
	unsigned query_timeout;     /* statement_timeout of a query, seconds (503 when it runs out). */
	char *report_dir;           /* eidastats-report's output served under PREFIX/reports/
	                             * (rweb.h); NULL: off (404).  Absolute path. */
	struct peer_list metrics_allow; /* Who may read PREFIX/metrics (default PEER_LOOPBACK). */
	unsigned header_timeout;    /* Seconds of silence before the headers are in.  Restart. */
	unsigned max_connections_per_ip; /* Connections per peer address, 0: no limit.  Restart. */
	unsigned max_queries_per_client; /* Concurrent /dataselect queries per client (429 above). */
	char *trusted_proxies;      /* The text of the setting ("" or NULL: none). */
	struct peer_list proxies;   /* trusted_proxies parsed. */
	unsigned cache_max_age;     /* max-age of a public answer on past months, seconds (0: no-store). */
	/* Built by ingest_config_open_keyring(), owned by this config (never copied). */
	struct eas_verifier *eas;   /* NULL without eas_keyring. */
	char *eas_home;             /* The private GnuPG home of eas, removed by ingest_config_fini(). */
};

void ingest_config_init(struct ingest_config *c);
void ingest_config_fini(struct ingest_config *c);
/* A deep copy of src into dst (not initialised before); the keyring verifier is not copied. */
void ingest_config_copy(struct ingest_config *dst, const struct ingest_config *src);

/*
 * Sets one key (YAML spelling) from its text; 0 or ES_ECONFIG with err
 * "KEY: reason" (or "unknown key 'KEY'").
 */
int ingest_config_set(struct ingest_config *c, const char *key, const char *value,
                      char *err, size_t errlen);
/* Reads a YAML file into c; 0, -errno (cannot read) or ES_ECONFIG, with err set. */
int ingest_config_load(struct ingest_config *c, const char *path, char *err, size_t errlen);
/* The same from data[0..len) in memory; name stands for the file in messages. */
int ingest_config_load_buffer(struct ingest_config *c, const char *name, const char *data,
                              size_t len, char *err, size_t errlen);
/* Checks that the settings make a runnable service (db given, prefix well formed). */
int ingest_config_check(const struct ingest_config *c, char *err, size_t errlen);
/*
 * A warning worth logging about settings that run but work badly (a budget
 * max_in_flight smaller than one largest request), or NULL.  Uses buf.
 */
const char *ingest_config_warning(const struct ingest_config *c, char *buf, size_t buflen);
/*
 * Imports the keyring of eas_keyring (if set) into a fresh private GnuPG
 * home runtime_dir/gnupg-PID-GENERATION (generation: 0 at start, one more
 * per reload, so a reload never mixes its keys with the running ones) and
 * keeps the verifier in c->eas.  0 (also without eas_keyring), or
 * ES_ECONFIG / -errno with err set.  ingest_config_fini() frees the
 * verifier and removes the home.
 */
int ingest_config_open_keyring(struct ingest_config *c, unsigned generation, char *err,
                               size_t errlen);

/* The conninfo of the read pool: read_db, or db when read_db is not set. */
const char *ingest_config_read_db(const struct ingest_config *c);

/*
 * Prepares next (freshly loaded and checked) to replace running on SIGHUP:
 * the settings that need a restart (listen, db, read_db, workers, prefix,
 * max_connections, header_timeout, max_connections_per_ip) are copied from running into next, so that next holds
 * what is really in effect.  Returns how many of them differed, with note
 * "KEY, KEY changed: restart the service to apply them" ("" when none).
 */
int ingest_config_reload(const struct ingest_config *running, struct ingest_config *next,
                         char *note, size_t notelen);

/* Parses "65536", "64KiB", "64MiB", "1GiB" up to INGEST_MAX_SIZE (yamlx_parse_size). */
int ingest_parse_size(const char *text, size_t *out);

/* The running settings, shared with the worker threads. */
struct ingest_live;

/* Takes the contents of *c (which is left zeroed) as the first snapshot. */
struct ingest_live *ingest_live_new(struct ingest_config *c);
/* Frees the holder and its snapshot; no snapshot may be acquired any more. */
void ingest_live_free(struct ingest_live *l);
/* The current snapshot, valid and unchanged until ingest_live_release(). */
const struct ingest_config *ingest_live_acquire(struct ingest_live *l);
void ingest_live_release(struct ingest_live *l, const struct ingest_config *c);
/* Makes the contents of *c (left zeroed) the current snapshot; the old one is
 * freed when its last holder releases it. */
void ingest_live_replace(struct ingest_live *l, struct ingest_config *c);

/* Writes one line "eidastats-ingestd: ..." to stderr (one write, safe from any thread). */
void ingest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
