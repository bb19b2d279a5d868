#include "config.h"

#include <stdio.h>

#include "cmd.h"

int cmd_aggregate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "eidastats aggregate: not built yet\n");
	return EXIT_USAGE;
}
