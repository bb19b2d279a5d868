/*
 * mailtool - runs rmail_run() (src/report/mail.h) once, for the shell tests,
 * with the clock given on the command line:
 *
 *   mailtool --db CONNINFO --dir DIR --smtp-url URL --from ADDR
 *            [--user U --password-file F] [--to ADDR]... [--delay SECONDS]
 *            [--now EPOCH] [--dry-run]
 *
 * Prints each event of the run on stderr ("mailtool: ..."), then one line
 * "sent=N failed=N pending=N already=N" on stdout; exits 0 when the run
 * succeeded, 1 when it failed (its error on stderr), 2 on a usage error.
 * eidastats-report --mail is the program; this only lets a test pick "now".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "report/mail.h"

static void usage(void)
{
	fprintf(stderr, "usage: mailtool --db CONNINFO --dir DIR --smtp-url URL --from ADDR "
	        "[--user U --password-file F] [--to ADDR]... [--delay S] [--now EPOCH] [--dry-run]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const char *to[64];
	struct es_log lg = { es_log_stderr, (void *)"mailtool" };
	struct rmail_opts o = { .mail_delay = -1, .now = time(NULL), .log = &lg, .federation_to = to };
	struct rmail_result r;
	char err[2048];
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--dry-run") == 0) {
			o.dry_run = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--db") == 0)
			o.conninfo = v;
		else if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--smtp-url") == 0)
			o.smtp_url = v;
		else if (strcmp(a, "--from") == 0)
			o.smtp_from = v;
		else if (strcmp(a, "--user") == 0)
			o.smtp_user = v;
		else if (strcmp(a, "--password-file") == 0)
			o.smtp_password_file = v;
		else if (strcmp(a, "--to") == 0 && o.n_federation_to < 64)
			to[o.n_federation_to++] = v;
		else if (strcmp(a, "--delay") == 0)
			o.mail_delay = strtol(v, NULL, 10);
		else if (strcmp(a, "--now") == 0)
			o.now = (time_t)strtoll(v, NULL, 10);
		else
			usage();
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "mailtool: curl_global_init failed\n");
		return 1;
	}
	rc = rmail_run(&o, &r, err, sizeof err);
	printf("sent=%u failed=%u pending=%u already=%u\n", r.sent, r.failed, r.pending, r.already);
	if (rc < 0)
		fprintf(stderr, "mailtool: %s\n", err);
	curl_global_cleanup();
	return rc < 0 ? 1 : 0;
}
