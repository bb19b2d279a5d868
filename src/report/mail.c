#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "curlx.h"
#include "error.h"
#include "fsx.h"
#include "hex.h"
#include "jsonw.h"
#include "mem.h"
#include "pgx.h"
#include "utf8.h"

#include "emit.h"
#include "report/mail.h"

/* Serialises concurrent --mail runs on one database (pg_try_advisory_lock). */
#define RMAIL_LOCK_KEY "4242007"
/* Rows of report_mail read at most (a century of monthly mails to 100 nodes is 130 000). */
#define RMAIL_MAX_SENT 1000000
#define RMAIL_MAX_TARGETS 100000
#define RMAIL_MAX_PERIODS 10000
#define RMAIL_SUBJECT_MAX 1024
#define RMAIL_BODY_MAX ((size_t)1 << 20)
#define RMAIL_MAX_FILES 16

/* ---- Pure parts ---- */

enum rmail_state rmail_state(time_t end, long delay, long window, time_t now, bool recorded)
{
	if (recorded)
		return RMAIL_SENT;
	if (now < end + delay)
		return RMAIL_NOT_YET;
	if (now >= end + delay + window)
		return RMAIL_EXPIRED;
	return RMAIL_DUE;
}

static time_t utc_time(int year, int month)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = 1 };
	return timegm(&tm);
}

int rmail_period_parse(const char *name, time_t *start, time_t *end)
{
	size_t len = strlen(name);
	int year, month = 0;

	if ((len != 4 && len != 7) || strspn(name, "0123456789") != 4 ||
	    (len == 7 && (name[4] != '-' || strspn(name + 5, "0123456789") != 2)))
		return ES_EFORMAT;
	year = atoi(name);
	if (len == 7)
		month = atoi(name + 5);
	if (year < 1970 || (len == 7 && (month < 1 || month > 12)))
		return ES_EFORMAT;
	if (len == 4) {
		*start = utc_time(year, 1);
		*end = utc_time(year + 1, 1);
	} else {
		*start = utc_time(year, month);
		*end = month == 12 ? utc_time(year + 1, 1) : utc_time(year, month + 1);
	}
	return 0;
}

/* local@domain of printable ASCII without the characters that would let an
 * address end a header field or an SMTP command early. */
static bool addr_valid(const char *a, size_t len)
{
	const char *at = memchr(a, '@', len);

	if (len == 0 || len > RMAIL_MAX_ADDR || !at || at == a || at == a + len - 1 ||
	    memchr(at + 1, '@', (size_t)(a + len - at - 1)) || at[1] == '.' || a[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\"<>()[];,\\:", c))
			return false;
	}
	return true;
}

void rmail_recipients_free(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

int rmail_recipients(const char *text, char ***out, size_t *n, char *err, size_t errcap)
{
	static const char sep[] = ", \t\r\n";
	char **list = es_calloc(RMAIL_MAX_RCPT + 1, sizeof *list);
	size_t count = 0;
	const char *p = text ? text : "";

	*out = NULL;
	*n = 0;
	for (;;) {
		size_t len;
		bool dup = false;

		p += strspn(p, sep);
		if (!*p)
			break;
		len = strcspn(p, sep);
		if (!addr_valid(p, len)) {
			es_errf(err, errcap, "\"%.*s\" is not an e-mail address (local@domain, "
			       "addresses separated by commas)", (int)(len > 300 ? 300 : len), p);
			rmail_recipients_free(list);
			return ES_ECONFIG;
		}
		for (size_t i = 0; i < count; i++)
			if (strlen(list[i]) == len && strncasecmp(list[i], p, len) == 0)
				dup = true;
		if (!dup) {
			if (count == RMAIL_MAX_RCPT) {
				es_errf(err, errcap, "more than %d recipients", RMAIL_MAX_RCPT);
				rmail_recipients_free(list);
				return ES_ELIMIT;
			}
			list[count++] = es_strndup(p, len);
		}
		p += len;
	}
	if (count == 0) {
		es_errf(err, errcap, "no e-mail address");
		rmail_recipients_free(list);
		return ES_ECONFIG;
	}
	*out = list;
	*n = count;
	return 0;
}

bool rmail_host_local(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t len = strlen(host);

	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof buf) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int rmail_password_read(const char *path, char *buf, size_t cap, char *err, size_t errcap)
{
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int fd, rc = 0;

	if (cap < 2)
		return ES_EINTERNAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		es_errf(err, errcap, "smtp_password_file %s cannot be read: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		es_errf(err, errcap, "smtp_password_file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		es_errf(err, errcap, "smtp_password_file %s is not a regular file", path);
		rc = ES_ECONFIG;
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		es_errf(err, errcap, "smtp_password_file %s is readable by %s (mode %04o): refused; "
		       "chmod go-rwx it", path, (st.st_mode & S_IROTH) ? "everyone" : "its group",
		       (unsigned)(st.st_mode & 07777));
		rc = ES_ECONFIG;
		goto out;
	}
	/* One byte more than fits, to see a password that is too long. */
	while (len < cap) {
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			es_errf(err, errcap, "smtp_password_file %s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	{
		char *nl = memchr(buf, '\n', len);
		if (nl)
			len = (size_t)(nl - buf);
		else if (len == cap) {
			es_errf(err, errcap, "smtp_password_file %s: the password is longer than %zu bytes",
			       path, cap - 1);
			rc = ES_ECONFIG;
			goto out;
		}
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (len == 0) {
		es_errf(err, errcap, "smtp_password_file %s: its first line is empty", path);
		rc = ES_ECONFIG;
	} else if (memchr(buf, '\0', len)) {
		es_errf(err, errcap, "smtp_password_file %s: the password holds a NUL byte", path);
		rc = ES_ECONFIG;
	}
out:
	if (rc < 0)
		explicit_bzero(buf, cap);
	close(fd);
	return rc;
}

int rmail_subject(const char *text, char *out, size_t cap)
{
	/* The text made safe: control characters '?', invalid UTF-8 U+FFFD. */
	char clean[RMAIL_SUBJECT_MAX];
	size_t len = strlen(text), n = 0, o = 0;
	bool ascii = true;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)text + i, len - i, &cp);
		char enc[4];
		size_t elen;

		if (k == 0) {
			cp = 0xfffd;
			k = 1;
		}
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			cp = '?';
		if (cp >= 0x80)
			ascii = false;
		elen = utf8_encode(cp, enc);
		if (n + elen >= sizeof clean)
			return ES_ELIMIT;
		memcpy(clean + n, enc, elen);
		n += elen;
		i += k;
	}
	clean[n] = '\0';
	if (ascii) {
		if (n >= cap)
			return ES_ELIMIT;
		memcpy(out, clean, n + 1);
		return 0;
	}
	/* "=?UTF-8?B?" + base64 + "?=" is at most 75 bytes: 45 bytes of text a word. */
	for (size_t i = 0; i < n;) {
		size_t take = 0;
		unsigned char b64[64];
		int blen;

		while (i + take < n) {
			uint32_t cp;
			size_t k = utf8_decode((const unsigned char *)clean + i + take, n - i - take, &cp);
			if (k == 0 || take + k > 45)
				break;
			take += k;
		}
		blen = EVP_EncodeBlock(b64, (const unsigned char *)clean + i, (int)take);
		if (o + (o > 0) + 12 + (size_t)blen + 1 > cap)
			return ES_ELIMIT;
		o += (size_t)sprintf(out + o, "%s=?UTF-8?B?%s?=", o > 0 ? " " : "", (const char *)b64);
		i += take;
	}
	return 0;
}

