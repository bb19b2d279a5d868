/*
 * eidastats-ingestd: the central webservice that receives statistics
 * payloads from the EIDA nodes and stores them in PostgreSQL with hll.
 * main() only reads the settings, wires the database pool to the HTTP
 * server and waits for SIGTERM/SIGINT.
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

#include "error.h"

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
	        "  --listen ADDR:PORT     address to listen on (default " INGEST_DEFAULT_LISTEN ";\n"
	        "                         [::1]:PORT for IPv6, *:PORT for any, port 0 for a free one)\n"
	        "  --config FILE          YAML file with the same settings (db, listen, prefix, ...)\n"
	        "  --prefix PATH          URL prefix (default " INGEST_DEFAULT_PREFIX ")\n"
	        "  --workers N            HTTP threads and database connections (default %d)\n"
	        "  --max-body SIZE        largest request body (default 64MiB)\n"
	        "  --max-decompressed SIZE  largest body after gzip decoding (default 1GiB)\n"
	        "  --max-stats N          most statistics in one payload (default 2000000)\n"
	        "  --timeout SECONDS      idle client connections are closed after (default %d)\n"
	        "  --max-connections N    concurrent client connections (default %d)\n"
	        "  -h, --help             show this help\n"
	        "  -V, --version          show the version\n",
	        INGEST_DEFAULT_WORKERS, INGEST_DEFAULT_TIMEOUT, INGEST_DEFAULT_MAX_CONNECTIONS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-body", required_argument, NULL, 'B' },
		{ "max-decompressed", required_argument, NULL, 'D' },
		{ "max-stats", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ingest_config cfg;
	struct db_pool *pool;
	struct server *srv;
	const char *config_file = NULL;
	char err[1024];
	sigset_t sigs;
	int opt, sig, rc;

	/* The command line overrides the file: find --config first, apply the rest after it. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1)
		if (opt == 'c')
			config_file = optarg;
	ingest_config_init(&cfg);
	if (config_file && ingest_config_load(&cfg, config_file, err, sizeof err) < 0) {
		fprintf(stderr, "eidastats-ingestd: %s\n", err);
		ingest_config_fini(&cfg);
		return 1;
	}
	opterr = 1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		const char *key = NULL;
		switch (opt) {
		case 'd': key = "db"; break;
		case 'l': key = "listen"; break;
		case 'c': break;
		case 'p': key = "prefix"; break;
		case 'w': key = "workers"; break;
		case 'B': key = "max_body"; break;
		case 'D': key = "max_decompressed"; break;
		case 'S': key = "max_stats"; break;
		case 't': key = "timeout"; break;
		case 'C': key = "max_connections"; break;
		case 'h':
			usage(stdout);
			ingest_config_fini(&cfg);
			return 0;
		case 'V':
			printf("eidastats-ingestd %s\n", PACKAGE_VERSION);
			ingest_config_fini(&cfg);
			return 0;
		default:
			usage(stderr);
			ingest_config_fini(&cfg);
			return 1;
		}
		if (key && ingest_config_set(&cfg, key, optarg, err, sizeof err) < 0) {
			fprintf(stderr, "eidastats-ingestd: --%s\n", err);
			ingest_config_fini(&cfg);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "eidastats-ingestd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		ingest_config_fini(&cfg);
		return 1;
	}
	if (ingest_config_check(&cfg, err, sizeof err) < 0) {
		fprintf(stderr, "eidastats-ingestd: %s\n", err);
		ingest_config_fini(&cfg);
		return 1;
	}

	/* Block the signals before any thread starts, so that only sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	pool = db_pool_new(cfg.db, cfg.workers, DB_ROLE_WRITE);
	rc = server_start(&srv, &cfg, pool, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "eidastats-ingestd: %s\n", err);
		db_pool_free(pool);
		ingest_config_fini(&cfg);
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
			ingest_log("SIGHUP: nothing to reload; restart the service to change its settings");
			continue;
		}
		break;
	}
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	ingest_log("stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	server_stop(srv);
	db_pool_free(pool);
	ingest_config_fini(&cfg);
	return 0;
}
