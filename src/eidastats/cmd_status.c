/*
 * cmd_status.c - `eidastats status [-c FILE | --socket PATH] [--json |
 * --prometheus]`: asks a running eidastatsd for its state on the control
 * socket and shows it to people, passes the JSON line through for machines,
 * or writes it in the Prometheus text format 0.0.4 for node_exporter's
 * textfile collector (the metric names are in README.md, "Metrics").
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cmd.h"
#include "ctlc.h"
#include "error.h"
#include "mem.h"
#include "promw.h"

#define STATUS_TIMEOUT_MS 10000

static void status_usage(FILE *f)
{
	fprintf(f, "usage: eidastats status [-c FILE | --socket PATH] [--json | --prometheus]\n");
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void age(char *buf, size_t len, double s)
{
	long v = (long)s;
	if (v < 120)
		snprintf(buf, len, "%ld s", v);
	else if (v < 7200)
		snprintf(buf, len, "%ld min", v / 60);
	else if (v < 172800)
		snprintf(buf, len, "%ld h %ld min", v / 3600, v / 60 % 60);
	else
		snprintf(buf, len, "%ld days", v / 86400);
}

static void bytes(char *buf, size_t len, double b)
{
	if (b < 10240)
		snprintf(buf, len, "%.0f B", b);
	else if (b < 10 * 1048576.0)
		snprintf(buf, len, "%.1f KiB", b / 1024);
	else if (b < 10 * 1073741824.0)
		snprintf(buf, len, "%.1f MiB", b / 1048576);
	else
		snprintf(buf, len, "%.1f GiB", b / 1073741824);
}

static void when(char *buf, size_t len, double at)
{
	time_t t = (time_t)at;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Lists the {"file", "reason"} objects of st's array key under a title, if any. */
static void print_files(const cJSON *st, const char *key, const char *title)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(st, key), *f;

	if (cJSON_GetArraySize(e) == 0)
		return;
	printf("%s:\n", title);
	cJSON_ArrayForEach(f, e)
		printf("  %s: %s\n", str(f, "file"), str(f, "reason"));
}

static void render(const cJSON *st)
{
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(st, "files");
	const cJSON *spool = cJSON_GetObjectItemCaseSensitive(st, "spool");
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(st, "lines");
	const cJSON *dl = cJSON_GetObjectItemCaseSensitive(st, "delivery");
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(st, "last_delivery");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(st, "last_error");
	const cJSON *e;
	char a[64], b[64];

	age(a, sizeof a, num(st, "uptime_s"));
	printf("eidastatsd %s (pid %.0f), up %s\n", str(st, "version"), num(st, "pid"), a);
	printf("files:     %.0f done, %.0f waiting, %.0f failed", num(files, "done"),
	       num(files, "waiting"), num(files, "failed"));
	if (num(files, "running") > 0)
		printf(", %.0f being read", num(files, "running"));
	printf("\n");
	if (*str(files, "directory_error"))
		printf("           log directory: %s\n", str(files, "directory_error"));
	printf("lines:     %.0f read, %.0f malformed; %.0f traces refused by the network registry\n",
	       num(lines, "read"), num(lines, "malformed"), num(st, "refused_traces"));
	bytes(b, sizeof b, num(spool, "bytes"));
	printf("spool:     %.0f pending (%s)", num(spool, "pending"), b);
	if (num(spool, "pending") > 0) {
		age(a, sizeof a, num(spool, "oldest_age_s"));
		printf(", oldest %s old", a);
	}
	printf("; %.0f rejected, %.0f bad%s\n", num(spool, "rejected"), num(spool, "bad"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spool, "full"))
	               ? "; FULL: not taking new files" : "");
	printf("delivery:  %s", str(dl, "state"));
	if (num(dl, "consecutive_failures") > 0)
		printf(", %.0f failed attempts in a row", num(dl, "consecutive_failures"));
	if (cJSON_GetObjectItemCaseSensitive(dl, "next_attempt_s"))
		printf(", next attempt in %.0f s", num(dl, "next_attempt_s"));
	printf("; %.0f delivered, %.0f duplicates, %.0f rejected since start\n", num(dl, "delivered"),
	       num(dl, "duplicates"), num(dl, "rejected"));
	if (*str(dl, "auth_problem"))
		printf("           %s\n", str(dl, "auth_problem"));
	if (cJSON_IsObject(last)) {
		when(a, sizeof a, num(last, "at"));
		printf("last delivery: %s, %s (%s, HTTP %.0f)\n", a, str(last, "file"),
		       str(last, "result"), num(last, "http"));
	} else {
		printf("last delivery: none since start\n");
	}
	if (cJSON_IsObject(err)) {
		when(a, sizeof a, num(err, "at"));
		printf("last error:    %s, %s\n", a, str(err, "message"));
	}
	print_files(st, "failures", "failed files");
	print_files(st, "waiting_files", "waiting files");
	e = cJSON_GetObjectItemCaseSensitive(st, "attention");
	if (cJSON_GetArraySize(e) > 0) {
		const cJSON *f;
		printf("ATTENTION:\n");
		cJSON_ArrayForEach(f, e)
			if (cJSON_IsString(f))
				printf("  %s\n", f->valuestring);
	}
}

