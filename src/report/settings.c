/*
 * settings.c - the settings file of eidastats-report (settings.h).
 */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "yamlx.h"

enum key { K_DB, K_OUT, K_SMTP_URL, K_SMTP_FROM, K_SMTP_USER, K_SMTP_PASSWORD_FILE,
           K_FEDERATION_TO, K_MAIL_DELAY, KEY_COUNT };

static const struct yamlx_key keys[KEY_COUNT] = {
	[K_DB] = { "db", 0 },
	[K_OUT] = { "out", 0 },
	[K_SMTP_URL] = { "smtp_url", 0 },
	[K_SMTP_FROM] = { "smtp_from", 0 },
	[K_SMTP_USER] = { "smtp_user", 0 },
	[K_SMTP_PASSWORD_FILE] = { "smtp_password_file", 0 },
	[K_FEDERATION_TO] = { "federation_to", 0 },
	[K_MAIL_DELAY] = { "mail_delay", 0 },
};

void rpt_settings_init(struct rpt_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->mail_delay = RPT_DEFAULT_MAIL_DELAY;
}

void rpt_settings_fini(struct rpt_settings *s)
{
	free(s->db);
	free(s->out);
	free(s->smtp_url);
	free(s->smtp_from);
	free(s->smtp_user);
	free(s->smtp_password_file);
	free(s->federation_to);
	free(s->mail_delay_text);
	free(s->file);
	rpt_settings_init(s);
}

static char **slot(struct rpt_settings *s, size_t k)
{
	switch ((enum key)k) {
	case K_DB: return &s->db;
	case K_OUT: return &s->out;
	case K_SMTP_URL: return &s->smtp_url;
	case K_SMTP_FROM: return &s->smtp_from;
	case K_SMTP_USER: return &s->smtp_user;
	case K_SMTP_PASSWORD_FILE: return &s->smtp_password_file;
	case K_FEDERATION_TO: return &s->federation_to;
	case K_MAIL_DELAY: return &s->mail_delay_text;
	case KEY_COUNT: break;
	}
	return NULL;
}

static int set(void *ctx, size_t k, const char *value, size_t len, char *why, size_t whylen)
{
	struct rpt_settings *s = ctx;
	char **p = slot(s, k), *copy;

	if (!p) {
		snprintf(why, whylen, "not a setting");
		return ES_ECONFIG;
	}
	/* db and out name things: an empty value would silently mean "the default". */
	if (len == 0 && (k == K_DB || k == K_OUT)) {
		snprintf(why, whylen, "empty value");
		return ES_ECONFIG;
	}
	if (!(copy = strdup(value)))
		return -ENOMEM;
	free(*p);
	*p = copy;
	return 0;
}

static int load(struct rpt_settings *s, const char *name, const char *text, size_t len,
                char *err, size_t errlen)
{
	unsigned long lines[KEY_COUNT];
	struct yamlx_schema sc = {
		.keys = keys, .nkeys = KEY_COUNT, .set = set, .ctx = s, .key_fmt = "%s: ",
		.flags = YAMLX_FLAT, .lines = lines,
	};
	char *copy = strdup(name);
	int rc;

	if (!copy)
		return -ENOMEM;
	free(s->file);
	s->file = copy;
	if (text)
		rc = yamlx_load_buffer(&sc, name, text, len, err, errlen);
	else
		rc = yamlx_load_file(&sc, name, RPT_MAX_FILE, err, errlen);
	if (rc < 0)
		return rc;
	s->line_smtp_url = lines[K_SMTP_URL];
	s->line_smtp_from = lines[K_SMTP_FROM];
	s->line_federation_to = lines[K_FEDERATION_TO];
	s->line_mail_delay = lines[K_MAIL_DELAY];
	return 0;
}

int rpt_settings_load_text(struct rpt_settings *s, const char *text, size_t len,
                           const char *name, char *err, size_t errlen)
{
	return load(s, name ? name : "(settings)", text ? text : "", text ? len : 0, err, errlen);
}

int rpt_settings_load_file(struct rpt_settings *s, const char *path, char *err, size_t errlen)
{
	return load(s, path, NULL, 0, err, errlen);
}

static int addr_ok(const char *a, size_t n)
{
	const char *at = memchr(a, '@', n);

	if (!at || at == a || at == a + n - 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || a[i] == '<' || a[i] == '>' || a[i] == 0x7f)
			return 0;
	return 1;
}

int rpt_settings_check_mail(struct rpt_settings *s, char *err, size_t errlen)
{
	const char *file = s->file ? s->file : "(settings)";
	struct yamlx_schema sc = { .key_fmt = "%s: " };

	if (!s->smtp_url)
		return yamlx_key_error(&sc, file, 0, "smtp_url", err, errlen, "required for --mail");
	if (strncmp(s->smtp_url, "smtp://", 7) != 0 && strncmp(s->smtp_url, "smtps://", 8) != 0)
		return yamlx_key_error(&sc, file, s->line_smtp_url, "smtp_url", err, errlen,
		                       "not an smtp:// or smtps:// URL");
	if (!s->smtp_from)
		return yamlx_key_error(&sc, file, 0, "smtp_from", err, errlen, "required for --mail");
	if (!addr_ok(s->smtp_from, strlen(s->smtp_from)))
		return yamlx_key_error(&sc, file, s->line_smtp_from, "smtp_from", err, errlen,
		                       "not an e-mail address");
	if (s->federation_to) {
		const char *p = s->federation_to;

		while (*p) {
			size_t n;

			p += strspn(p, " ");
			n = strcspn(p, ",");
			while (n && p[n - 1] == ' ')
				n--;
			if (!addr_ok(p, n))
				return yamlx_key_error(&sc, file, s->line_federation_to, "federation_to",
				                       err, errlen, "not a comma-separated list of e-mail addresses");
			p += strcspn(p, ",");
			if (*p == ',' && !*++p)
				return yamlx_key_error(&sc, file, s->line_federation_to, "federation_to",
				                       err, errlen, "empty address after ','");
		}
	}
	if (s->mail_delay_text) {
		long v;
		int rc = yamlx_parse_duration(s->mail_delay_text, RPT_MAX_MAIL_DELAY, &v);

		if (rc < 0)
			return yamlx_key_error(&sc, file, s->line_mail_delay, "mail_delay", err, errlen,
			                       rc == ES_ELIMIT ? "more than 366 days"
			                                       : "not a duration (30, 30s, 5m, 6h, 3d)");
		s->mail_delay = v;
	}
	return 0;
}
