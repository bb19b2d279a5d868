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

#include <yaml.h>

#include "cfg.h"
#include "cal.h"
#include "error.h"
#include "mem.h"
#include "netx.h"

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
};

static const struct key_def keys[KEY_COUNT] = {
	[KEY_LOG_DIRECTORY]         = { "log_directory", K_PATH },
	[KEY_FILE_PATTERN]          = { "file_pattern", K_GLOB },
	[KEY_STATE_DIRECTORY]       = { "state_directory", K_PATH },
	[KEY_SINCE]                 = { "since", K_DATE },
	[KEY_SETTLE]                = { "settle", K_DURATION },
	[KEY_PLAIN_AFTER]           = { "plain_after", K_DURATION },
	[KEY_WORKERS]               = { "workers", K_WORKERS },
	[KEY_CONTROL_SOCKET]        = { "control_socket", K_SOCKET },
	[KEY_CENTRAL]               = { "central", K_SECTION },
	[KEY_CENTRAL_URL]           = { "central.url", K_URL },
	[KEY_CENTRAL_TOKEN_FILE]    = { "central.token_file", K_PATH },
	[KEY_CENTRAL_GRANULARITY]   = { "central.granularity", K_GRANULARITY },
	[KEY_CENTRAL_RETRY]         = { "central.retry", K_SECTION },
	[KEY_CENTRAL_RETRY_INITIAL] = { "central.retry.initial", K_DURATION_POS },
	[KEY_CENTRAL_RETRY_MAX]     = { "central.retry.max", K_DURATION_POS },
	[KEY_CENTRAL_TIMEOUT]       = { "central.timeout", K_DURATION_POS },
	[KEY_CENTRAL_COMPRESS]      = { "central.compress", K_BOOL },
	[KEY_SPOOL]                 = { "spool", K_SECTION },
	[KEY_SPOOL_MAX_BYTES]       = { "spool.max_bytes", K_SIZE },
	[KEY_NETWORKS]              = { "networks", K_SECTION },
	[KEY_NETWORKS_URL]          = { "networks.url", K_URL },
	[KEY_NETWORKS_FILE]         = { "networks.file", K_PATH },
};

struct loader {
	yaml_parser_t parser;
	cfg_t *cfg;
	const char *path;
	char *err;
	size_t errlen;
	unsigned long line[KEY_COUNT];   /* 1-based line where the key was set; 0 = not set. */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Quotes a value for an error message: printable ASCII only, at most 60 bytes. */
static void show_value(const char *v, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; v[i] && o + 5 < outlen; i++) {
		if (i >= 60) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)v[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

static int key_err(struct loader *ld, unsigned long line, enum key_id k, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int key_err(struct loader *ld, unsigned long line, enum key_id k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line)
		set_err(ld->err, ld->errlen, "%s:%lu: key '%s': %s", ld->path, line, keys[k].name, msg);
	else
		set_err(ld->err, ld->errlen, "%s: key '%s': %s", ld->path, keys[k].name, msg);
	return ES_ECONFIG;
}

int cfg_parse_duration(const char *text, long *seconds)
{
	const char *p = text;
	long value = 0, unit = 1;

	if (!text || !*text)
		return ES_ECONFIG;
	if (!isdigit((unsigned char)*p))
		return ES_ECONFIG;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (value > (LONG_MAX - d) / 10)
			return ES_ECONFIG;
		value = value * 10 + d;
	}
	if (*p) {
		switch (*p) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return ES_ECONFIG;
		}
		if (p[1])
			return ES_ECONFIG;
	}
	if (value > LONG_MAX / unit)
		return ES_ECONFIG;
	*seconds = value * unit;
	return 0;
}

