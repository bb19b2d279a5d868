#include "config.h"

#include <stdio.h>

#include "cmd.h"

int cmd_hll(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "eidastats hll: not built yet\n");
	return EXIT_USAGE;
}
