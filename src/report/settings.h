/*
 * settings.h - the settings file of eidastats-report (etc/report.yaml,
 * default /etc/eidastats/report.yaml): one flat YAML mapping read by the one
 * strict loader of yamlx.h, so unknown keys, keys given twice, nested values
 * and bad values are refused as "FILE:LINE: KEY: reason".
 *
 * Keys: db, out (the report directory), and the mail keys smtp_url,
 * smtp_from, smtp_user, smtp_password_file, federation_to, mail_delay.  The
 * mail keys are kept as text when loading and checked only by
 * rpt_settings_check_mail() (called for --mail), so a file written for a
 * host that does not mail is never refused for them.
 *
 * Ownership: struct rpt_settings owns its strings (rpt_settings_fini frees).
 * No state: any thread, one struct per thread.
 */
#ifndef ES_REPORT_SETTINGS_H
#define ES_REPORT_SETTINGS_H

#include <stddef.h>

#define RPT_DEFAULT_CONFIG SYSCONFDIR "/eidastats/report.yaml"
#define RPT_MAX_FILE (64 * 1024)
/* Default and upper bound of mail_delay, seconds. */
#define RPT_DEFAULT_MAIL_DELAY (3 * 86400)
#define RPT_MAX_MAIL_DELAY (366L * 86400)

struct rpt_settings {
	char *db;                   /* libpq conninfo or URI; NULL: not given. */
	char *out;                  /* Report directory; NULL: not given. */
	char *smtp_url;             /* smtp://HOST[:PORT] or smtps://...; NULL: not given. */
	char *smtp_from;            /* Sender address. */
	char *smtp_user;            /* SMTP user name; NULL: no authentication. */
	char *smtp_password_file;   /* File holding the SMTP password (mode 0600 or stricter). */
	char *federation_to;        /* Comma-separated addresses of the federation summary; NULL: none. */
	char *mail_delay_text;      /* mail_delay as written; NULL: the default. */
	long mail_delay;            /* Seconds, set by rpt_settings_check_mail(). */
	/* 1-based line of each key in the file, 0 when not given (for messages after loading). */
	unsigned long line_smtp_url, line_smtp_from, line_federation_to, line_mail_delay;
	char *file;                 /* Name of the file loaded (messages), or NULL. */
};

void rpt_settings_init(struct rpt_settings *s);
void rpt_settings_fini(struct rpt_settings *s);
/*
 * Loads the document text[0..len) named name (for messages) into s (after
 * rpt_settings_init; keys given override what s holds).  0, ES_ECONFIG with
 * err "NAME:LINE: KEY: reason", or -ENOMEM.  The entry point of the fuzzer.
 */
int rpt_settings_load_text(struct rpt_settings *s, const char *text, size_t len,
                           const char *name, char *err, size_t errlen);
/* Reads path (at most RPT_MAX_FILE bytes) and loads it; -errno when it cannot be read. */
int rpt_settings_load_file(struct rpt_settings *s, const char *path, char *err, size_t errlen);
/*
 * The mail keys, for --mail: smtp_url (smtp:// or smtps://) and smtp_from
 * required, federation_to a list of addresses, mail_delay a duration
 * (yamlx.h's syntax, at most RPT_MAX_MAIL_DELAY; sets s->mail_delay).
 * 0 or ES_ECONFIG with err naming the file, line and key.
 */
int rpt_settings_check_mail(struct rpt_settings *s, char *err, size_t errlen);

#endif
