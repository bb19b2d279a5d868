/*
 * mail.h - `eidastats-report --mail`: sends each period's reports once, by
 * SMTP, to the people they are for, and records what was sent.
 *
 * What goes (doc/eidastats-report.8, MAIL):
 *   - to a node's contact (nodes.contact): DIR/P/nodes/NODE.html with the
 *     node's CSV tables (NODE-TABLE.csv, TABLE in [a-z]+: networks, stations,
 *     countries, coverage, trend);
 *   - to a network's contact (networks.contact, `eidastats-admin network
 *     set-contact`): DIR/P/networks/NODE/NET.html with NET-TABLE.csv;
 *   - to the federation_to list, when not empty: DIR/P/index.html with
 *     DIR/P/TABLE.csv (nodes, networks, countries, trend).
 * NODE and NET are named in DIR by fsx_safe_name() (fsx.h).
 * Each mail has a plain-text summary of the report's JSON twin (totals,
 * missing days) as its body and the files as attachments (multipart/mixed,
 * base64).  A period P (a directory YYYY-MM or YYYY of DIR) is due once it
 * ended mail_delay seconds ago (so late payloads are in), and stays due for
 * RMAIL_WINDOW more seconds: a failed mail is retried at each run within
 * that window, and the old periods of a report directory are not mailed
 * when mail is first switched on.  A mail is recorded in the table
 * report_mail (sql/007) only once the SMTP server accepted it; its unique
 * key (period, scope, node, network) means a report remade later is never
 * mailed again.  A PostgreSQL advisory lock keeps two runs from sending
 * the same mail at once.
 *
 * SMTP goes through libcurl (curlx.h's handle narrowed to smtp and smtps)
 * and its MIME API.  STARTTLS is required (CURLUSESSL_ALL) unless the URL
 * is smtps:// (TLS from the start) or its host is local (localhost,
 * 127.0.0.0/8, ::1), where no TLS is asked for.
 *
 * Errors: 0 or a negative code (error.h): ES_ECONFIG a bad setting or
 * contact, ES_ENET the SMTP server refused or could not be reached,
 * -ENOTCONN and the pgx.h codes for the database, -errno for the report
 * files, ES_ELIMIT for a limit below.  Functions that can fail write one
 * line into err (errcap bytes); rmail_run() reports every event through
 * its es_log sink and never prints.
 *
 * Ownership: the caller owns the opts and everything they point to;
 * rmail_recipients_free() frees a parsed list.  The module has no state.
 * Threads: any thread, but rmail_run() needs curl_global_init() done by the
 * program first.
 */
#ifndef ES_RMAIL_H
#define ES_RMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"

/* Default mail_delay: 3 days after a period ends. */
#define RMAIL_DELAY_DEFAULT (3L * 86400)
/* How long a period stays due after its delay (35 days). */
#define RMAIL_WINDOW (35L * 86400)
/* Limits: recipients of one mail, bytes of one address, of a password, of
 * all attachments of one mail, of a report's JSON twin read for the body. */
#define RMAIL_MAX_RCPT 32
#define RMAIL_MAX_ADDR 254
#define RMAIL_MAX_PASSWORD 1024
#define RMAIL_MAX_ATTACH ((size_t)25 << 20)
#define RMAIL_MAX_JSON ((size_t)16 << 20)

struct rmail_opts {
	/* The database: conn when not NULL (borrowed), else a session opened on
	 * conninfo for the run. */
	PGconn *conn;
	const char *conninfo;
	const char *dir;                 /* The report directory (DIR). */
	const char *smtp_url;            /* smtp://host[:port] or smtps://... */
	const char *smtp_from;           /* The sender's address (From and MAIL FROM). */
	const char *smtp_user;           /* NULL or "": no authentication. */
	const char *smtp_password_file;  /* Needed with smtp_user. */
	const char *const *federation_to;/* Addresses of the federation summary. */
	size_t n_federation_to;          /* 0: no federation summary. */
	long mail_delay;                 /* Seconds; negative: RMAIL_DELAY_DEFAULT. */
	time_t now;                      /* The run's time (time(NULL) in the program). */
	bool dry_run;                    /* List what is due; send and record nothing. */
	const struct es_log *log;        /* Every sent, failed, due or skipped mail. */
};

