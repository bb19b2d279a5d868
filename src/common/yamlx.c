#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "error.h"
#include "mem.h"
#include "yamlx.h"

struct loader {
	yaml_parser_t parser;
	const struct yamlx_schema *s;
	const char *name;
	char *err;
	size_t errlen;
};

void yamlx_show(const char *v, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
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

static int vkey_error(const struct yamlx_schema *s, const char *file, unsigned long line,
                      const char *key, char *err, size_t errlen, const char *fmt, va_list ap)
{
	char where[64], keytext[320], msg[600];

	if (line)
		snprintf(where, sizeof where, ":%lu: ", line);
	else
		snprintf(where, sizeof where, ": ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(keytext, sizeof keytext, s->key_fmt ? s->key_fmt : "key '%s': ", key);
	vsnprintf(msg, sizeof msg, fmt, ap);
#pragma GCC diagnostic pop
	es_errf(err, errlen, "%s%s%s%s", file, where, keytext, msg);
	return ES_ECONFIG;
}

int yamlx_key_error(const struct yamlx_schema *s, const char *file, unsigned long line,
                    const char *key, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vkey_error(s, file, line, key, err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int key_err(struct loader *ld, unsigned long line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int key_err(struct loader *ld, unsigned long line, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vkey_error(ld->s, ld->name, line, key, ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int next_event(struct loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev)) {
		es_errf(ld->err, ld->errlen, "%s:%lu: YAML syntax error: %s%s%s", ld->name,
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

/* The flat documents' wording for a value that is not a scalar. */
static int flat_refusal(struct loader *ld, const char *key, const yaml_event_t *vev)
{
	const char *why;

	if (vev->type == YAML_MAPPING_START_EVENT)
		why = "nested mappings are not settings";
	else if (vev->type == YAML_SEQUENCE_START_EVENT)
		why = "a list is not a setting";
	else
		return 0;
	es_errf(ld->err, ld->errlen, "%s:%lu: '%s': %s", ld->name,
	        (unsigned long)vev->start_mark.line + 1, key, why);
	return ES_ECONFIG;
}

/*
 * Reads the pairs of a mapping whose MAPPING_START has been consumed, up to
 * and including its MAPPING_END; prefix is the dotted name of the section
 * ("" at the top).
 */
static int load_mapping(struct loader *ld, const char *prefix, int depth)
{
	const struct yamlx_schema *s = ld->s;
	yaml_event_t kev, vev;
	int rc;

	for (;;) {
		char full[256], why[512];
		size_t k = s->nkeys;
		unsigned long line;

		if ((rc = next_event(ld, &kev)) != 0)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		line = (unsigned long)kev.start_mark.line + 1;
		if (kev.type != YAML_SCALAR_EVENT || has_anchor(&kev)) {
			es_errf(ld->err, ld->errlen, "%s:%lu: %s%skey is %s, expected a plain name",
			        ld->name, line, prefix, *prefix ? ": " : "", event_kind(&kev));
			yaml_event_delete(&kev);
			return ES_ECONFIG;
		}
		{
			char shown[80];
			yamlx_show((const char *)kev.data.scalar.value, shown, sizeof shown);
			snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", shown);
		}
		yaml_event_delete(&kev);
		if ((rc = next_event(ld, &vev)) != 0)
			return rc;
		if ((s->flags & YAMLX_FLAT) && (rc = flat_refusal(ld, full, &vev)) != 0) {
			yaml_event_delete(&vev);
			return rc;
		}
		for (size_t i = 0; i < s->nkeys; i++)
			if (strcmp(s->keys[i].name, full) == 0)
				k = i;
		if (k == s->nkeys) {
			yaml_event_delete(&vev);
			es_errf(ld->err, ld->errlen, "%s:%lu: unknown key '%s'", ld->name, line, full);
			return ES_ECONFIG;
		}
		if (s->lines[k]) {
			yaml_event_delete(&vev);
			es_errf(ld->err, ld->errlen, "%s:%lu: key '%s' given twice (first on line %lu)",
			        ld->name, line, full, s->lines[k]);
			return ES_ECONFIG;
		}
		s->lines[k] = line;

		if (vev.type == YAML_ALIAS_EVENT || has_anchor(&vev)) {
			yaml_event_delete(&vev);
			return key_err(ld, line, full, "anchors and aliases are not supported");
		}
		if (s->keys[k].section) {
			if (vev.type != YAML_MAPPING_START_EVENT) {
				rc = key_err(ld, line, full, "is %s, expected a mapping of keys",
				             event_kind(&vev));
				yaml_event_delete(&vev);
				return rc;
			}
			yaml_event_delete(&vev);
			if (depth >= YAMLX_MAX_DEPTH)
				return key_err(ld, line, full, "nested too deeply");
			if ((rc = load_mapping(ld, full, depth + 1)) != 0)
				return rc;
			continue;
		}
		if (vev.type != YAML_SCALAR_EVENT) {
			rc = key_err(ld, line, full, "is %s, expected a single value", event_kind(&vev));
			yaml_event_delete(&vev);
			return rc;
		}
		const char *v = (const char *)vev.data.scalar.value;
		size_t vlen = vev.data.scalar.length;
		if (vlen != strlen(v))
			rc = key_err(ld, line, full, "value contains a NUL character");
		else if (vlen > YAMLX_MAX_STRING)
			rc = key_err(ld, line, full, "value longer than %d bytes", YAMLX_MAX_STRING);
		else if ((rc = s->set(s->ctx, k, v, vlen, why, sizeof why)) != 0)
			rc = key_err(ld, line, full, "%s", why);
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
		if (!ld->s->empty_msg)
			return 0;
		es_errf(ld->err, ld->errlen, "%s: %s", ld->name, ld->s->empty_msg);
		return ES_ECONFIG;
	}
	yaml_event_delete(&ev);   /* DOCUMENT_START */
	if ((rc = next_event(ld, &ev)) != 0)
		return rc;
	if (ev.type != YAML_MAPPING_START_EVENT || has_anchor(&ev)) {
		es_errf(ld->err, ld->errlen, "%s:%lu: the document is %s, expected a mapping of keys",
		        ld->name, (unsigned long)ev.start_mark.line + 1, event_kind(&ev));
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
		es_errf(ld->err, ld->errlen, "%s:%lu: more than one YAML document", ld->name,
		        (unsigned long)ev.start_mark.line + 1);
		yaml_event_delete(&ev);
		return ES_ECONFIG;
	}
	yaml_event_delete(&ev);
	return 0;
}

int yamlx_load_buffer(const struct yamlx_schema *s, const char *name, const char *data,
                      size_t len, char *err, size_t errlen)
{
	struct loader ld;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	memset(s->lines, 0, s->nkeys * sizeof s->lines[0]);
	memset(&ld, 0, sizeof ld);
	ld.s = s;
	ld.name = name;
	ld.err = err;
	ld.errlen = errlen;
	if (!yaml_parser_initialize(&ld.parser)) {
		es_errf(err, errlen, "%s: cannot initialise the YAML parser", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)data, len);
	rc = load_document(&ld);
	yaml_parser_delete(&ld.parser);
	return rc;
}

static int read_all(const char *path, size_t max, char **data, size_t *len, char *err,
                    size_t errlen)
{
	struct stat st;
	size_t cap = 4096, n = 0;
	char *buf;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		es_errf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		es_errf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return ES_ECONFIG;
	}
	buf = es_malloc(cap);
	for (;;) {
		ssize_t r;
		if (n == cap) {
			if (cap > max) {
				rc = ES_ECONFIG;
				es_errf(err, errlen, "%s: larger than %zu bytes", path, max);
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
			es_errf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc == 0 && n > max) {
		rc = ES_ECONFIG;
		es_errf(err, errlen, "%s: larger than %zu bytes", path, max);
	}
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = n;
	return 0;
}

int yamlx_load_file(const struct yamlx_schema *s, const char *path, size_t max_file,
                    char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	memset(s->lines, 0, s->nkeys * sizeof s->lines[0]);
	if ((rc = read_all(path, max_file, &data, &len, err, errlen)) != 0)
		return rc;
	rc = yamlx_load_buffer(s, path, data, len, err, errlen);
	free(data);
	return rc;
}

int yamlx_parse_size(const char *text, uint64_t max, uint64_t *bytes)
{
	const char *p = text;
	uint64_t value = 0, unit = 1;

	if (!text || !isdigit((unsigned char)*p))
		return ES_EFORMAT;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - d) / 10)
			return ES_EFORMAT;
		value = value * 10 + d;
	}
	if (*p) {
		switch (toupper((unsigned char)*p)) {
		case 'K': unit = (uint64_t)1 << 10; break;
		case 'M': unit = (uint64_t)1 << 20; break;
		case 'G': unit = (uint64_t)1 << 30; break;
		case 'T': unit = (uint64_t)1 << 40; break;
		case 'B': unit = 1; break;
		default: return ES_EFORMAT;
		}
		p++;
		if (unit > 1) {
			if (p[0] == 'i' && p[1] == 'B')
				p += 2;
			else if (p[0] == 'B')
				p++;
		}
		if (*p)
			return ES_EFORMAT;
	}
	if (value > UINT64_MAX / unit)
		return ES_EFORMAT;
	if (value * unit > max)
		return ES_ELIMIT;
	*bytes = value * unit;
	return 0;
}

int yamlx_parse_duration(const char *text, long max_seconds, long *seconds)
{
	const char *p = text;
	long value = 0, unit = 1;

	if (!text || !isdigit((unsigned char)*p))
		return ES_EFORMAT;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (value > (LONG_MAX - d) / 10)
			return ES_EFORMAT;
		value = value * 10 + d;
	}
	if (*p) {
		switch (*p) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return ES_EFORMAT;
		}
		if (p[1])
			return ES_EFORMAT;
	}
	if (value > LONG_MAX / unit)
		return ES_EFORMAT;
	if (value * unit > max_seconds)
		return ES_ELIMIT;
	*seconds = value * unit;
	return 0;
}

int yamlx_parse_bool(const char *text, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; text && i < 3; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return ES_EFORMAT;
}
