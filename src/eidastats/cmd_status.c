/*
 * cmd_status.c - `eidastats status [-c FILE | --socket PATH] [--json]`:
 * asks a running eidastatsd for its state on the control socket and shows it
 * to people, or passes the JSON line through for machines.
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

#define STATUS_TIMEOUT_MS 10000

static void status_usage(FILE *f)
{
	fprintf(f, "usage: eidastats status [-c FILE | --socket PATH] [--json]\n");
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

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cfgpath = NULL, *sockpath = NULL;
	char *socket_owned = NULL, *answer = NULL;
	int json = 0, opt, rc;
	cJSON *st;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cfgpath = optarg; break;
		case 's': sockpath = optarg; break;
		case 'j': json = 1; break;
		case 'h': status_usage(stdout); return EXIT_DONE;
		default: status_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || (cfgpath && sockpath)) {
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
	if (json)
		printf("%s\n", answer);
	else
		render(st);
	cJSON_Delete(st);
	free(answer);
	return EXIT_DONE;
}