struct rmail_result {
	unsigned sent;      /* Mails the server accepted (and recorded). */
	unsigned failed;    /* Mails that failed; they stay due. */
	unsigned pending;   /* Dry run: mails that would be sent. */
	unsigned already;   /* Due periods' mails recorded by an earlier run. */
};

/*
 * Sends every due mail (see above).  0 when every due mail went (or, in a
 * dry run, was listed); else the code of the first failure, after which the
 * other mails of the run were still tried; *r counts them either way.  A
 * bad setting (rmail_check()) fails before anything is sent.
 */
int rmail_run(const struct rmail_opts *o, struct rmail_result *r, char *err, size_t errcap);

/*
 * Checks the SMTP settings of o (URL scheme and host, sender, the password
 * file when smtp_user is set, the federation_to addresses) without sending
 * anything.  0 or ES_ECONFIG (or the password file's -errno) with err.
 */
int rmail_check(const struct rmail_opts *o, char *err, size_t errcap);

/* ---- Pure parts, exposed for the unit tests ---- */

/* The state of one mail for a period that ended (exclusive) at `end`. */
enum rmail_state {
	RMAIL_NOT_YET,   /* now < end + delay: late payloads may still come. */
	RMAIL_DUE,       /* To be sent now. */
	RMAIL_SENT,      /* Recorded: sent by an earlier run. */
	RMAIL_EXPIRED    /* Older than the window and never sent: left alone. */
};
enum rmail_state rmail_state(time_t end, long delay, long window, time_t now, bool recorded);

/*
 * A period directory name: "YYYY-MM" (kind month) or "YYYY" (year), years
 * 1970..9999.  0 with *start (its first instant) and *end (the first
 * instant after it), both UTC; ES_EFORMAT for any other name.
 */
int rmail_period_parse(const char *name, time_t *start, time_t *end);

/*
 * A recipient list: addresses separated by commas and/or white space
 * ("a@x.org, b@y.org").  Each must be local@domain, printable ASCII without
 * space, quotes, angle brackets, parentheses or semicolons, at most
 * RMAIL_MAX_ADDR bytes; at most RMAIL_MAX_RCPT of them, duplicates
 * removed.  0 with a malloc'd NULL-terminated array in *out (count in *n;
 * rmail_recipients_free()), ES_ECONFIG (nothing or a bad address) or
 * ES_ELIMIT, with err naming the address.
 */
int rmail_recipients(const char *text, char ***out, size_t *n, char *err, size_t errcap);
void rmail_recipients_free(char **list);

/*
 * True when the host of an smtp URL is local: "localhost", an IPv4
 * address in 127.0.0.0/8, or ::1 (with or without brackets).
 */
bool rmail_host_local(const char *host);

/*
 * Reads the first line of the password file path (without its line end)
 * into buf (cap bytes).  Refused (ES_ECONFIG) when the file is not a
 * regular file, is group- or world-readable, is empty or longer than
 * cap - 1 bytes; -errno when it cannot be opened or read.  err names the
 * file and the fix.  The caller wipes buf (explicit_bzero) after use.
 */
int rmail_password_read(const char *path, char *buf, size_t cap, char *err, size_t errcap);

/*
 * A Subject header value: the text itself when it is printable ASCII, else
 * RFC 2047 encoded words ("=?UTF-8?B?...?=", each at most 75 bytes, never
 * splitting a UTF-8 sequence, separated by spaces).  Control characters
 * become '?'; invalid UTF-8 is replaced by U+FFFD.  0, or ES_ELIMIT when
 * it does not fit in cap bytes.
 */
int rmail_subject(const char *text, char *out, size_t cap);

/* RFC 5322 date of t in UTC ("Sun, 29 Nov 2026 19:00:00 +0000"); out holds 32 bytes. */
void rmail_date(time_t t, char out[32]);

#endif
