/*
 * cmd.h - the subcommands of the eidastats CLI.  Each takes the arguments
 * after its own name (argv[0] is the subcommand name) and returns the
 * process exit status documented in eidastats(1):
 *   0 done; 1 usage or configuration error; 2 an input file missing,
 *   unreadable or corrupt; 3 no statistics; 4 payload written but sending
 *   it failed; 5 the daemon could not be reached (status).
 */
#ifndef ES_CMD_H
#define ES_CMD_H

enum {
	EXIT_DONE = 0,
	EXIT_USAGE = 1,
	EXIT_INPUT = 2,
	EXIT_NOSTATS = 3,
	EXIT_SEND = 4,
	EXIT_UNREACHABLE = 5
};

/* `eidastats aggregate ...`, also what `eida_stats_aggregator ...` runs. */
int cmd_aggregate(int argc, char **argv);
/* `eidastats hll add|union|inspect ...`. */
int cmd_hll(int argc, char **argv);
/* `eidastats status [-c FILE | --socket PATH] [--json]`. */
int cmd_status(int argc, char **argv);

#endif
