/*
 * eidastats-report: monthly and yearly reports from the central database.
 * main() parses the options, loads the settings and calls the modules of
 * libreport.a (settings.h, period.h, gather.h, emit.h, run.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "error.h"
#include "log.h"
#include "gather.h"
#include "period.h"
#include "run.h"
#include "report/mail.h"
#include "settings.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: eidastats-report [OPTION...] (--month YYYY-MM | --year YYYY | --auto | --mail)\n"
	        "Makes the reports of the central statistics database (doc: eidastats-report(8)).\n"
	        "  --month YYYY-MM      the reports of that month\n"
	        "  --year YYYY          the reports of that year\n"
	        "  --node NODE          only that node's report (with --month or --year)\n"
	        "  --network NET        only the report of network NET of --node NODE\n"
	        "  --auto               every complete month and year with statistics whose\n"
	        "                       report in the output directory is missing or out of date\n"
	        "  --out DIR            the report directory (default: the settings' out)\n"
	        "  --db CONNINFO        the database (default: $DBURI, then the settings' db)\n"
	        "  --config FILE        settings (default %s; optional when the\n"
	        "                       database and --out are given)\n"
	        "  --mail               mail the reports that are due (after making them, with\n"
	        "                       --auto, --month or --year; alone: only mail)\n"
	        "  --dry-run            say what would be made or mailed, write or send nothing\n"
	        "  -h, --help           this text\n"
	        "  -V, --version        the version\n",
	        RPT_DEFAULT_CONFIG);
}

static void say(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
	fflush(stdout);
}

/* --mail's sink: failures on stderr, what was sent on stdout, what is not due yet
 * only in a dry run (ctx: the dry-run flag). */
static void mail_log(void *ctx, int level, const char *msg)
{
	if (level <= LOG_WARNING)
		fprintf(stderr, "eidastats-report: %s\n", msg);
	else if (level <= LOG_NOTICE || (level == LOG_INFO && *(const int *)ctx))
		say(NULL, msg);
}

