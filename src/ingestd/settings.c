#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "error.h"
#include "mem.h"
#include "submit.h"

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
	c->timeout = INGEST_DEFAULT_TIMEOUT;
	c->max_connections = INGEST_DEFAULT_MAX_CONNECTIONS;
}

void ingest_config_fini(struct ingest_config *c)
{
	free(c->db);
	free(c->listen);
	free(c->prefix);
	memset(c, 0, sizeof *c);
}

int ingest_parse_size(const char *text, size_t *out)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "B", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GiB", 30 },
	};
	char *end;
	unsigned long long v;

	if (!text || text[0] < '0' || text[0] > '9')
		return ES_EFORMAT;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return ES_EFORMAT;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > (SIZE_MAX >> units[i].shift))
				return ES_EFORMAT;
			*out = (size_t)v << units[i].shift;
			return 0;
		}
	}
	return ES_EFORMAT;
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

static int bad(char *err, size_t errlen, const char *key, const char *why)
{
	snprintf(err, errlen, "%s: %s", key, why);
	return ES_ECONFIG;
}

int ingest_config_set(struct ingest_config *c, const char *key, const char *value,
                      char *err, size_t errlen)
{
	size_t size;

	if (strcmp(key, "db") == 0) {
		if (value[0] == '\0')
			return bad(err, errlen, key, "empty");
		free(c->db);
		c->db = es_strdup(value);
	} else if (strcmp(key, "listen") == 0) {
		if (value[0] == '\0' || !strrchr(value, ':'))
			return bad(err, errlen, key, "not ADDR:PORT");
		free(c->listen);
		c->listen = es_strdup(value);
	} else if (strcmp(key, "prefix") == 0) {
		size_t n = strlen(value);
		while (n > 0 && value[n - 1] == '/')
			n--;
		if (value[0] != '/' && n > 0)
			return bad(err, errlen, key, "must start with '/'");
		free(c->prefix);
		c->prefix = es_strndup(value, n);
	} else if (strcmp(key, "workers") == 0) {
		if (parse_uint(value, 1, INGEST_MAX_WORKERS, &c->workers) < 0)
			return bad(err, errlen, key, "not a number from 1 to 256");
	} else if (strcmp(key, "timeout") == 0) {
		if (parse_uint(value, 1, 86400, &c->timeout) < 0)
			return bad(err, errlen, key, "not a number of seconds from 1 to 86400");
	} else if (strcmp(key, "max_connections") == 0) {
		if (parse_uint(value, 1, 65536, &c->max_connections) < 0)
			return bad(err, errlen, key, "not a number from 1 to 65536");
	} else if (strcmp(key, "max_body") == 0 || strcmp(key, "max_decompressed") == 0) {
		if (ingest_parse_size(value, &size) < 0 || size == 0)
			return bad(err, errlen, key, "not a size such as 64MiB");
		if (key[4] == 'b')
			c->max_body = size;
		else
			c->max_decompressed = size;
	} else if (strcmp(key, "max_stats") == 0) {
		unsigned n;
		if (parse_uint(value, 1, UINT_MAX, &n) < 0)
			return bad(err, errlen, key, "not a positive number");
		c->max_stats = n;
	} else {
		snprintf(err, errlen, "unknown key '%s'", key);
		return ES_ECONFIG;
	}
	return 0;
}

int ingest_config_check(const struct ingest_config *c, char *err, size_t errlen)
{
	if (!c->db) {
		snprintf(err, errlen, "no database: give --db CONNINFO or 'db:' in the configuration file");
		return ES_ECONFIG;
	}
	return 0;
}

int ingest_config_load(struct ingest_config *c, const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	FILE *f;
	char *key = NULL;
	size_t key_line = 0;
	int depth = 0, rc = 0;
	bool done = false;

	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		snprintf(err, errlen, "%s: cannot initialise the YAML parser", path);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(err, errlen, "%s:%zu: %s", path, parser.problem_mark.line + 1,
			         parser.problem ? parser.problem : "invalid YAML");
			rc = ES_ECONFIG;
			break;
		}
		size_t line = ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			if (depth++ > 0 || key) {
				snprintf(err, errlen, "%s:%zu: %s%s%snested mappings are not settings", path, line,
				         key ? "'" : "", key ? key : "", key ? "': " : "");
				rc = ES_ECONFIG;
			}
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
			snprintf(err, errlen, "%s:%zu: %s%s%sa list is not a setting", path, line,
			         key ? "'" : "", key ? key : "", key ? "': " : "");
			rc = ES_ECONFIG;
			break;
		case YAML_ALIAS_EVENT:
			snprintf(err, errlen, "%s:%zu: aliases are not supported", path, line);
			rc = ES_ECONFIG;
			break;
		case YAML_SCALAR_EVENT: {
			const char *text = (const char *)ev.data.scalar.value;
			if (depth != 1) {
				snprintf(err, errlen, "%s:%zu: expected a mapping of settings", path, line);
				rc = ES_ECONFIG;
			} else if (!key) {
				key = es_strdup(text);
				key_line = line;
			} else {
				char why[256];
				if (ingest_config_set(c, key, text, why, sizeof why) < 0) {
					snprintf(err, errlen, "%s:%zu: %s", path, key_line, why);
					rc = ES_ECONFIG;
				}
				free(key);
				key = NULL;
			}
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	free(key);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}