#define DM "eidastats_daemon_"

/* One gauge or counter without labels, with its HELP and TYPE. */
static void metric(jsonw_t *w, const char *name, const char *type, const char *help, double v)
{
	promw_head(w, name, type, help);
	promw_f64(w, name, NULL, NULL, v);
}

/*
 * The state as Prometheus metrics; st NULL when the daemon did not answer
 * (then eidastats_daemon_up 0 alone).  0 or the writer's error.
 */
static int prometheus(const cJSON *st, jsonw_t *w)
{
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(st, "files");
	const cJSON *spool = cJSON_GetObjectItemCaseSensitive(st, "spool");
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(st, "lines");
	const cJSON *dl = cJSON_GetObjectItemCaseSensitive(st, "delivery");
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(st, "last_delivery");
	static const char *const states[] = { "done", "waiting", "failed", "running", "ignored" };

	metric(w, DM "up", "gauge", "1 when eidastatsd answered on its control socket.", st ? 1 : 0);
	if (!st)
		return jsonw_error(w);
	metric(w, DM "start_time_seconds", "gauge", "When eidastatsd started.",
	       (double)time(NULL) - num(st, "uptime_s"));
	metric(w, DM "files_counted_total", "counter", "Log files counted since the start.",
	       num(st, "files_counted"));
	metric(w, DM "files_failed", "gauge", "Log files that could not be counted.",
	       num(files, "failed"));
	metric(w, DM "backlog_files", "gauge", "Log files waiting to be counted.", num(files, "waiting"));
	promw_head(w, DM "files", "gauge", "Log files by state.");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		promw_f64(w, DM "files", "state", states[i], num(files, states[i]));
	metric(w, DM "lines_read_total", "counter", "Log lines read since the start.", num(lines, "read"));
	metric(w, DM "lines_malformed_total", "counter", "Malformed log lines since the start.",
	       num(lines, "malformed"));
	metric(w, DM "spool_pending_payloads", "gauge", "Payloads waiting in the spool for delivery.",
	       num(spool, "pending"));
	metric(w, DM "spool_pending_bytes", "gauge", "Bytes of the payloads waiting in the spool.",
	       num(spool, "bytes"));
	metric(w, DM "spool_max_bytes", "gauge", "The spool's limit (setting spool_max_bytes).",
	       num(spool, "max_bytes"));
	metric(w, DM "spool_oldest_age_seconds", "gauge", "Age of the oldest pending payload (0: none).",
	       num(spool, "oldest_age_s"));
	metric(w, DM "spool_rejected_payloads", "gauge", "Payloads the central service refused, kept aside.",
	       num(spool, "rejected"));
	metric(w, DM "spool_full", "gauge", "1 while the spool is full and new files wait.",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spool, "full")) ? 1 : 0);
	metric(w, DM "last_delivery_timestamp_seconds", "gauge",
	       "Time of the last successful delivery since the start (0: none).",
	       cJSON_IsObject(last) ? num(last, "at") : 0);
	metric(w, DM "delivery_consecutive_failures", "gauge",
	       "Delivery attempts that failed in a row (0 after a success).",
	       num(dl, "consecutive_failures"));
	metric(w, DM "delivery_paused_auth", "gauge",
	       "1 while delivery is paused because the central service refused the token.",
	       strcmp(str(dl, "state"), "paused-auth") == 0 ? 1 : 0);
	metric(w, DM "delivery_attempts_total", "counter", "Delivery attempts since the start.",
	       num(dl, "attempts"));
	metric(w, DM "payloads_delivered_total", "counter", "Payloads delivered since the start.",
	       num(dl, "delivered"));
	metric(w, DM "payloads_duplicate_total", "counter",
	       "Payloads the central service already had, since the start.", num(dl, "duplicates"));
	metric(w, DM "payloads_rejected_total", "counter",
	       "Payloads the central service refused, since the start.", num(dl, "rejected"));
	return jsonw_error(w);
}