/* --mail: sends what is due; 0 or EXIT_FAIL after a message. */
static int mail(struct rpt_settings *s, PGconn *pg, const char *out, int dry)
{
	struct es_log lg = { mail_log, &dry };
	const char *to = s->federation_to;
	struct rmail_opts o = {
		.conn = pg, .dir = out, .smtp_url = s->smtp_url, .smtp_from = s->smtp_from,
		.smtp_user = s->smtp_user, .smtp_password_file = s->smtp_password_file,
		.federation_to = &to, .n_federation_to = to && *to ? 1 : 0,
		.mail_delay = s->mail_delay,
		.now = time(NULL), .dry_run = dry, .log = &lg,
	};
	struct rmail_result r;
	char err[2048];
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "eidastats-report: libcurl cannot be initialised\n");
		return EXIT_FAIL;
	}
	rc = rmail_run(&o, &r, err, sizeof err);
	curl_global_cleanup();
	if (rc < 0) {
		fprintf(stderr, "eidastats-report: --mail: %s\n", err);
		return EXIT_FAIL;
	}
	if (dry)
		printf("%u mail%s due\n", r.pending, r.pending == 1 ? "" : "s");
	else if (r.sent == 0)
		printf("no mail due\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "month", required_argument, NULL, 'm' },
		{ "year", required_argument, NULL, 'y' },
		{ "node", required_argument, NULL, 'n' },
		{ "network", required_argument, NULL, 'N' },
		{ "auto", no_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "mail", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *month = NULL, *year = NULL, *node = NULL, *network = NULL;
	const char *out = NULL, *db = NULL, *config = NULL;
	int autom = 0, dry = 0, domail = 0, c, rc;
	struct rpt_settings s;
	struct rpt_period p = { 0 };
	struct rpt_db dbh;
	struct rpt_opts o = { 0 };
	struct rpt_stats st = { 0 };
	char err[1024];

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': month = optarg; break;
		case 'y': year = optarg; break;
		case 'n': node = optarg; break;
		case 'N': network = optarg; break;
		case 'a': autom = 1; break;
		case 'o': out = optarg; break;
		case 'd': db = optarg; break;
		case 'c': config = optarg; break;
		case 'D': dry = 1; break;
		case 'M': domail = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("eidastats-report %s\n", PACKAGE_VERSION); return EXIT_OK;
		case ':':
			fprintf(stderr, "eidastats-report: %s needs a value\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "eidastats-report: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "eidastats-report: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if ((month != NULL) + (year != NULL) + autom > 1 ||
	    ((month != NULL) + (year != NULL) + autom == 0 && !domail)) {
		fprintf(stderr, "eidastats-report: give exactly one of --month YYYY-MM, --year YYYY, --auto"
		        " (or --mail alone)\n");
		return EXIT_USAGE;
	}
	if (month && rpt_period_parse_month(month, &p) < 0) {
		fprintf(stderr, "eidastats-report: --month '%s': not a month YYYY-MM (e.g. 2025-01)\n", month);
		return EXIT_USAGE;
	}
	if (year && rpt_period_parse_year(year, &p) < 0) {
		fprintf(stderr, "eidastats-report: --year '%s': not a year YYYY (e.g. 2025)\n", year);
		return EXIT_USAGE;
	}
	if ((node || network) && !month && !year) {
		fprintf(stderr, "eidastats-report: --node and --network go with --month or --year, not --auto\n");
		return EXIT_USAGE;
	}
	if (network && !node) {
		fprintf(stderr, "eidastats-report: --network NET needs --node NODE (the node that serves it)\n");
		return EXIT_USAGE;
	}
	if (!db)
		db = getenv("DBURI");
	rpt_settings_init(&s);
	/* The settings file is optional only when it was not named and nothing is missing. */
	if (config || !db || !out || domail) {
		const char *path = config ? config : RPT_DEFAULT_CONFIG;

		if ((rc = rpt_settings_load_file(&s, path, err, sizeof err)) < 0) {
			fprintf(stderr, "eidastats-report: %s\n", err);
			if (!config && rc == -ENOENT)
				fprintf(stderr, "eidastats-report: give --db CONNINFO (or DBURI) and --out DIR, "
				        "or a settings file with --config FILE\n");
			rpt_settings_fini(&s);
			return rc == ES_ECONFIG ? EXIT_USAGE : EXIT_FAIL;
		}
	}
	if (!db)
		db = s.db;
	if (!out)
		out = s.out;
	if (!db || !out) {
		fprintf(stderr, "eidastats-report: no %s: give %s or set it in %s\n",
		        !db ? "database" : "report directory", !db ? "--db CONNINFO (or DBURI)" : "--out DIR",
		        s.file ? s.file : RPT_DEFAULT_CONFIG);
		rpt_settings_fini(&s);
		return EXIT_USAGE;
	}
	/* The mail keys are checked only with --mail, and before any report is made. */
	if (domail && ((rc = rpt_settings_check_mail(&s, err, sizeof err)) < 0 ||
	               (rc = rmail_check(&(struct rmail_opts){ .dir = out, .smtp_url = s.smtp_url,
	                        .smtp_from = s.smtp_from, .smtp_user = s.smtp_user,
	                        .smtp_password_file = s.smtp_password_file }, err, sizeof err)) < 0)) {
		fprintf(stderr, "eidastats-report: %s\n", err);
		rpt_settings_fini(&s);
		return EXIT_USAGE;
	}
	if ((rc = rpt_db_open(&dbh, db, err, sizeof err)) < 0) {
		fprintf(stderr, "eidastats-report: %s\n", err);
		rpt_db_close(&dbh);
		rpt_settings_fini(&s);
		return EXIT_FAIL;
	}
	rc = 0;
	if (network)
		rc = rpt_db_check_network(&dbh, node, network, err, sizeof err);
	else if (node)
		rc = rpt_db_check_node(&dbh, node, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "eidastats-report: %s\n", err);
		rpt_db_close(&dbh);
		rpt_settings_fini(&s);
		return EXIT_USAGE;
	}
	o.out = out;
	o.dry_run = dry;
	o.now = time(NULL);
	o.say = say;
	if (autom)
		rc = rpt_auto(&dbh, &o, &st, err, sizeof err);
	else if (month || year) {
		rc = rpt_make(&dbh, &o, &p, node, network, &st, err, sizeof err);
		/* A whole period's set is listed in DIR/index.html. */
		if (rc == 0 && !node && !dry)
			rc = rpt_index(&o, &st, err, sizeof err);
	}
	if (rc < 0)
		fprintf(stderr, "eidastats-report: %s\n", err);
	else if (autom && !st.periods)
		printf("every report in %s is current\n", out);
	/* Mail even when making a report failed: what is due from other periods still goes. */
	if (domail && mail(&s, dbh.pg, out, dry) != 0)
		rc = -1;
	rpt_db_close(&dbh);
	rpt_settings_fini(&s);
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}