void rmail_date(time_t t, char out[32])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
	                                    "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		tm.tm_year = 9999 - 1900;
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	         months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- Settings ---- */

/* Scheme and host of url; 0 or ES_ECONFIG. *tls_required: STARTTLS must be used. */
static int url_check(const char *url, bool *starttls, char *err, size_t errcap)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = 0;

	if (!u)
		return -ENOMEM;
	if (!url || !*url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		es_errf(err, errcap, "smtp_url \"%s\" is not a URL (smtp://HOST[:PORT] or smtps://HOST[:PORT])",
		       url ? url : "");
		rc = ES_ECONFIG;
	} else if (strcasecmp(scheme, "smtp") != 0 && strcasecmp(scheme, "smtps") != 0) {
		es_errf(err, errcap, "smtp_url \"%s\": the scheme must be smtp or smtps", url);
		rc = ES_ECONFIG;
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		es_errf(err, errcap, "smtp_url must not hold a user or password: give smtp_user and "
		       "smtp_password_file");
		rc = ES_ECONFIG;
	} else {
		*starttls = strcasecmp(scheme, "smtp") == 0 && !rmail_host_local(host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

static bool has(const char *s)
{
	return s && *s;
}

/* Checks everything; with pw not NULL, leaves the password in it. */
static int check(const struct rmail_opts *o, bool *starttls, char *pw, size_t pwcap,
                 char *err, size_t errcap)
{
	char e[512];
	char **list;
	size_t n;
	int rc;

	if (!has(o->dir)) {
		es_errf(err, errcap, "--mail needs the report directory (out)");
		return ES_ECONFIG;
	}
	rc = url_check(o->smtp_url, starttls, err, errcap);
	if (rc < 0)
		return rc;
	if (!has(o->smtp_from)) {
		es_errf(err, errcap, "--mail needs smtp_from, the sender's address");
		return ES_ECONFIG;
	}
	rc = rmail_recipients(o->smtp_from, &list, &n, e, sizeof e);
	if (rc == 0 && n != 1) {
		rmail_recipients_free(list);
		rc = ES_ECONFIG;
		es_errf(e, sizeof e, "one address only");
	}
	if (rc == 0)
		rmail_recipients_free(list);
	else {
		es_errf(err, errcap, "smtp_from: %s", e);
		return ES_ECONFIG;
	}
	for (size_t i = 0; i < o->n_federation_to; i++) {
		rc = rmail_recipients(o->federation_to[i], &list, &n, e, sizeof e);
		if (rc < 0) {
			es_errf(err, errcap, "federation_to: %s", e);
			return rc;
		}
		rmail_recipients_free(list);
	}
	if (has(o->smtp_user)) {
		char tmp[RMAIL_MAX_PASSWORD + 1];
		if (!has(o->smtp_password_file)) {
			es_errf(err, errcap, "smtp_user is set: smtp_password_file is needed too");
			return ES_ECONFIG;
		}
		rc = rmail_password_read(o->smtp_password_file, pw ? pw : tmp, pw ? pwcap : sizeof tmp,
		                         err, errcap);
		explicit_bzero(tmp, sizeof tmp);
		if (rc < 0)
			return rc;
	} else if (has(o->smtp_password_file)) {
		es_errf(err, errcap, "smtp_password_file is set but smtp_user is not");
		return ES_ECONFIG;
	}
	if (o->mail_delay > 366L * 86400) {
		es_errf(err, errcap, "mail_delay %ld s is more than a year", o->mail_delay);
		return ES_ECONFIG;
	}
	return 0;
}

int rmail_check(const struct rmail_opts *o, char *err, size_t errcap)
{
	bool starttls;
	return check(o, &starttls, NULL, 0, err, errcap);
}

/* ---- One run ---- */

enum scope { SCOPE_FEDERATION, SCOPE_NODE, SCOPE_NETWORK };
static const char *const scope_names[] = { "federation", "node", "network" };

/* Someone who gets a report: the federation list, a node's or a network's contact. */
struct target {
	enum scope scope;
	char *node;      /* "" for the federation. */
	char *network;   /* "" unless a network. */
	char *contact;   /* Address list text. */
};

struct run {
	const struct rmail_opts *o;
	PGconn *pg;
	CURL *curl;
	char password[RMAIL_MAX_PASSWORD + 1];
	bool starttls;
	char **sent;        /* Sorted keys "period\x1fscope\x1fnode\x1fnetwork" of report_mail. */
	size_t nsent;
	struct target *targets;
	size_t ntargets;
	struct rmail_result *r;
	int first_err;
	char err[1024];     /* First failure's text, for rmail_run's err. */
};

static void fail(struct run *run, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct run *run, int rc, const char *fmt, ...)
{
	char msg[ES_LOG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	es_log_msg(run->o->log, LOG_ERR, "%s", msg);
	if (run->first_err == 0) {
		run->first_err = rc;
		snprintf(run->err, sizeof run->err, "%s", msg);
	}
}

static char *key_of(const char *period, const char *scope, const char *node, const char *network)
{
	size_t len = strlen(period) + strlen(scope) + strlen(node) + strlen(network) + 4;
	char *k = es_malloc(len);
	snprintf(k, len, "%s\x1f%s\x1f%s\x1f%s", period, scope, node, network);
	return k;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool recorded(const struct run *run, const char *period, const struct target *t)
{
	char *k = key_of(period, scope_names[t->scope], t->node, t->network);
	bool found = run->nsent > 0 && bsearch(&k, run->sent, run->nsent, sizeof *run->sent, cmp_str);
	free(k);
	return found;
}

static int load_sent(struct run *run, char *err, size_t errcap)
{
	PGresult *res;
	int rc, rows;

	rc = pgx_exec(run->pg, "SELECT period, scope, node, network FROM report_mail LIMIT "
	              "1000001", 0, NULL, &res, "reading report_mail (run eidastats-admin db migrate?)",
	              err, errcap);
	if (rc < 0)
		return rc;
	rows = PQntuples(res);
	if (rows > RMAIL_MAX_SENT) {
		PQclear(res);
		es_errf(err, errcap, "report_mail holds more than %d rows", RMAIL_MAX_SENT);
		return ES_ELIMIT;
	}
	run->sent = es_calloc((size_t)rows + 1, sizeof *run->sent);
	for (int i = 0; i < rows; i++)
		run->sent[i] = key_of(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		                      PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	run->nsent = (size_t)rows;
	PQclear(res);
	qsort(run->sent, run->nsent, sizeof *run->sent, cmp_str);
	return 0;
}

static void add_target(struct run *run, enum scope scope, const char *node, const char *network,
                       const char *contact)
{
	struct target *t;

	run->targets = es_reallocarray(run->targets, run->ntargets + 1, sizeof *run->targets);
	t = &run->targets[run->ntargets++];
	t->scope = scope;
	t->node = es_strdup(node);
	t->network = es_strdup(network);
	t->contact = es_strdup(contact);
}

static int load_targets(struct run *run, char *err, size_t errcap)
{
	const struct rmail_opts *o = run->o;
	PGresult *res;
	int rc;

	if (o->n_federation_to > 0) {
		/* The federation list as one address list text. */
		size_t len = 1;
		char *all;
		for (size_t i = 0; i < o->n_federation_to; i++)
			len += strlen(o->federation_to[i]) + 2;
		all = es_calloc(len, 1);
		for (size_t i = 0; i < o->n_federation_to; i++) {
			if (i > 0)
				strcat(all, ", ");
			strcat(all, o->federation_to[i]);
		}
		add_target(run, SCOPE_FEDERATION, "", "", all);
		free(all);
	}
	rc = pgx_exec(run->pg, "SELECT 1, name, '', contact FROM nodes"
	              " WHERE name IS NOT NULL AND name <> '' AND coalesce(btrim(contact), '') <> ''"
	              " UNION ALL"
	              " SELECT 2, n.name, w.name, w.contact FROM networks w JOIN nodes n ON n.id = w.node_id"
	              " WHERE n.name IS NOT NULL AND n.name <> '' AND w.name IS NOT NULL"
	              " AND coalesce(btrim(w.contact), '') <> ''"
	              " ORDER BY 1, 2, 3 LIMIT 100001", 0, NULL, &res, "reading the contacts",
	              err, errcap);
	if (rc < 0)
		return rc;
	if (PQntuples(res) > RMAIL_MAX_TARGETS) {
		PQclear(res);
		es_errf(err, errcap, "more than %d contacts", RMAIL_MAX_TARGETS);
		return ES_ELIMIT;
	}
	for (int i = 0; i < PQntuples(res); i++)
		add_target(run, atoi(PQgetvalue(res, i, 0)) == 1 ? SCOPE_NODE : SCOPE_NETWORK,
		           PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	PQclear(res);
	return 0;
}

/* The period directories of DIR, sorted; -errno. */
static int list_periods(const char *dir, char ***out, size_t *n, char *err, size_t errcap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **list = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		int rc = -errno;
		es_errf(err, errcap, "the report directory %s: %s", dir, strerror(errno));
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		time_t s, t;
		if (rmail_period_parse(e->d_name, &s, &t) < 0)
			continue;
		if (count == RMAIL_MAX_PERIODS)
			break;
		list = es_reallocarray(list, count + 1, sizeof *list);
		list[count++] = es_strdup(e->d_name);
	}
	closedir(d);
	if (count > 0)
		qsort(list, count, sizeof *list, cmp_str);
	*out = list;
	*n = count;
	return 0;
}

/* The files of one mail: [0] the HTML report, then its CSV files. */
struct mail {
	char period[8];
	const struct target *t;
	char **rcpt;
	size_t nrcpt;
	char dir[4096];            /* Where the files are. */
	char json[4096];           /* The report's JSON twin. */
	char *files[RMAIL_MAX_FILES];
	size_t nfiles;
	char subject[RMAIL_SUBJECT_MAX * 3];
	char *body;
	char msgid[256];
};

static void mail_free(struct mail *m)
{
	rmail_recipients_free(m->rcpt);
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i]);
	free(m->body);
}

/* snprintf() into a path buffer; false when it does not fit. */
static bool pathf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A CSV table of the report named stem: "STEM-TABLE.csv" (or "TABLE.csv" for an
 * empty stem), TABLE in [a-z]+, so that node "a" never takes node "a-b"'s files. */
static bool csv_of(const char *name, const char *stem)
{
	size_t sl = strlen(stem), len = strlen(name), tl;

	if (sl > 0 && (strncmp(name, stem, sl) != 0 || name[sl] != '-'))
		return false;
	name += sl > 0 ? sl + 1 : 0;
	len -= sl > 0 ? sl + 1 : 0;
	if (len <= 4 || strcmp(name + len - 4, ".csv") != 0)
		return false;
	tl = len - 4;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz") == tl;
}

/* Fills m's files: the HTML report, then its CSV tables (every csv_of() file next
 * to it, in name order).  ES_ELIMIT for a name or size over the limits, -ENOENT when
 * the HTML report is not there, -errno when the directory cannot be read. */
static int mail_files(struct run *run, struct mail *m)
{
	const struct target *t = m->t;
	char node[512], net[512], path[4096 + 600];
	const char *stem = "";
	struct dirent **names = NULL;
	size_t total = 0;
	bool ok = false;
	int n;

	if (fsx_safe_name(t->node, node, sizeof node) < 0 ||
	    fsx_safe_name(t->network, net, sizeof net) < 0)
		return ES_ELIMIT;
	switch (t->scope) {
	case SCOPE_FEDERATION:
		ok = pathf(m->dir, sizeof m->dir, "%s/%s", run->o->dir, m->period) &&
		     pathf(m->json, sizeof m->json, "%s/report.json", m->dir) &&
		     pathf(path, sizeof path, "%s/index.html", m->dir);
		break;
	case SCOPE_NODE:
		ok = pathf(m->dir, sizeof m->dir, "%s/%s/nodes", run->o->dir, m->period) &&
		     pathf(m->json, sizeof m->json, "%s/%s.json", m->dir, node) &&
		     pathf(path, sizeof path, "%s/%s.html", m->dir, node);
		stem = node;
		break;
	case SCOPE_NETWORK:
		ok = pathf(m->dir, sizeof m->dir, "%s/%s/networks/%s", run->o->dir, m->period, node) &&
		     pathf(m->json, sizeof m->json, "%s/%s.json", m->dir, net) &&
		     pathf(path, sizeof path, "%s/%s.html", m->dir, net);
		stem = net;
		break;
	}
	if (!ok)
		return ES_ELIMIT;
	if (!file_exists(path))
		return -ENOENT;
	m->files[m->nfiles++] = es_strdup(path);
	n = scandir(m->dir, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (m->nfiles < RMAIL_MAX_FILES && csv_of(names[i]->d_name, stem) &&
		    pathf(path, sizeof path, "%s/%s", m->dir, names[i]->d_name) && file_exists(path))
			m->files[m->nfiles++] = es_strdup(path);
		free(names[i]);
	}
	free(names);
	for (size_t i = 0; i < m->nfiles; i++) {
		struct stat st;
		if (stat(m->files[i], &st) == 0)
			total += (size_t)st.st_size;
	}
	return total > RMAIL_MAX_ATTACH ? ES_ELIMIT : 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "1,234,567" */
static void fmt_count(double v, char out[32])
{
	char digits[32];
	size_t n, o = 0;

	snprintf(digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
	n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

/* "1.2 GB" (decimal units, as data volumes are counted). */
static void fmt_bytes(double v, char out[32])
{
	static const char *const units[] = { "bytes", "kB", "MB", "GB", "TB", "PB", "EB" };
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%.0f bytes", v);
	else
		snprintf(out, 32, "%.1f %s", v, units[u]);
}

static double num(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void body_add(jsonw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void body_add(jsonw_t *w, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	jsonw_raw(w, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

/* The missing days of a node object, on lines of at most 6 dates. */
static void body_missing(jsonw_t *w, const cJSON *node)
{
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(node, "missing_days");
	const cJSON *d;
	int i = 0;

	if (!cJSON_IsArray(days) || cJSON_GetArraySize(days) == 0)
		return;
	body_add(w, "Days without statistics:");
	cJSON_ArrayForEach(d, days) {
		if (!cJSON_IsString(d))
			continue;
		body_add(w, "%s%.10s", i % 6 == 0 ? "\r\n  " : " ", d->valuestring);
		i++;
	}
	body_add(w, "\r\n");
}

static const char *period_label(const char *period, char out[32])
{
	static const char *const months[] = { "January", "February", "March", "April", "May", "June",
	                                      "July", "August", "September", "October", "November",
	                                      "December" };
	if (strlen(period) == 7)
		snprintf(out, 32, "%s %.4s", months[(atoi(period + 5) + 11) % 12], period);
	else
		snprintf(out, 32, "%s", period);
	return out;
}

/* Reads the JSON twin and writes the subject and body; ES_EFORMAT / -errno with err. */
static int mail_text(struct run *run, struct mail *m, char *err, size_t errcap)
{
	const struct target *t = m->t;
	char subj[RMAIL_SUBJECT_MAX], label[32], a[32], b[32];
	struct stat st;
	cJSON *doc, *totals, *nodes;
	char *text;
	jsonw_t w;
	int fd, rc;

	fd = open(m->json, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		es_errf(err, errcap, "%s: %s", m->json, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if ((size_t)st.st_size > RMAIL_MAX_JSON) {
		close(fd);
		es_errf(err, errcap, "%s: larger than %zu bytes", m->json, RMAIL_MAX_JSON);
		return ES_ELIMIT;
	}
	text = es_malloc((size_t)st.st_size + 1);
	{
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t k = read(fd, text + got, (size_t)st.st_size - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		text[got] = '\0';
		st.st_size = (off_t)got;
	}
	close(fd);
	doc = cJSON_ParseWithLength(text, (size_t)st.st_size);
	free(text);
	totals = doc ? cJSON_GetObjectItemCaseSensitive(doc, "totals") : NULL;
	if (!cJSON_IsObject(totals)) {
		cJSON_Delete(doc);
		es_errf(err, errcap, "%s: not a report (no \"totals\" object)", m->json);
		return ES_EFORMAT;
	}
	period_label(m->period, label);
	switch (t->scope) {
	case SCOPE_FEDERATION:
		snprintf(subj, sizeof subj, "EIDA statistics, %s: federation report", label);
		break;
	case SCOPE_NODE:
		snprintf(subj, sizeof subj, "EIDA statistics, %s: node %.200s", label, t->node);
		break;
	case SCOPE_NETWORK:
		snprintf(subj, sizeof subj, "EIDA statistics, %s: network %.100s at %.200s", label,
		         t->network, t->node);
		break;
	}
	rc = rmail_subject(subj, m->subject, sizeof m->subject);
	if (rc < 0) {
		cJSON_Delete(doc);
		es_errf(err, errcap, "the subject is too long");
		return rc;
	}

	jsonw_init(&w, RMAIL_BODY_MAX);
	/* The names may hold anything: keep their printable bytes only. */
	{
		char safe_node[256], safe_net[256];
		size_t i, j;
		for (i = j = 0; t->node[i] && j + 1 < sizeof safe_node; i++)
			if ((unsigned char)t->node[i] >= 0x20 && t->node[i] != 0x7f)
				safe_node[j++] = t->node[i];
		safe_node[j] = '\0';
		for (i = j = 0; t->network[i] && j + 1 < sizeof safe_net; i++)
			if ((unsigned char)t->network[i] >= 0x20 && t->network[i] != 0x7f)
				safe_net[j++] = t->network[i];
		safe_net[j] = '\0';
		if (t->scope == SCOPE_FEDERATION)
			body_add(&w, "EIDA federation statistics report, %s.\r\n\r\n", label);
		else if (t->scope == SCOPE_NODE)
			body_add(&w, "EIDA statistics report of node %s, %s.\r\n\r\n", safe_node, label);
		else
			body_add(&w, "EIDA statistics report of network %s at node %s, %s.\r\n\r\n",
			         safe_net, safe_node, label);
	}
	fmt_count(num(totals, "nb_reqs"), a);
	body_add(&w, "Requests:             %s\r\n", a);
	fmt_count(num(totals, "nb_successful_reqs"), a);
	if (num(totals, "nb_reqs") > 0)
		body_add(&w, "Successful requests:  %s (%.1f %%)\r\n", a,
		         100.0 * num(totals, "nb_successful_reqs") / num(totals, "nb_reqs"));
	else
		body_add(&w, "Successful requests:  %s\r\n", a);
	fmt_count(num(totals, "nb_failed_reqs"), a);
	body_add(&w, "Failed requests:      %s\r\n", a);
	fmt_bytes(num(totals, "bytes"), a);
	fmt_count(num(totals, "bytes"), b);
	body_add(&w, "Data sent:            %s (%s bytes)\r\n", a, b);
	fmt_count(num(totals, "clients"), a);
	body_add(&w, "Distinct clients:     %s\r\n\r\n", a);

	nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
	if (t->scope == SCOPE_NODE && cJSON_IsArray(nodes) && cJSON_GetArraySize(nodes) > 0) {
		const cJSON *nd = cJSON_GetArrayItem(nodes, 0);
		body_add(&w, "Statistics received for %.0f of the period's %.0f days.\r\n",
		         num(nd, "days_covered"), num(nd, "days_expected"));
		body_missing(&w, nd);
		body_add(&w, "\r\n");
	} else if (t->scope == SCOPE_FEDERATION && cJSON_IsArray(nodes)) {
		const cJSON *nd;
		int late = 0;
		cJSON_ArrayForEach(nd, nodes) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(nd, "node");
			if (num(nd, "days_covered") >= num(nd, "days_expected") || !cJSON_IsString(name))
				continue;
			if (late++ == 0)
				body_add(&w, "Nodes with days without statistics:\r\n");
			body_add(&w, "  %-12.64s %.0f of %.0f days\r\n", name->valuestring,
			         num(nd, "days_covered"), num(nd, "days_expected"));
		}
		body_add(&w, "%s%d node%s in the report.\r\n\r\n", late ? "" : "Every node sent statistics for every day.\r\n",
		         cJSON_GetArraySize(nodes), cJSON_GetArraySize(nodes) == 1 ? "" : "s");
	}
	cJSON_Delete(doc);
	body_add(&w, "The full report is attached (%s; open it in a web browser)", base_name(m->files[0]));
	if (m->nfiles > 1)
		body_add(&w, ", with its tables as CSV files");
	body_add(&w, ".\r\n\r\n-- \r\nSent by eidastats-report (%s).\r\n", PACKAGE_STRING);
	{
		size_t len;
		m->body = jsonw_take(&w, &len);
	}
	jsonw_fini(&w);
	if (!m->body) {
		es_errf(err, errcap, "the mail body is too long");
		return ES_ELIMIT;
	}
	return 0;
}

static void make_msgid(struct run *run, struct mail *m)
{
	unsigned char rnd[12];
	char hex[2 * sizeof rnd + 1];
	const char *at = strrchr(run->o->smtp_from, '@');
	size_t got = 0;

	while (got < sizeof rnd) {
		ssize_t k = getrandom(rnd + got, sizeof rnd - got, 0);
		if (k > 0)
			got += (size_t)k;
		else if (k < 0 && errno != EINTR) {
			/* No entropy source: the time and pid are unique enough for an id. */
			uint64_t v = (uint64_t)run->o->now ^ ((uint64_t)getpid() << 32);
			memcpy(rnd, &v, sizeof v);
			break;
		}
	}
	hex_encode(hex, rnd, sizeof rnd);
	snprintf(m->msgid, sizeof m->msgid, "<eidastats.%s.%s.%s@%s>", m->period,
	         scope_names[m->t->scope], hex, at ? at + 1 : "localhost");
}

static int curl_fail(CURLcode cc, const char *what, char *err, size_t errcap)
{
	es_errf(err, errcap, "%s: %s", what, curl_easy_strerror(cc));
	return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : ES_EINTERNAL;
}

/* Sends m; 0 once the server accepted it, else ES_ENET (or ES_EINTERNAL) with err. */
static int smtp_send(struct run *run, struct mail *m, char *err, size_t errcap)
{
	const struct rmail_opts *o = run->o;
	struct curl_slist *headers = NULL, *rcpt = NULL;
	char line[RMAIL_SUBJECT_MAX * 3 + 64], date[32], cerr[CURL_ERROR_SIZE] = "";
	curl_mime *mime;
	curl_mimepart *part;
	CURLcode cc;
	long code = 0;
	int rc = 0;

	mime = curl_mime_init(run->curl);
	if (!mime)
		return -ENOMEM;
	part = curl_mime_addpart(mime);
	if (!part || (cc = curl_mime_data(part, m->body, CURL_ZERO_TERMINATED)) != CURLE_OK ||
	    (cc = curl_mime_type(part, "text/plain; charset=UTF-8")) != CURLE_OK ||
	    (cc = curl_mime_encoder(part, "quoted-printable")) != CURLE_OK) {
		rc = curl_fail(part ? cc : CURLE_OUT_OF_MEMORY, "the mail body", err, errcap);
		goto out;
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		size_t len = strlen(m->files[i]);
		const char *type = len > 5 && strcmp(m->files[i] + len - 5, ".html") == 0 ?
		                   "text/html; charset=UTF-8" : "text/csv; charset=UTF-8";
		part = curl_mime_addpart(mime);
		if (!part || (cc = curl_mime_filedata(part, m->files[i])) != CURLE_OK ||
		    (cc = curl_mime_type(part, type)) != CURLE_OK ||
		    (cc = curl_mime_encoder(part, "base64")) != CURLE_OK) {
			rc = curl_fail(part ? cc : CURLE_OUT_OF_MEMORY, m->files[i], err, errcap);
			goto out;
		}
	}
	rmail_date(o->now, date);
#define HDR(...) do { snprintf(line, sizeof line, __VA_ARGS__); \
	struct curl_slist *n_ = curl_slist_append(headers, line); \
	if (!n_) { rc = -ENOMEM; goto out; } headers = n_; } while (0)
	HDR("Date: %s", date);
	HDR("From: EIDA statistics <%s>", o->smtp_from);
	{
		char to[RMAIL_MAX_RCPT * (RMAIL_MAX_ADDR + 2) + 8] = "To: ";
		for (size_t i = 0; i < m->nrcpt; i++) {
			if (i > 0)
				strcat(to, ", ");
			strcat(to, m->rcpt[i]);
		}
		HDR("%s", to);
	}
	HDR("Subject: %s", m->subject);
	HDR("Message-ID: %s", m->msgid);
	HDR("Auto-Submitted: auto-generated");
#undef HDR
	for (size_t i = 0; i < m->nrcpt; i++) {
		struct curl_slist *n;
		snprintf(line, sizeof line, "<%s>", m->rcpt[i]);
		n = curl_slist_append(rcpt, line);
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		rcpt = n;
	}
	snprintf(line, sizeof line, "<%s>", o->smtp_from);
	curl_easy_setopt(run->curl, CURLOPT_MAIL_FROM, line);
	curl_easy_setopt(run->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(run->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(run->curl, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(run->curl, CURLOPT_ERRORBUFFER, cerr);
	cc = curl_easy_perform(run->curl);
	curl_easy_getinfo(run->curl, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK) {
		if (code >= 400)
			es_errf(err, errcap, "the SMTP server %s refused it with %ld (%s)", o->smtp_url, code,
			       cerr[0] ? cerr : curl_easy_strerror(cc));
		else if (cc == CURLE_USE_SSL_FAILED)
			es_errf(err, errcap, "SMTP via %s: %s (TLS is required for a server that is not "
			       "on this machine: give a server that offers STARTTLS, or smtps://)",
			       o->smtp_url, cerr[0] ? cerr : curl_easy_strerror(cc));
		else
			es_errf(err, errcap, "SMTP via %s: %s", o->smtp_url,
			       cerr[0] ? cerr : curl_easy_strerror(cc));
		rc = cc == CURLE_READ_ERROR ? -EIO : ES_ENET;
	}
out:
	/* The handle keeps pointers to what is freed here: take them back first. */
	curl_easy_setopt(run->curl, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(run->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(run->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(run->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);
	curl_slist_free_all(rcpt);
	curl_mime_free(mime);
	return rc;
}

static int record(struct run *run, const struct mail *m, char *err, size_t errcap)
{
	char rcpt[RMAIL_MAX_RCPT * (RMAIL_MAX_ADDR + 2) + 1] = "";
	const char *params[6] = { m->period, scope_names[m->t->scope], m->t->node, m->t->network,
	                          rcpt, m->msgid };

	for (size_t i = 0; i < m->nrcpt; i++) {
		if (i > 0)
			strcat(rcpt, ", ");
		strcat(rcpt, m->rcpt[i]);
	}
	return pgx_exec(run->pg, "INSERT INTO report_mail (period, scope, node, network, recipients,"
	                " message_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
	                6, params, NULL, "recording the mail in report_mail", err, errcap);
}

static int curl_setup(struct run *run, char *err, size_t errcap)
{
	const struct rmail_opts *o = run->o;

	run->curl = curlx_easy_new();
	if (!run->curl) {
		es_errf(err, errcap, "cannot make a libcurl handle");
		return -ENOMEM;
	}
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(run->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(run->curl, CURLOPT_REDIR_PROTOCOLS_STR, "");
#else
	curl_easy_setopt(run->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
	curl_easy_setopt(run->curl, CURLOPT_REDIR_PROTOCOLS, 0L);
#endif
	curl_easy_setopt(run->curl, CURLOPT_URL, o->smtp_url);
	curl_easy_setopt(run->curl, CURLOPT_USE_SSL, run->starttls ? (long)CURLUSESSL_ALL :
	                 (long)CURLUSESSL_NONE);
	curl_easy_setopt(run->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(run->curl, CURLOPT_TIMEOUT, 300L);
	if (has(o->smtp_user)) {
		curl_easy_setopt(run->curl, CURLOPT_USERNAME, o->smtp_user);
		curl_easy_setopt(run->curl, CURLOPT_PASSWORD, run->password);
	}
	return 0;
}

static const char *target_name(const struct target *t, char *buf, size_t cap)
{
	if (t->scope == SCOPE_FEDERATION)
		snprintf(buf, cap, "federation");
	else if (t->scope == SCOPE_NODE)
		snprintf(buf, cap, "node %s", t->node);
	else
		snprintf(buf, cap, "network %s of node %s", t->network, t->node);
	return buf;
}

/* One target's mail of a due period. */
static void one(struct run *run, const char *period, const struct target *t)
{
	struct mail m = { .t = t };
	char who[700], e[1536];
	int rc;

	snprintf(m.period, sizeof m.period, "%s", period);
	target_name(t, who, sizeof who);
	if (recorded(run, period, t)) {
		run->r->already++;
		es_log_msg(run->o->log, LOG_DEBUG, "mail %s %s: sent by an earlier run", period, who);
		return;
	}
	rc = rmail_recipients(t->contact, &m.rcpt, &m.nrcpt, e, sizeof e);
	if (rc < 0) {
		run->r->failed++;
		fail(run, rc, "mail %s %s: its contact: %s", period, who, e);
		goto out;
	}
	rc = mail_files(run, &m);
	if (rc == -ENOENT) {
		/* No report for it in this period (made before the node or network existed). */
		es_log_msg(run->o->log, LOG_DEBUG, "mail %s %s: no report in %s", period, who, m.dir);
		goto out;
	}
	if (rc < 0) {
		run->r->failed++;
		fail(run, rc, "mail %s %s: its report's files: %s", period, who, es_strerror(rc));
		goto out;
	}
	rc = mail_text(run, &m, e, sizeof e);
	if (rc < 0) {
		run->r->failed++;
		fail(run, rc, "mail %s %s: %s", period, who, e);
		goto out;
	}
	if (run->o->dry_run) {
		run->r->pending++;
		es_log_msg(run->o->log, LOG_NOTICE, "mail %s %s: would send %s and %zu CSV file%s to %s",
		           period, who, base_name(m.files[0]), m.nfiles - 1, m.nfiles == 2 ? "" : "s",
		           t->contact);
		goto out;
	}
	make_msgid(run, &m);
	rc = smtp_send(run, &m, e, sizeof e);
	if (rc < 0) {
		run->r->failed++;
		fail(run, rc, "mail %s %s to %s: not sent, it stays due: %s", period, who, t->contact, e);
		goto out;
	}
	rc = record(run, &m, e, sizeof e);
	if (rc < 0) {
		run->r->failed++;
		fail(run, rc, "mail %s %s to %s was sent (%s) but could not be recorded, so the next "
		     "run sends it again: %s", period, who, t->contact, m.msgid, e);
		goto out;
	}
	run->r->sent++;
	es_log_msg(run->o->log, LOG_NOTICE, "mail %s %s: sent to %s (%s)", period, who, t->contact,
	           m.msgid);
out:
	mail_free(&m);
}

int rmail_run(const struct rmail_opts *o, struct rmail_result *r, char *err, size_t errcap)
{
	struct run *run = es_calloc(1, sizeof *run);
	long delay = o->mail_delay < 0 ? RMAIL_DELAY_DEFAULT : o->mail_delay;
	char **periods = NULL;
	size_t nperiods = 0;
	bool locked = false;
	PGresult *res = NULL;
	int rc;

	memset(r, 0, sizeof *r);
	run->o = o;
	run->r = r;
	rc = check(o, &run->starttls, run->password, sizeof run->password, err, errcap);
	if (rc < 0)
		goto out;
	if (o->conn)
		run->pg = o->conn;
	else if ((rc = pgx_connect(&run->pg, o->conninfo ? o->conninfo : "", "eidastats-report",
	                           err, errcap)) < 0)
		goto out;
	rc = pgx_exec(run->pg, "SELECT pg_try_advisory_lock(" RMAIL_LOCK_KEY ")", 0, NULL, &res,
	              "taking the mail lock", err, errcap);
	if (rc < 0)
		goto out;
	locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!locked) {
		es_errf(err, errcap, "another eidastats-report --mail is running on this database");
		rc = -EBUSY;
		goto out;
	}
	if ((rc = load_sent(run, err, errcap)) < 0 || (rc = load_targets(run, err, errcap)) < 0 ||
	    (rc = list_periods(o->dir, &periods, &nperiods, err, errcap)) < 0)
		goto out;
	if (!o->dry_run && (rc = curl_setup(run, err, errcap)) < 0)
		goto out;
	for (size_t p = 0; p < nperiods; p++) {
		time_t start, end;
		char when[32];
		rmail_period_parse(periods[p], &start, &end);
		switch (rmail_state(end, delay, RMAIL_WINDOW, o->now, false)) {
		case RMAIL_NOT_YET:
			rmail_date(end + delay, when);
			es_log_msg(o->log, LOG_INFO, "mail %s: not due before %s", periods[p], when);
			continue;
		case RMAIL_EXPIRED:
			continue;
		default:
			break;
		}
		for (size_t i = 0; i < run->ntargets; i++)
			one(run, periods[p], &run->targets[i]);
	}
	rc = run->first_err;
	if (rc < 0)
		es_errf(err, errcap, "%u mail%s failed (they stay due for the next run); the first: %s",
		       r->failed, r->failed == 1 ? "" : "s", run->err);
out:
	if (locked && o->conn)
		pgx_exec(run->pg, "SELECT pg_advisory_unlock(" RMAIL_LOCK_KEY ")", 0, NULL, NULL,
		         "releasing the mail lock", run->err, sizeof run->err);
	if (run->pg && !o->conn)
		PQfinish(run->pg);
	if (run->curl)
		curl_easy_cleanup(run->curl);
	explicit_bzero(run->password, sizeof run->password);
	for (size_t i = 0; i < run->nsent; i++)
		free(run->sent[i]);
	free(run->sent);
	for (size_t i = 0; i < run->ntargets; i++) {
		free(run->targets[i].node);
		free(run->targets[i].network);
		free(run->targets[i].contact);
	}
	free(run->targets);
	for (size_t i = 0; i < nperiods; i++)
		free(periods[i]);
	free(periods);
	free(run);
	return rc;
}
