#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfg.h"
#include "cal.h"
#include "error.h"
#include "mem.h"
#include "netx.h"
#include "yamlx.h"

#define CFG_MAX_TOKEN 4096

enum key_type {
	K_SECTION,      /* A mapping of further keys. */
	K_PATH,         /* An absolute path. */
	K_GLOB,
	K_DATE,
	K_DURATION,     /* >= 0 */
	K_DURATION_POS, /* > 0 */
	K_WORKERS,
	K_URL,
	K_GRANULARITY,
	K_BOOL,
	K_SIZE,
	K_SOCKET        /* An absolute path that fits a sockaddr_un. */
};

enum key_id {
	KEY_LOG_DIRECTORY, KEY_FILE_PATTERN, KEY_STATE_DIRECTORY, KEY_SINCE, KEY_SETTLE,
	KEY_PLAIN_AFTER, KEY_WORKERS, KEY_CONTROL_SOCKET, KEY_CENTRAL, KEY_CENTRAL_URL,
	KEY_CENTRAL_TOKEN_FILE, KEY_CENTRAL_GRANULARITY, KEY_CENTRAL_RETRY,
	KEY_CENTRAL_RETRY_INITIAL, KEY_CENTRAL_RETRY_MAX, KEY_CENTRAL_TIMEOUT,
	KEY_CENTRAL_COMPRESS, KEY_SPOOL, KEY_SPOOL_MAX_BYTES, KEY_NETWORKS, KEY_NETWORKS_URL,
	KEY_NETWORKS_FILE, KEY_COUNT
};

struct key_def {
	const char *name;   /* Full dotted name. */
	enum key_type type;
	long max;           /* Durations: the upper bound in seconds. */
};

#define DAY 86400L

static const struct key_def keys[KEY_COUNT] = {
	[KEY_LOG_DIRECTORY]         = { "log_directory", K_PATH },
	[KEY_FILE_PATTERN]          = { "file_pattern", K_GLOB },
	[KEY_STATE_DIRECTORY]       = { "state_directory", K_PATH },
	[KEY_SINCE]                 = { "since", K_DATE },
	[KEY_SETTLE]                = { "settle", K_DURATION, 7 * DAY },
	[KEY_PLAIN_AFTER]           = { "plain_after", K_DURATION, 30 * DAY },
	[KEY_WORKERS]               = { "workers", K_WORKERS },
	[KEY_CONTROL_SOCKET]        = { "control_socket", K_SOCKET },
	[KEY_CENTRAL]               = { "central", K_SECTION },
	[KEY_CENTRAL_URL]           = { "central.url", K_URL },
	[KEY_CENTRAL_TOKEN_FILE]    = { "central.token_file", K_PATH },
	[KEY_CENTRAL_GRANULARITY]   = { "central.granularity", K_GRANULARITY },
	[KEY_CENTRAL_RETRY]         = { "central.retry", K_SECTION },
	[KEY_CENTRAL_RETRY_INITIAL] = { "central.retry.initial", K_DURATION_POS, DAY },
	[KEY_CENTRAL_RETRY_MAX]     = { "central.retry.max", K_DURATION_POS, 7 * DAY },
	[KEY_CENTRAL_TIMEOUT]       = { "central.timeout", K_DURATION_POS, DAY },
	[KEY_CENTRAL_COMPRESS]      = { "central.compress", K_BOOL },
	[KEY_SPOOL]                 = { "spool", K_SECTION },
	[KEY_SPOOL_MAX_BYTES]       = { "spool.max_bytes", K_SIZE },
	[KEY_NETWORKS]              = { "networks", K_SECTION },
	[KEY_NETWORKS_URL]          = { "networks.url", K_URL },
	[KEY_NETWORKS_FILE]         = { "networks.file", K_PATH },
};