int cfg_parse_size(const char *text, uint64_t *bytes)
{
	const char *p = text;
	uint64_t value = 0, unit = 1;

	if (!text || !isdigit((unsigned char)*p))
		return ES_ECONFIG;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - d) / 10)
			return ES_ECONFIG;
		value = value * 10 + d;
	}
	if (*p) {
		switch (toupper((unsigned char)*p)) {
		case 'K': unit = (uint64_t)1 << 10; break;
		case 'M': unit = (uint64_t)1 << 20; break;
		case 'G': unit = (uint64_t)1 << 30; break;
		case 'T': unit = (uint64_t)1 << 40; break;
		case 'B': unit = 1; break;
		default: return ES_ECONFIG;
		}
		p++;
		if (unit > 1) {
			if (p[0] == 'i' && p[1] == 'B')
				p += 2;
			else if (p[0] == 'B')
				p++;
		}
		if (*p)
			return ES_ECONFIG;
	}
	if (value > UINT64_MAX / unit)
		return ES_ECONFIG;
	*bytes = value * unit;
	return 0;
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

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return ES_ECONFIG;
}

static void replace_str(char **slot, const char *value)
{
	free(*slot);
	*slot = es_strdup(value);
}

/* Stores the scalar value of key k, checking it against the key's type. */
static int set_value(struct loader *ld, enum key_id k, const char *v, size_t vlen,
                     unsigned long line)
{
	cfg_t *c = ld->cfg;
	char shown[80];
	long dur;
	uint64_t size;

	if (vlen != strlen(v))
		return key_err(ld, line, k, "value contains a NUL character");
	if (vlen == 0)
		return key_err(ld, line, k, "empty value");
	if (vlen > CFG_MAX_STRING)
		return key_err(ld, line, k, "value longer than %d bytes", CFG_MAX_STRING);
	show_value(v, shown, sizeof shown);

	switch (keys[k].type) {
	case K_PATH:
	case K_SOCKET:
		if (v[0] != '/')
			return key_err(ld, line, k, "'%s' is not an absolute path", shown);
		if (keys[k].type == K_SOCKET && vlen >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return key_err(ld, line, k, "socket path longer than %zu bytes",
			               sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		break;
	case K_GLOB:
		if (strchr(v, '/'))
			return key_err(ld, line, k, "'%s' must be a file name pattern without '/'", shown);
		break;
	case K_DATE:
		if (cal_parse_ymd(v, strlen(v), NULL, NULL, NULL) != 0)
			return key_err(ld, line, k, "'%s' is not a date YYYY-MM-DD", shown);
		memcpy(c->since, v, 11);
		return 0;
	case K_DURATION:
	case K_DURATION_POS:
		if (cfg_parse_duration(v, &dur) != 0)
			return key_err(ld, line, k, "'%s' is not a duration (seconds, or a number "
			               "followed by s, m, h or d; not negative)", shown);
		if (keys[k].type == K_DURATION_POS && dur == 0)
			return key_err(ld, line, k, "must be greater than zero");
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
			return key_err(ld, line, k, "'%s' is not an integer from 1 to %d",
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
			return key_err(ld, line, k, "'%s' is not an http:// or https:// URL", shown);
		break;
	case K_GRANULARITY:
		if (strcmp(v, "month") == 0)
			c->central.granularity = STATS_MONTH;
		else if (strcmp(v, "day") == 0)
			c->central.granularity = STATS_DAY;
		else
			return key_err(ld, line, k, "'%s' is neither 'month' nor 'day'", shown);
		return 0;
	case K_BOOL:
		if (parse_bool(v, &c->central.compress) != 0)
			return key_err(ld, line, k, "'%s' is not a boolean (true or false)", shown);
		return 0;
	case K_SIZE:
		if (cfg_parse_size(v, &size) != 0)
			return key_err(ld, line, k, "'%s' is not a size (bytes, or a number followed "
			               "by K, M, G or T)", shown);
		if (size == 0)
			return key_err(ld, line, k, "must be greater than zero");
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

static int next_event(struct loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev)) {
		set_err(ld->err, ld->errlen, "%s:%lu: YAML syntax error: %s%s%s", ld->path,
		        (unsigned long)ld->parser.problem_mark.line + 1,
		        ld->parser.problem ? ld->parser.problem : "unknown problem",
		        ld->parser.context ? " " : "",
		        ld->parser.context ? ld->parser.context : "");
		return ES_ECONFIG;
	}
	return 0;
}

static const char *event_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SEQUENCE_START_EVENT: return "a list";
	case YAML_MAPPING_START_EVENT: return "a mapping";
	case YAML_ALIAS_EVENT: return "an alias";
	default: return "a scalar";
	}
}

static int has_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT: return ev->data.scalar.anchor != NULL;
	case YAML_MAPPING_START_EVENT: return ev->data.mapping_start.anchor != NULL;
	case YAML_SEQUENCE_START_EVENT: return ev->data.sequence_start.anchor != NULL;
	default: return 0;
	}
}