/* Prints the metrics of st (NULL: the daemon is unreachable); 0 or an error code. */
static int print_prometheus(const cJSON *st)
{
	jsonw_t w;
	size_t len;
	char *text;
	int rc;

	jsonw_init(&w, 1 << 20);
	rc = prometheus(st, &w);
	text = jsonw_take(&w, &len);
	jsonw_fini(&w);
	if (rc < 0 || !text) {
		free(text);
		return rc < 0 ? rc : ES_EINTERNAL;
	}
	rc = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -EIO;
	free(text);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cfgpath = NULL, *sockpath = NULL;
	char *socket_owned = NULL, *answer = NULL;
	int json = 0, prom = 0, opt, rc;
	cJSON *st;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cfgpath = optarg; break;
		case 's': sockpath = optarg; break;
		case 'j': json = 1; break;
		case 'P': prom = 1; break;
		case 'h': status_usage(stdout); return EXIT_DONE;
		default: status_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || (cfgpath && sockpath) || (json && prom)) {
		status_usage(stderr);
		return EXIT_USAGE;
	}
	if (!sockpath) {
		/* The socket the daemon's configuration names; the default file only
		 * if it exists, else the default socket. */
		cfg_t cfg;
		char err[1024];
		const char *p = cfgpath ? cfgpath : CFG_DEFAULT_PATH;
		if (cfgpath || access(p, F_OK) == 0) {
			rc = cfg_load(&cfg, p, err, sizeof err);
			if (rc < 0) {
				fprintf(stderr, "eidastats status: %s\n", err[0] ? err : es_strerror(rc));
				return EXIT_USAGE;
			}
			socket_owned = es_strdup(cfg.control_socket);
			cfg_fini(&cfg);
			sockpath = socket_owned;
		} else {
			sockpath = CFG_DEFAULT_SOCKET;
		}
	}

	rc = ctlc_ask(sockpath, "status\n", STATUS_TIMEOUT_MS, &answer);
	if (rc < 0) {
		fprintf(stderr, "eidastats status: cannot reach eidastatsd at %s: %s\n", sockpath,
		        es_strerror(rc));
		free(socket_owned);
		/* The collector still gets eidastats_daemon_up 0. */
		if (prom)
			print_prometheus(NULL);
		return EXIT_UNREACHABLE;
	}
	free(socket_owned);
	st = cJSON_Parse(answer);
	if (!cJSON_IsObject(st) || cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st, "ok"))) {
		fprintf(stderr, "eidastats status: unexpected answer: %.200s\n", answer);
		cJSON_Delete(st);
		free(answer);
		return EXIT_UNREACHABLE;
	}
	rc = 0;
	if (json)
		printf("%s\n", answer);
	else if (prom)
		rc = print_prometheus(st);
	else
		render(st);
	cJSON_Delete(st);
	free(answer);
	if (rc < 0) {
		fprintf(stderr, "eidastats status: cannot write the metrics: %s\n", es_strerror(rc));
		return EXIT_UNREACHABLE;
	}
	return EXIT_DONE;
}
