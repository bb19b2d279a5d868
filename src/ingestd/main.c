/*
 * eidastats-ingestd: the central webservice that receives statistics
 * payloads from the EIDA nodes and stores them in PostgreSQL with hll.
 * main() only reads the settings, wires the database pools to the HTTP
 * server and waits for signals: SIGHUP reloads the settings, SIGTERM and
 * SIGINT stop the service.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "eas.h"
#include "error.h"

#include "api.h"
#include "db.h"
#include "server.h"
#include "settings.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: eidastats-ingestd --db CONNINFO [--listen ADDR:PORT] [--config FILE] [OPTION...]\n"
	        "Receive EIDA statistics payloads over HTTP and store them in PostgreSQL (hll).\n"
	        "\n"
	        "  --db CONNINFO          libpq connection string or URI (required)\n"
	        "  --read-db CONNINFO     database for queries, e.g. a hot standby (default: --db)\n"
	        "  --listen ADDR:PORT     address to listen on (default " INGEST_DEFAULT_LISTEN ";\n"
	        "                         [::1]:PORT for IPv6, *:PORT for any, port 0 for a free one)\n"
	        "  --config FILE          YAML file with the same settings (db, listen, prefix, ...)\n"
	        "  --prefix PATH          URL prefix (default " INGEST_DEFAULT_PREFIX ")\n"
	        "  --workers N            HTTP threads and database connections (default %d)\n"
	        "  --max-body SIZE        largest request body (default 64MiB)\n"
	        "  --max-decompressed SIZE  largest body after gzip decoding (default 1GiB)\n"
	        "  --max-stats N          most statistics in one payload (default 2000000)\n"
	        "  --max-in-flight SIZE   request bodies held at once, all workers (default 2GiB)\n"
	        "  --timeout SECONDS      idle client connections are closed after (default %d)\n"
	        "  --max-connections N    concurrent client connections (default %d)\n"
	        "  --eas-keyring DIR      EIDA Authentication Service keys (a GnuPG home or key\n"
	        "                         files) for /dataselect/restricted (default: off)\n"
	        "  --runtime-dir DIR      private files such as the GnuPG home (default\n"
	        "                         $RUNTIME_DIRECTORY or " INGEST_DEFAULT_RUNTIME_DIR ")\n"
	        "  --max-token SIZE       largest token body (default 64KiB)\n"
	        "  --query-timeout SECONDS  longest query of the query API (default %d)\n"
	        "  --report-dir DIR       eidastats-report's output, served under PREFIX/reports/\n"
	        "                         (default: not served)\n"
	        "  --metrics-allow LIST   addresses/CIDRs that may read PREFIX/metrics\n"
	        "                         (default \"" PEER_LOOPBACK "\")\n"
	        "  --header-timeout SECONDS  silence allowed before a request's headers are in\n"
	        "                         (default %d)\n"
	        "  --max-connections-per-ip N  connections of one peer address (default %d; 0: none)\n"
	        "  --max-queries-per-client N  dataselect queries of one client at once, 429\n"
	        "                         beyond (default %d)\n"
	        "  --trusted-proxies LIST  addresses or CIDRs whose X-Forwarded-For is honoured\n"
	        "                         (default: none)\n"
	        "  --cache-max-age SECONDS  max-age of public answers on past months (default %d)\n"
	        "  -h, --help             show this help\n"
	        "  -V, --version          show the version\n",
	        INGEST_DEFAULT_WORKERS, INGEST_DEFAULT_TIMEOUT, INGEST_DEFAULT_MAX_CONNECTIONS,
	        INGEST_DEFAULT_QUERY_TIMEOUT, INGEST_DEFAULT_HEADER_TIMEOUT,
	        INGEST_DEFAULT_MAX_CONNECTIONS_PER_IP, INGEST_DEFAULT_MAX_QUERIES_PER_CLIENT,
	        INGEST_DEFAULT_CACHE_MAX_AGE);
}

/* The settings as the command line gives them: a file, then keys that override it. */
struct cli {
	const char *config_file;
	size_t n;
	struct {
		const char *key;
		const char *value;
	} set[64];
};

/*
 * Builds the settings from defaults, the file and the command line, then
 * imports the EAS keyring into the private home of this generation; 0 or
 * < 0 with err.
 */
static int build(struct ingest_config *cfg, const struct cli *cli, unsigned generation, char *err,
                 size_t errlen)
{
	char why[512];
	int rc;

	ingest_config_init(cfg);
	if (cli->config_file && (rc = ingest_config_load(cfg, cli->config_file, err, errlen)) < 0)
		return rc;
	for (size_t i = 0; i < cli->n; i++) {
		if ((rc = ingest_config_set(cfg, cli->set[i].key, cli->set[i].value, why, sizeof why)) < 0) {
			snprintf(err, errlen, "--%s", why);
			return rc;
		}
	}
	if ((rc = ingest_config_check(cfg, err, errlen)) < 0)
		return rc;
	return ingest_config_open_keyring(cfg, generation, err, errlen);
}

/* SIGHUP: a new snapshot, or the old one kept when the new settings are bad. */
static void reload(struct ingest_live *live, const struct cli *cli, unsigned generation)
{
	struct ingest_config next;
	const struct ingest_config *running;
	char err[1024], note[512], warn[512];
	const char *w;

	if (build(&next, cli, generation, err, sizeof err) < 0) {
		ingest_log("SIGHUP: reload refused, the running settings are kept: %s", err);
		ingest_config_fini(&next);
		return;
	}
	running = ingest_live_acquire(live);
	ingest_config_reload(running, &next, note, sizeof note);
	ingest_live_release(live, running);
	if ((w = ingest_config_warning(&next, warn, sizeof warn)))
		ingest_log("%s", w);
	ingest_live_replace(live, &next);
	ingest_log("SIGHUP: settings reloaded from %s%s%s",
	           cli->config_file ? cli->config_file : "the command line", note[0] ? "; " : "", note);
}