/*
 * Reads the pairs of a mapping whose MAPPING_START has been consumed, up to
 * and including its MAPPING_END; prefix is the dotted name of the section
 * ("" at the top).
 */
static int load_mapping(struct loader *ld, const char *prefix, int depth)
{
	yaml_event_t kev, vev;
	int rc;

	for (;;) {
		char full[256];
		int k = -1;
		unsigned long line;

		if ((rc = next_event(ld, &kev)) != 0)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		line = (unsigned long)kev.start_mark.line + 1;
		if (kev.type != YAML_SCALAR_EVENT || has_anchor(&kev)) {
			set_err(ld->err, ld->errlen, "%s:%lu: %s%skey is %s, expected a plain name",
			        ld->path, line, prefix, *prefix ? ": " : "", event_kind(&kev));
			yaml_event_delete(&kev);
			return ES_ECONFIG;
		}
		{
			char shown[80];
			show_value((const char *)kev.data.scalar.value, shown, sizeof shown);
			snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", shown);
		}
		yaml_event_delete(&kev);
		for (int i = 0; i < KEY_COUNT; i++)
			if (strcmp(keys[i].name, full) == 0)
				k = i;
		if (k < 0) {
			set_err(ld->err, ld->errlen, "%s:%lu: unknown key '%s'", ld->path, line, full);
			return ES_ECONFIG;
		}
		if (ld->line[k]) {
			set_err(ld->err, ld->errlen, "%s:%lu: key '%s' given twice (first on line %lu)",
			        ld->path, line, full, ld->line[k]);
			return ES_ECONFIG;
		}
		ld->line[k] = line;

		if ((rc = next_event(ld, &vev)) != 0)
			return rc;
		if (vev.type == YAML_ALIAS_EVENT || has_anchor(&vev)) {
			yaml_event_delete(&vev);
			return key_err(ld, line, k, "anchors and aliases are not supported");
		}
		if (keys[k].type == K_SECTION) {
			if (vev.type != YAML_MAPPING_START_EVENT) {
				rc = key_err(ld, line, k, "is %s, expected a mapping of keys",
				             event_kind(&vev));
				yaml_event_delete(&vev);
				return rc;
			}
			yaml_event_delete(&vev);
			if (depth >= 4)
				return key_err(ld, line, k, "nested too deeply");
			if ((rc = load_mapping(ld, full, depth + 1)) != 0)
				return rc;
			continue;
		}
		if (vev.type != YAML_SCALAR_EVENT) {
			rc = key_err(ld, line, k, "is %s, expected a single value", event_kind(&vev));
			yaml_event_delete(&vev);
			return rc;
		}
		rc = set_value(ld, k, (const char *)vev.data.scalar.value, vev.data.scalar.length,
		               line);
		yaml_event_delete(&vev);
		if (rc != 0)
			return rc;
	}
}

static int load_document(struct loader *ld)
{
	yaml_event_t ev;
	int rc;

	if ((rc = next_event(ld, &ev)) != 0)
		return rc;
	yaml_event_delete(&ev);   /* STREAM_START */
	if ((rc = next_event(ld, &ev)) != 0)
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		set_err(ld->err, ld->errlen, "%s: the file is empty; it needs at least "
		        "'log_directory'", ld->path);
		return ES_ECONFIG;
	}
	yaml_event_delete(&ev);   /* DOCUMENT_START */
	if ((rc = next_event(ld, &ev)) != 0)
		return rc;
	if (ev.type != YAML_MAPPING_START_EVENT || has_anchor(&ev)) {
		set_err(ld->err, ld->errlen, "%s:%lu: the document is %s, expected a mapping of keys",
		        ld->path, (unsigned long)ev.start_mark.line + 1, event_kind(&ev));
		yaml_event_delete(&ev);
		return ES_ECONFIG;
	}
	yaml_event_delete(&ev);
	if ((rc = load_mapping(ld, "", 0)) != 0)
		return rc;
	if ((rc = next_event(ld, &ev)) != 0)   /* DOCUMENT_END */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(ld, &ev)) != 0)
		return rc;
	if (ev.type != YAML_STREAM_END_EVENT) {
		set_err(ld->err, ld->errlen, "%s:%lu: more than one YAML document", ld->path,
		        (unsigned long)ev.start_mark.line + 1);
		yaml_event_delete(&ev);
		return ES_ECONFIG;
	}
	yaml_event_delete(&ev);
	return 0;
}

