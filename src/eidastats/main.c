/*
 * main.c - the eidastats CLI: dispatches to a subcommand.  Installed also as
 * eida_stats_aggregator, under which name it behaves as `eidastats aggregate`
 * so that existing cron jobs keep working unchanged.
 */
#include "config.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: eidastats aggregate [-o DIR] [--token T] [--send-to URL] [--networks FILE|URL]\n"
	        "                           [--granularity month|day] [--version] [FILE...]\n"
	        "       eidastats hll add [RAW...|-] | union HEX... | inspect HEX...\n"
	        "       eidastats status [-c FILE | --socket PATH] [--json | --prometheus]\n"
	        "       eidastats --version\n");
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	if (strncmp(self, "eida_stats_aggregator", 21) == 0)
		return cmd_aggregate(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "aggregate") == 0)
		return cmd_aggregate(argc - 1, argv + 1);
	if (strcmp(argv[1], "hll") == 0)
		return cmd_hll(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0) {
		printf("eidastats %s\n", PACKAGE_VERSION);
		return EXIT_DONE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_DONE;
	}
	fprintf(stderr, "eidastats: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