/* The end of the write sessions' opening and rehearsals at start (db_pool_warm), for the operator. */
static void warm_done(void *arg, const struct db_warm_report *r)
{
	char more[640] = "";

	(void)arg;
	if (r->rehearsal_err[0])
		snprintf(more, sizeof more, "; %u rehearsed an ingest, the others did not (%s)",
		         r->rehearsed, r->rehearsal_err);
	else if (r->no_node)
		snprintf(more, sizeof more, "; no ingest rehearsed (no node yet)");
	else if (r->rehearsed > 0)
		snprintf(more, sizeof more, ", %u rehearsed an ingest", r->rehearsed);
	if (r->err[0])
		ingest_log("database: %u of %u write sessions open at start%s; the others open on first use (%s)",
		           r->opened, r->size, more, r->err);
	else
		ingest_log("database: %u of %u write sessions open%s", r->opened, r->size, more);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "read-db", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-body", required_argument, NULL, 'B' },
		{ "max-decompressed", required_argument, NULL, 'D' },
		{ "max-stats", required_argument, NULL, 'S' },
		{ "max-in-flight", required_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "eas-keyring", required_argument, NULL, 'K' },
		{ "runtime-dir", required_argument, NULL, 'R' },
		{ "max-token", required_argument, NULL, 'T' },
		{ "query-timeout", required_argument, NULL, 'Q' },
		{ "report-dir", required_argument, NULL, 'o' },
		{ "metrics-allow", required_argument, NULL, 'm' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "max-connections-per-ip", required_argument, NULL, 'I' },
		{ "max-queries-per-client", required_argument, NULL, 'q' },
		{ "trusted-proxies", required_argument, NULL, 'P' },
		{ "cache-max-age", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ingest_config cfg;
	struct ingest_live *live;
	struct db_pool *pool, *read_pool;
	struct server *srv;
	struct cli cli = { 0 };
	char err[1024], warn[512];
	const char *w;
	sigset_t sigs;
	unsigned generation = 0;
	int opt, sig, rc;

	while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		const char *key = NULL;
		switch (opt) {
		case 'd': key = "db"; break;
		case 'r': key = "read_db"; break;
		case 'l': key = "listen"; break;
		case 'c': cli.config_file = optarg; break;
		case 'p': key = "prefix"; break;
		case 'w': key = "workers"; break;
		case 'B': key = "max_body"; break;
		case 'D': key = "max_decompressed"; break;
		case 'S': key = "max_stats"; break;
		case 'F': key = "max_in_flight"; break;
		case 't': key = "timeout"; break;
		case 'C': key = "max_connections"; break;
		case 'K': key = "eas_keyring"; break;
		case 'R': key = "runtime_dir"; break;
		case 'T': key = "max_token"; break;
		case 'Q': key = "query_timeout"; break;
		case 'o': key = "report_dir"; break;
		case 'm': key = "metrics_allow"; break;
		case 'H': key = "header_timeout"; break;
		case 'I': key = "max_connections_per_ip"; break;
		case 'q': key = "max_queries_per_client"; break;
		case 'P': key = "trusted_proxies"; break;
		case 'A': key = "cache_max_age"; break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("eidastats-ingestd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
		if (key && cli.n == sizeof cli.set / sizeof cli.set[0]) {
			fprintf(stderr, "eidastats-ingestd: too many options\n");
			return 1;
		}
		if (key) {
			cli.set[cli.n].key = key;
			cli.set[cli.n++].value = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "eidastats-ingestd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (build(&cfg, &cli, generation, err, sizeof err) < 0) {
		fprintf(stderr, "eidastats-ingestd: %s\n", err);
		ingest_config_fini(&cfg);
		return 1;
	}
	if ((w = ingest_config_warning(&cfg, warn, sizeof warn)))
		ingest_log("%s", w);
	if (!cfg.eas_keyring)
		ingest_log("no eas_keyring: restricted queries are off (/dataselect/restricted answers 401)");
	else
		ingest_log("eas_keyring %s: %zu key(s) imported into %s", cfg.eas_keyring,
		           eas_verifier_keys(cfg.eas), cfg.eas_home);

	/* Block the signals before any thread starts, so that only sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	pool = db_pool_new(cfg.db, cfg.workers, DB_ROLE_WRITE);
	if ((rc = db_pool_warm(pool, warm_done, NULL)) < 0)
		ingest_log("write sessions will open on first use (no thread to open them now: %s)", strerror(-rc));
	read_pool = db_pool_new(ingest_config_read_db(&cfg), cfg.workers, DB_ROLE_READ);
	live = ingest_live_new(&cfg);
	rc = server_start(&srv, api_routes, api_nroutes, live, pool, read_pool, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "eidastats-ingestd: %s\n", err);
		db_pool_free(read_pool);
		db_pool_free(pool);
		ingest_live_free(live);
		return 1;
	}
	ingest_log("listening on %s", server_address(srv));
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
#ifdef HAVE_SYSTEMD
			sd_notify(0, "RELOADING=1");
#endif
			reload(live, &cli, ++generation);
#ifdef HAVE_SYSTEMD
			sd_notify(0, "READY=1");
#endif
			continue;
		}
		break;
	}
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	ingest_log("stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	server_stop(srv);
	db_pool_free(read_pool);
	db_pool_free(pool);
	ingest_live_free(live);
	return 0;
}