/* Cross-key checks and defaults, after the whole file was read. */
static int finish(struct loader *ld)
{
	cfg_t *c = ld->cfg;

	if (!c->log_directory) {
		set_err(ld->err, ld->errlen, "%s: missing required key 'log_directory'", ld->path);
		return ES_ECONFIG;
	}
	if (c->central.url && !c->central.token_file)
		return key_err(ld, ld->line[KEY_CENTRAL_URL], KEY_CENTRAL_TOKEN_FILE,
		               "required when central.url is set");
	if (c->central.retry_max < c->central.retry_initial) {
		enum key_id k = ld->line[KEY_CENTRAL_RETRY_MAX] ? KEY_CENTRAL_RETRY_MAX
		                                                : KEY_CENTRAL_RETRY_INITIAL;
		return key_err(ld, ld->line[k], k, "retry.max (%lds) is less than retry.initial (%lds)",
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

static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t cap = 4096, n = 0;
	char *buf;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = ES_ECONFIG;
		set_err(err, errlen, "%s: not a regular file", path);
		close(fd);
		return rc;
	}
	buf = es_malloc(cap);
	for (;;) {
		ssize_t r;
		if (n == cap) {
			if (cap > CFG_MAX_FILE) {
				rc = ES_ECONFIG;
				set_err(err, errlen, "%s: larger than %d bytes", path, CFG_MAX_FILE);
				break;
			}
			cap *= 2;
			buf = es_realloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc == 0 && n > CFG_MAX_FILE) {
		rc = ES_ECONFIG;
		set_err(err, errlen, "%s: larger than %d bytes", path, CFG_MAX_FILE);
	}
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = n;
	return 0;
}

int cfg_load(cfg_t *cfg, const char *path, char *err, size_t errlen)
{
	struct loader ld;
	char *data = NULL;
	size_t len = 0;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	if (err && errlen)
		err[0] = '\0';
	if ((rc = read_file(path, &data, &len, err, errlen)) != 0)
		return rc;

	memset(&ld, 0, sizeof ld);
	ld.cfg = cfg;
	ld.path = path;
	ld.err = err;
	ld.errlen = errlen;
	cfg->settle = 60;
	cfg->plain_after = 21600;
	cfg->workers = 1;
	cfg->central.granularity = STATS_MONTH;
	cfg->central.retry_initial = 30;
	cfg->central.retry_max = 21600;
	cfg->central.timeout = 600;
	cfg->spool_max_bytes = (uint64_t)1 << 30;

	if (!yaml_parser_initialize(&ld.parser)) {
		free(data);
		set_err(err, errlen, "%s: cannot initialise the YAML parser", path);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)data, len);
	rc = load_document(&ld);
	yaml_parser_delete(&ld.parser);
	free(data);
	if (rc == 0)
		rc = finish(&ld);
	if (rc != 0) {
		cfg_fini(cfg);
		return rc;
	}
	cfg->path = es_strdup(path);
	return 0;
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
		set_err(err, errlen, "%s: cannot open the token file: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot stat the token file: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: the token file is not a regular file", path);
		close(fd);
		return ES_ECONFIG;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		set_err(err, errlen, "%s: the token file is readable by %s (mode %04o); "
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
			set_err(err, errlen, "%s: cannot read the token file: %s", path,
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
		set_err(err, errlen, "%s: the token file is larger than %d bytes", path, CFG_MAX_TOKEN);
		rc = ES_ECONFIG;
	} else if (start == end) {
		set_err(err, errlen, "%s: the token file is empty", path);
		rc = ES_ECONFIG;
	}
	for (size_t i = start; rc == 0 && i < end; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x21 || c == 0x7f) {
			set_err(err, errlen, "%s: the token contains a space or control character",
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
