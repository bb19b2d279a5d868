/*
 * cfg.h - the daemon's configuration file (YAML, read with yamlx.h).
 *
 * cfg_load() reads one YAML mapping, checks every key against the known set
 * (unknown keys, wrong types and bad values are errors naming the file, the
 * line and the dotted key, e.g. "/etc/eidastats.yaml:7: unknown key 'setle'"),
 * fills in the defaults below and validates the whole.  Keys (dotted paths):
 *
 *   log_directory        string, required; must be an absolute path
 *   file_pattern         fnmatch glob, default "fdsnws-requests.log.*"
 *   state_directory      absolute path, default LOCALSTATEDIR "/lib/eidastats"
 *   since                "YYYY-MM-DD" (a real calendar date), default: no limit
 *   settle               duration up to 7d, default 60 (seconds)
 *   plain_after          duration up to 30d, default 21600 (6 h)
 *   workers              integer 1..64, default 1
 *   control_socket       absolute path, default RUNSTATEDIR "/eidastats/control.sock"
 *   central.url          http:// or https:// URL, default unset (nothing delivered)
 *   central.token_file   absolute path, required when central.url is set
 *   central.granularity  "month" (default) or "day"
 *   central.retry.initial  duration > 0, up to 1d, default 30
 *   central.retry.max      duration >= initial, up to 7d, default 21600
 *   central.timeout      duration > 0, up to 1d, default 600
 *   central.compress     boolean (true/false/yes/no/on/off), default false
 *   spool.max_bytes      size (plain bytes or 512K, 512M, 1G, 1T; binary units), default 1G
 *   networks.url         http:// or https:// URL, default "https://www.fdsn.org/ws/networks/1/query";
 *                        "none" (networks_url NULL): only networks.file is asked
 *   networks.file        absolute path of a registry JSON copy, default unset
 *
 * Durations are seconds or a number with one unit s, m, h or d (yamlx.h);
 * sizes bytes or a number with K, M, G or T.  The file is read by the one
 * strict loader of yamlx.h.  A key given twice, a scalar where a mapping belongs (or the reverse), an
 * empty value, anchors/aliases and documents other than one mapping are
 * errors.  The file is limited to CFG_MAX_FILE bytes; strings to
 * CFG_MAX_STRING bytes.
 *
 * Ownership: cfg_load() fills a caller-owned cfg_t whose strings it
 * allocates; cfg_fini() frees them (safe on a zeroed or already-finished
 * cfg_t, and on a cfg_t whose cfg_load() failed).  On failure cfg_load()
 * leaves nothing allocated.  Not thread-safe per cfg_t; a loaded cfg_t is
 * read-only and may be shared.
 */
#ifndef ES_CFG_H
#define ES_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "yamlx.h"

#define CFG_DEFAULT_PATH SYSCONFDIR "/eidastats.yaml"
/* The control socket without a configuration saying otherwise (daemon and CLI). */
#define CFG_DEFAULT_SOCKET RUNSTATEDIR "/eidastats/control.sock"
#define CFG_MAX_FILE (1024 * 1024)
#define CFG_MAX_STRING YAMLX_MAX_STRING
#define CFG_MAX_WORKERS 64

typedef struct cfg_central {
	char *url;            /* central.url; NULL = keep payloads in the spool, deliver nothing */
	char *token_file;     /* central.token_file; required when url is set */
	int granularity;      /* central.granularity: STATS_MONTH (default) or STATS_DAY (stats.h) */
	long retry_initial;   /* central.retry.initial, seconds, default 30 */
	long retry_max;       /* central.retry.max, seconds, default 21600 (6h) */
	long timeout;         /* central.timeout, seconds for one HTTP exchange, default 600 */
	int compress;         /* central.compress: gzip request bodies, default false */
} cfg_central_t;

typedef struct cfg {
	char *path;             /* file it was read from */
	char *log_directory;    /* required */
	char *file_pattern;     /* glob (fnmatch), default "fdsnws-requests.log.*" */
	char *state_directory;  /* default LOCALSTATEDIR "/lib/eidastats" */
	char since[11];         /* "YYYY-MM-DD" or "" for no limit */
	long settle;            /* seconds, default 60 */
	long plain_after;       /* seconds, default 21600 */
	int workers;            /* 1..64, default 1 */
	char *control_socket;   /* default RUNSTATEDIR "/eidastats/control.sock" */
	cfg_central_t central;
	uint64_t spool_max_bytes;  /* spool.max_bytes, default 1 GiB; sizes accept 512M, 1G, ... */
	char *networks_url;     /* networks.url, default "https://www.fdsn.org/ws/networks/1/query"; NULL for "none" */
	char *networks_file;    /* networks.file, NULL if unset */
} cfg_t;

/*
 * Loads and validates path into *cfg (which need not be initialised). On
 * error returns ES_ECONFIG (or -errno when the file cannot be read) and
 * writes into err (always NUL-terminated when errlen > 0) a message naming
 * file, line and key, e.g. "/etc/eidastats.yaml:7: unknown key 'setle'".
 */
int cfg_load(cfg_t *cfg, const char *path, char *err, size_t errlen);
/*
 * The same from the document data[0..len) in memory; name stands for the
 * file in messages and in cfg->path.
 */
int cfg_load_buffer(cfg_t *cfg, const char *name, const char *data, size_t len, char *err,
                    size_t errlen);
/* Frees the strings of cfg and zeroes it. */
void cfg_fini(cfg_t *cfg);

/*
 * Reads the token (whitespace trimmed). Refuses (ES_ECONFIG, message in err)
 * a file that is group- or world-readable, empty, not a regular file, larger
 * than 4 KiB or with a space or control character inside the token; -errno when
 * it cannot be opened.  The token itself never appears in err.  *token is
 * malloc()ed; the caller frees it.
 */
int cfg_read_token(const char *path, char **token, char *err, size_t errlen);

#endif