/* What the set callback fills. */
struct loader {
	cfg_t *cfg;
	struct yamlx_key ykeys[KEY_COUNT];
	unsigned long line[KEY_COUNT];   /* 1-based line where the key was set; 0 = not set. */
	struct yamlx_schema schema;
	const char *path;
	char *err;
	size_t errlen;
};

static int why(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	return ES_ECONFIG;
}

/* "7d", "30d", "6h", ... for a bound in a message. */
static void show_duration(long s, char *out, size_t outlen)
{
	if (s % DAY == 0)
		snprintf(out, outlen, "%ldd", s / DAY);
	else if (s % 3600 == 0)
		snprintf(out, outlen, "%ldh", s / 3600);
	else
		snprintf(out, outlen, "%lds", s);
}

/* Accepts http:// or https:// followed by a non-empty host, no spaces or control characters. */
static int valid_url(const char *s)
{
	size_t skip;

	if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return 0;
	if (s[skip] == '\0' || s[skip] == '/' || s[skip] == '?' || s[skip] == '#')
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			return 0;
	return 1;
}

static void replace_str(char **slot, const char *value)
{
	free(*slot);
	*slot = es_strdup(value);
}

/* Stores the scalar value of key k, checking it against the key's type. */
static int set_value(void *ctx, size_t key, const char *v, size_t vlen, char *w, size_t wlen)
{
	struct loader *ld = ctx;
	enum key_id k = (enum key_id)key;
	cfg_t *c = ld->cfg;
	char shown[80];
	long dur;
	int rc;
	uint64_t size;

	if (vlen == 0)
		return why(w, wlen, "empty value");
	yamlx_show(v, shown, sizeof shown);

	switch (keys[k].type) {
	case K_PATH:
	case K_SOCKET:
		if (v[0] != '/')
			return why(w, wlen, "'%s' is not an absolute path", shown);
		if (keys[k].type == K_SOCKET && vlen >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return why(w, wlen, "socket path longer than %zu bytes",
			               sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		break;
	case K_GLOB:
		if (strchr(v, '/'))
			return why(w, wlen, "'%s' must be a file name pattern without '/'", shown);
		break;
	case K_DATE:
		if (cal_parse_ymd(v, strlen(v), NULL, NULL, NULL) != 0)
			return why(w, wlen, "'%s' is not a date YYYY-MM-DD", shown);
		memcpy(c->since, v, 11);
		return 0;
	case K_DURATION:
	case K_DURATION_POS:
		rc = yamlx_parse_duration(v, keys[k].max, &dur);
		if (rc == ES_ELIMIT) {
			char bound[32];
			show_duration(keys[k].max, bound, sizeof bound);
			return why(w, wlen, "'%s' is more than %s (%ld seconds)", shown, bound, keys[k].max);
		}
		if (rc != 0)
			return why(w, wlen, "'%s' is not a duration (seconds, or a number "
			               "followed by s, m, h or d; not negative)", shown);
		if (keys[k].type == K_DURATION_POS && dur == 0)
			return why(w, wlen, "must be greater than zero");
		switch (k) {
		case KEY_SETTLE: c->settle = dur; break;
		case KEY_PLAIN_AFTER: c->plain_after = dur; break;
		case KEY_CENTRAL_RETRY_INITIAL: c->central.retry_initial = dur; break;
		case KEY_CENTRAL_RETRY_MAX: c->central.retry_max = dur; break;
		case KEY_CENTRAL_TIMEOUT: c->central.timeout = dur; break;
		default: return ES_EINTERNAL;
		}
		return 0;
	case K_WORKERS: {
		char *end;
		long n;
		errno = 0;
		n = strtol(v, &end, 10);
		if (!isdigit((unsigned char)v[0]) || *end || errno || n < 1 || n > CFG_MAX_WORKERS)
			return why(w, wlen, "'%s' is not an integer from 1 to %d",
			               shown, CFG_MAX_WORKERS);
		c->workers = (int)n;
		return 0;
	}
	case K_URL:
		/* "none" turns the registry service off: the file alone then decides. */
		if (k == KEY_NETWORKS_URL && strcmp(v, "none") == 0) {
			free(c->networks_url);
			c->networks_url = NULL;
			return 0;
		}
		if (!valid_url(v))
			return why(w, wlen, "'%s' is not an http:// or https:// URL", shown);
		break;
	case K_GRANULARITY:
		if (strcmp(v, "month") == 0)
			c->central.granularity = STATS_MONTH;
		else if (strcmp(v, "day") == 0)
			c->central.granularity = STATS_DAY;
		else
			return why(w, wlen, "'%s' is neither 'month' nor 'day'", shown);
		return 0;
	case K_BOOL:
		if (yamlx_parse_bool(v, &c->central.compress) != 0)
			return why(w, wlen, "'%s' is not a boolean (true or false)", shown);
		return 0;
	case K_SIZE:
		if (yamlx_parse_size(v, UINT64_MAX, &size) != 0)
			return why(w, wlen, "'%s' is not a size (bytes, or a number followed "
			               "by K, M, G or T)", shown);
		if (size == 0)
			return why(w, wlen, "must be greater than zero");
		c->spool_max_bytes = size;
		return 0;
	case K_SECTION:
		return ES_EINTERNAL;
	}

	switch (k) {
	case KEY_LOG_DIRECTORY: replace_str(&c->log_directory, v); break;
	case KEY_FILE_PATTERN: replace_str(&c->file_pattern, v); break;
	case KEY_STATE_DIRECTORY: replace_str(&c->state_directory, v); break;
	case KEY_CONTROL_SOCKET: replace_str(&c->control_socket, v); break;
	case KEY_CENTRAL_URL: replace_str(&c->central.url, v); break;
	case KEY_CENTRAL_TOKEN_FILE: replace_str(&c->central.token_file, v); break;
	case KEY_NETWORKS_URL: replace_str(&c->networks_url, v); break;
	case KEY_NETWORKS_FILE: replace_str(&c->networks_file, v); break;
	default: return ES_EINTERNAL;
	}
	return 0;
}

/* Cross-key checks and defaults, after the whole file was read. */
static int finish(struct loader *ld)
{
	cfg_t *c = ld->cfg;

	if (!c->log_directory) {
		snprintf(ld->err, ld->errlen, "%s: missing required key 'log_directory'", ld->path);
		return ES_ECONFIG;
	}
	if (c->central.url && !c->central.token_file)
		return yamlx_key_error(&ld->schema, ld->path, ld->line[KEY_CENTRAL_URL],
		                       keys[KEY_CENTRAL_TOKEN_FILE].name, ld->err, ld->errlen,
		                       "required when central.url is set");
	if (c->central.retry_max < c->central.retry_initial) {
		enum key_id k = ld->line[KEY_CENTRAL_RETRY_MAX] ? KEY_CENTRAL_RETRY_MAX
		                                                : KEY_CENTRAL_RETRY_INITIAL;
		return yamlx_key_error(&ld->schema, ld->path, ld->line[k], keys[k].name, ld->err,
		                       ld->errlen, "retry.max (%lds) is less than retry.initial (%lds)",
		                       c->central.retry_max, c->central.retry_initial);
	}
	if (!c->file_pattern)
		c->file_pattern = es_strdup("fdsnws-requests.log.*");
	if (!c->state_directory)
		c->state_directory = es_strdup(LOCALSTATEDIR "/lib/eidastats");
	if (!c->control_socket)
		c->control_socket = es_strdup(CFG_DEFAULT_SOCKET);
	if (!c->networks_url && !ld->line[KEY_NETWORKS_URL])
		c->networks_url = es_strdup(NETX_DEFAULT_URL);
	return 0;
}

static void defaults(cfg_t *cfg)
{
	cfg->settle = 60;
	cfg->plain_after = 21600;
	cfg->workers = 1;
	cfg->central.granularity = STATS_MONTH;
	cfg->central.retry_initial = 30;
	cfg->central.retry_max = 21600;
	cfg->central.timeout = 600;
	cfg->spool_max_bytes = (uint64_t)1 << 30;
}

/* Loads from the file path, or from data[0..len) when data is not NULL. */
static int load(cfg_t *cfg, const char *path, const char *data, size_t len, char *err,
                size_t errlen)
{
	struct loader ld;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	if (err && errlen)
		err[0] = '\0';
	memset(&ld, 0, sizeof ld);
	ld.cfg = cfg;
	ld.path = path;
	ld.err = err;
	ld.errlen = errlen;
	for (size_t i = 0; i < KEY_COUNT; i++) {
		ld.ykeys[i].name = keys[i].name;
		ld.ykeys[i].section = keys[i].type == K_SECTION;
	}
	ld.schema = (struct yamlx_schema){
		.keys = ld.ykeys, .nkeys = KEY_COUNT, .set = set_value, .ctx = &ld,
		.key_fmt = "key '%s': ", .empty_msg = "the file is empty; it needs at least 'log_directory'",
		.lines = ld.line,
	};
	defaults(cfg);
	if (data)
		rc = yamlx_load_buffer(&ld.schema, path, data, len, err, errlen);
	else
		rc = yamlx_load_file(&ld.schema, path, CFG_MAX_FILE, err, errlen);
	if (rc == 0)
		rc = finish(&ld);
	if (rc != 0) {
		cfg_fini(cfg);
		return rc;
	}
	cfg->path = es_strdup(path);
	return 0;
}

int cfg_load(cfg_t *cfg, const char *path, char *err, size_t errlen)
{
	return load(cfg, path, NULL, 0, err, errlen);
}

int cfg_load_buffer(cfg_t *cfg, const char *name, const char *data, size_t len, char *err,
                    size_t errlen)
{
	return load(cfg, name, data, len, err, errlen);
}

void cfg_fini(cfg_t *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->log_directory);
	free(cfg->file_pattern);
	free(cfg->state_directory);
	free(cfg->control_socket);
	free(cfg->central.url);
	free(cfg->central.token_file);
	free(cfg->networks_url);
	free(cfg->networks_file);
	memset(cfg, 0, sizeof *cfg);
}

int cfg_read_token(const char *path, char **token, char *err, size_t errlen)
{
	char buf[CFG_MAX_TOKEN + 1];
	struct stat st;
	size_t n = 0, start, end;
	int fd, rc;

	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open the token file: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot stat the token file: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: the token file is not a regular file", path);
		close(fd);
		return ES_ECONFIG;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		snprintf(err, errlen, "%s: the token file is readable by %s (mode %04o); "
		        "refusing it: chmod 0600 it", path,
		        (st.st_mode & S_IROTH) ? "everyone" : "its group",
		        (unsigned)(st.st_mode & 07777));
		close(fd);
		return ES_ECONFIG;
	}
	while (n < sizeof buf) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot read the token file: %s", path,
			        strerror(errno));
			close(fd);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	rc = 0;
	start = 0;
	end = n;
	while (start < end && isspace((unsigned char)buf[start]))
		start++;
	while (end > start && isspace((unsigned char)buf[end - 1]))
		end--;
	if (n > CFG_MAX_TOKEN) {
		snprintf(err, errlen, "%s: the token file is larger than %d bytes", path, CFG_MAX_TOKEN);
		rc = ES_ECONFIG;
	} else if (start == end) {
		snprintf(err, errlen, "%s: the token file is empty", path);
		rc = ES_ECONFIG;
	}
	for (size_t i = start; rc == 0 && i < end; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x21 || c == 0x7f) {
			snprintf(err, errlen, "%s: the token contains a space or control character",
			        path);
			rc = ES_ECONFIG;
		}
	}
	if (rc == 0)
		*token = es_strndup(buf + start, end - start);
	/* The token should not linger on the stack. */
	explicit_bzero(buf, sizeof buf);
	return rc;
}
